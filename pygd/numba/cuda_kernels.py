"""The CUDA drivers: one kernel launch updates every tensor of a call, on the GPU that holds them.

Block b updates chunk b of the tensor table (tables.py): CHUNK elements of one tensor, which its
threads stride through so that neighbouring threads touch neighbouring elements (coalesced loads
and stores). The update at each index is the same function the CPU loops run (indexed.py); Numba
compiles it, and the element function under it, as CUDA device functions.

A kernel argument cannot be None, so where the CPU loops take `presence` (True or None per stream)
as an argument, here each pattern of present streams is a kernel of its own, made once by `kernel`:
the presence is a constant of the compiled code, so an absent state costs nothing per element.
"""

import collections
import functools

from numba import config, cuda

from . import indexed, tables

# Threads per block. The CUDA simulator runs each thread as a Python thread: fewer there, so that
# its tests stay fast and still cover tensors of several blocks at small sizes.
THREADS = 32 if config.ENABLE_CUDASIM else 256
CHUNK = THREADS * 8    # elements per block: 8 per thread keeps enough loads in flight

_kernel = cuda.jit(cache=True)


@functools.cache
def kernel(presence):
    """The kernel for calls whose streams are present as `presence` says (True or None per stream),
    for every optimizer: the update at each index is that of the optimizer whose step's scalars
    the kernel receives (indexed.update_at picks it while typing), so Numba compiles one kernel per
    optimizer and pattern of present streams."""
    @_kernel
    def update(table, like, s):
        k, begin, end = tables.chunk(table, cuda.blockIdx.x, CHUNK)
        arrays = tables.stream_chunks(presence, table, k, begin, end, like)
        for i in range(cuda.threadIdx.x, arrays[0].size, cuda.blockDim.x):
            indexed.update_at(i, arrays, s)
    return update


# Device copies of recent tables, by content. A training loop steps the same tensors every time,
# so after its first step a launch needs no allocation and no host-to-device copy for its table.
_RECENT_TABLES = 32
_device_tables: collections.OrderedDict[bytes, object] = collections.OrderedDict()


def _device_table(table):
    if config.ENABLE_CUDASIM:
        # The simulator hands a NumPy argument to a kernel wrapped in an object that compiled
        # functions cannot take (the kernels' helpers are compiled: tables.py); a memoryview
        # passes through as it is, and those helpers index it as they index an array.
        return memoryview(table)
    key = table.tobytes()
    device_table = _device_tables.pop(key, None)
    if device_table is None:
        device_table = cuda.to_device(table)
    _device_tables[key] = device_table
    if len(_device_tables) > _RECENT_TABLES:
        _device_tables.popitem(last=False)
    return device_table


def launch(presence, table, dtype, s, wait_for=()):
    """Run the kernel of the optimizer whose step's scalars `s` are, for the streams present
    (presence: True or None per stream), over the tensors of `table` (built with CHUNK) of `dtype`,
    on the legacy default stream; returns at once. wait_for: handles of CUDA streams whose pending
    work on the arrays must finish first."""
    for stream in wait_for:
        cuda.external_stream(stream).synchronize()
    blocks = int(table[tables.FIRST_CHUNK, -1])
    if blocks:
        kernel(presence)[blocks, THREADS](_device_table(table), dtype(0), s)
