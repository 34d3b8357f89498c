"""The CPU drivers: the chunks of every tensor of a call (tables.py), split across threads.

`<optimizer>_chunks` updates chunks [first, last): it finds each chunk's tensor, views the chunk of
each stream, and applies the optimizer's update at each index (indexed.py); it only moves memory.
`run` hands a call of one chunk to it directly, and a larger call to `<optimizer>_parallel`, a
parallel loop (prange) over the chunks: starting threads costs more than a small call itself
(hundreds of microseconds when the cores are busy). A chunk is one thread's work item and elements
never interact, so results are bit-identical for any thread count. Each `has_<state>` argument is
True or None: None compiles the loop without that state (tables.optional_stream_chunk).
"""

import os
import sys

import numba
from numba import njit, prange

from .. import runtime
from . import tables
from .indexed import adagrad_at, adam_at, rmsprop_at, sgd_at

# Elements per work item: enough to amortize finding the chunk's tensor, few enough that a large
# tensor splits evenly across threads. The native driver's grain is the same.
CHUNK = 1 << 15

_serial = njit(cache=True, error_model="numpy")
_parallel = njit(cache=True, parallel=True, error_model="numpy")


@_serial
def sgd_chunks(table, has_momentum_buffers, s, first, last):
    like = s.neg_lr
    for c in range(first, last):
        k, begin, end = tables.chunk(table, c, CHUNK)
        param = tables.stream_chunk(table, 0, k, begin, end, like)
        grad = tables.stream_chunk(table, 1, k, begin, end, like)
        buf = tables.optional_stream_chunk(has_momentum_buffers, table, 2, k, begin, end, like)
        for i in range(param.size):
            sgd_at(i, param, grad, buf, s)


@_serial
def adam_chunks(table, has_max_exp_avg_sqs, s, first, last):
    like = s.eps
    for c in range(first, last):
        k, begin, end = tables.chunk(table, c, CHUNK)
        param = tables.stream_chunk(table, 0, k, begin, end, like)
        grad = tables.stream_chunk(table, 1, k, begin, end, like)
        exp_avg = tables.stream_chunk(table, 2, k, begin, end, like)
        exp_avg_sq = tables.stream_chunk(table, 3, k, begin, end, like)
        vmax = tables.optional_stream_chunk(has_max_exp_avg_sqs, table, 4, k, begin, end, like)
        for i in range(param.size):
            adam_at(i, param, grad, exp_avg, exp_avg_sq, vmax, s)


@_serial
def rmsprop_chunks(table, has_momentum_buffers, has_grad_avgs, s, first, last):
    like = s.eps
    for c in range(first, last):
        k, begin, end = tables.chunk(table, c, CHUNK)
        param = tables.stream_chunk(table, 0, k, begin, end, like)
        grad = tables.stream_chunk(table, 1, k, begin, end, like)
        square_avg = tables.stream_chunk(table, 2, k, begin, end, like)
        buf = tables.optional_stream_chunk(has_momentum_buffers, table, 3, k, begin, end, like)
        grad_avg = tables.optional_stream_chunk(has_grad_avgs, table, 4, k, begin, end, like)
        for i in range(param.size):
            rmsprop_at(i, param, grad, square_avg, buf, grad_avg, s)


@_serial
def adagrad_chunks(table, s, first, last):
    like = s.eps
    for c in range(first, last):
        k, begin, end = tables.chunk(table, c, CHUNK)
        param = tables.stream_chunk(table, 0, k, begin, end, like)
        grad = tables.stream_chunk(table, 1, k, begin, end, like)
        state_sum = tables.stream_chunk(table, 2, k, begin, end, like)
        for i in range(param.size):
            adagrad_at(i, param, grad, state_sum, s)


@_parallel
def sgd_parallel(table, has_momentum_buffers, s):
    for c in prange(tables.chunk_count(table)):
        sgd_chunks(table, has_momentum_buffers, s, c, c + 1)


@_parallel
def adam_parallel(table, has_max_exp_avg_sqs, s):
    for c in prange(tables.chunk_count(table)):
        adam_chunks(table, has_max_exp_avg_sqs, s, c, c + 1)


@_parallel
def rmsprop_parallel(table, has_momentum_buffers, has_grad_avgs, s):
    for c in prange(tables.chunk_count(table)):
        rmsprop_chunks(table, has_momentum_buffers, has_grad_avgs, s, c, c + 1)


@_parallel
def adagrad_parallel(table, s):
    for c in prange(tables.chunk_count(table)):
        adagrad_chunks(table, s, c, c + 1)


_CHUNKS = {"sgd": sgd_chunks, "adam": adam_chunks, "rmsprop": rmsprop_chunks,
           "adagrad": adagrad_chunks}
_PARALLEL = {"sgd": sgd_parallel, "adam": adam_parallel, "rmsprop": rmsprop_parallel,
             "adagrad": adagrad_parallel}


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


def run(optimizer, presence, table, s):
    """Update every tensor of `table` (built with CHUNK) with `optimizer`'s rule, for the states
    present (presence: True or None per optional state, in stream order) and the step's scalars s."""
    chunks = int(table[tables.FIRST_CHUNK, -1])
    threads = 1 if chunks < 2 or _parallel_unsafe else _numba_threads()
    if threads > 1:
        if numba.get_num_threads() != threads:
            numba.set_num_threads(threads)
        _PARALLEL[optimizer](table, *presence, s)
    elif chunks >= 1:
        _CHUNKS[optimizer](table, *presence, s, 0, chunks)
