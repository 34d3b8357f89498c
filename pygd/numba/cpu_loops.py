"""The CPU drivers: the chunks of every tensor of a call (tables.py), split across threads.

One loop for every optimizer: `chunks` updates chunks [first, last): it finds each chunk's tensor,
views the chunk of each stream, and applies the optimizer's update at each index (its `<name>_at`,
indexed.py, chosen by the type of the step's scalars: Numba compiles and caches the loop once per
optimizer); it only moves memory. `run`
hands a call of one chunk to it directly, and a larger call to `parallel_chunks`, a parallel loop
(prange) over the chunks: starting threads costs more than a small call itself (hundreds of
microseconds when the cores are busy). A chunk is one thread's work item and elements never
interact, so results are bit-identical for any thread count. `presence` holds True or None per
stream: None compiles the loop without that stream (tables.stream_chunks).
"""

import os
import sys

import numba
from numba import njit, prange

from .. import runtime
from . import indexed, tables

# Elements per work item: enough to amortize finding the chunk's tensor, few enough that a large
# tensor splits evenly across threads. The native driver's grain is the same.
CHUNK = 1 << 15

_serial = njit(cache=True, error_model="numpy")
_parallel = njit(cache=True, parallel=True, error_model="numpy")


@_serial
def chunks(table, presence, like, s, first, last):
    """Chunks [first, last) of the call's tensors; each chunk's streams viewed as `presence` says
    (tables.stream_chunks), each element updated by the update of the optimizer whose scalars `s`
    are (indexed.update_at: Numba compiles this loop once per optimizer, with its update inlined)."""
    for c in range(first, last):
        k, begin, end = tables.chunk(table, c, CHUNK)
        arrays = tables.stream_chunks(presence, table, k, begin, end, like)
        for i in range(arrays[0].size):
            indexed.update_at(i, arrays, s)


@_parallel
def parallel_chunks(table, presence, like, s):
    """Every chunk of the call, as a parallel loop over chunks."""
    for c in prange(tables.chunk_count(table)):
        chunks(table, presence, like, s, c, c + 1)


_loops = {"serial": chunks, "parallel": parallel_chunks}  # a test hook may wrap them

# True in a forked child whose Numba threading layer is, or would be, GNU OpenMP: a parallel loop
# there terminates the child (Numba's guard) or hangs in a team the parent's threads left behind
# (anyone's: torch's too). There the loops run on the calling thread; TBB and workqueue are safe.
_parallel_unsafe = False
_FORK_SAFE_LAYERS = ("tbb", "workqueue")


def _after_fork_in_child():
    global _parallel_unsafe
    if not sys.platform.startswith("linux"):
        return
    try:
        layer = numba.threading_layer()
    except ValueError:  # not started yet: the one it would start
        layer = numba.config.THREADING_LAYER
    _parallel_unsafe = layer not in _FORK_SAFE_LAYERS


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _numba_threads():
    """pygd's thread count (runtime.py), within what Numba's layer started with."""
    return max(1, min(runtime.get_num_threads(), numba.config.NUMBA_NUM_THREADS))


def run(presence, table, dtype, s):
    """Update every tensor of `table` (built with CHUNK) with the rule of the optimizer whose step's
    scalars `s` are (pygd.numba.scalars), for the streams
    present (presence: True or None per stream, in stream order), on arrays of `dtype` (np.float32
    or np.float64), with the step's scalars s."""
    chunk_total = int(table[tables.FIRST_CHUNK, -1])
    threads = 1 if chunk_total < 2 or _parallel_unsafe else _numba_threads()
    like = dtype(0)  # the element type, for the views of the streams
    if threads > 1:
        if numba.get_num_threads() != threads:
            numba.set_num_threads(threads)
        _loops["parallel"](table, presence, like, s)
    elif chunk_total >= 1:
        _loops["serial"](table, presence, like, s, 0, chunk_total)
