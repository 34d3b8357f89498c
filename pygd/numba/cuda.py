"""The CUDA drivers: one kernel launch updates every tensor of a call, on the GPU that holds them.

Block b updates chunk b of the tensor table (tables.py): CHUNK elements of one tensor, which its
threads stride through so that neighbouring threads touch neighbouring elements (coalesced loads
and stores). The update at each index is the same function the CPU loops run (indexed.py); Numba
compiles it, and the element function under it, as CUDA device functions.

A kernel argument cannot be None, so where the CPU drivers take `has_<state>` = True or None, here
each pattern of present states is a kernel of its own, made once by the factories below: the
presence is a constant of the compiled code, so Numba compiles only the branch taken, and an absent
state costs nothing per element.
"""

import collections
import functools

from numba import config, cuda

from . import tables
from .indexed import adagrad_at, adam_at, rmsprop_at, sgd_at

# Threads per block. The CUDA simulator runs each thread as a Python thread: fewer there, so that
# its tests stay fast and still cover tensors of several blocks at small sizes.
THREADS = 32 if config.ENABLE_CUDASIM else 256
CHUNK = THREADS * 8    # elements per block: 8 per thread keeps enough loads in flight

_kernel = cuda.jit(cache=True)


@functools.cache
def sgd_kernel(has_momentum_buffers):
    @_kernel
    def sgd(table, s):
        k, begin, end = tables.chunk(table, cuda.blockIdx.x, CHUNK)
        like = s.neg_lr
        param = tables.stream_chunk(table, 0, k, begin, end, like)
        grad = tables.stream_chunk(table, 1, k, begin, end, like)
        buf = tables.stream_chunk(table, 2, k, begin, end, like) if has_momentum_buffers else None
        for i in range(cuda.threadIdx.x, param.size, cuda.blockDim.x):
            sgd_at(i, param, grad, buf, s)
    return sgd


@functools.cache
def adam_kernel(has_max_exp_avg_sqs):
    @_kernel
    def adam(table, s):
        k, begin, end = tables.chunk(table, cuda.blockIdx.x, CHUNK)
        like = s.eps
        param = tables.stream_chunk(table, 0, k, begin, end, like)
        grad = tables.stream_chunk(table, 1, k, begin, end, like)
        exp_avg = tables.stream_chunk(table, 2, k, begin, end, like)
        exp_avg_sq = tables.stream_chunk(table, 3, k, begin, end, like)
        vmax = tables.stream_chunk(table, 4, k, begin, end, like) if has_max_exp_avg_sqs else None
        for i in range(cuda.threadIdx.x, param.size, cuda.blockDim.x):
            adam_at(i, param, grad, exp_avg, exp_avg_sq, vmax, s)
    return adam


@functools.cache
def rmsprop_kernel(has_momentum_buffers, has_grad_avgs):
    @_kernel
    def rmsprop(table, s):
        k, begin, end = tables.chunk(table, cuda.blockIdx.x, CHUNK)
        like = s.eps
        param = tables.stream_chunk(table, 0, k, begin, end, like)
        grad = tables.stream_chunk(table, 1, k, begin, end, like)
        square_avg = tables.stream_chunk(table, 2, k, begin, end, like)
        buf = tables.stream_chunk(table, 3, k, begin, end, like) if has_momentum_buffers else None
        grad_avg = tables.stream_chunk(table, 4, k, begin, end, like) if has_grad_avgs else None
        for i in range(cuda.threadIdx.x, param.size, cuda.blockDim.x):
            rmsprop_at(i, param, grad, square_avg, buf, grad_avg, s)
    return rmsprop


@functools.cache
def adagrad_kernel():
    @_kernel
    def adagrad(table, s):
        k, begin, end = tables.chunk(table, cuda.blockIdx.x, CHUNK)
        like = s.eps
        param = tables.stream_chunk(table, 0, k, begin, end, like)
        grad = tables.stream_chunk(table, 1, k, begin, end, like)
        state_sum = tables.stream_chunk(table, 2, k, begin, end, like)
        for i in range(cuda.threadIdx.x, param.size, cuda.blockDim.x):
            adagrad_at(i, param, grad, state_sum, s)
    return adagrad


KERNELS = {"sgd": sgd_kernel, "adam": adam_kernel, "rmsprop": rmsprop_kernel,
           "adagrad": adagrad_kernel}

# Device copies of recent tables, by content. A training loop steps the same tensors every time,
# so after its first step a launch needs no allocation and no host-to-device copy for its table.
_RECENT_TABLES = 32
_device_tables = collections.OrderedDict()


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


def launch(optimizer, presence, table, s, wait_for=()):
    """Run `optimizer`'s kernel for the states present (presence: True or None per optional state)
    over the tensors of `table` (built with CHUNK), on the legacy default stream; returns at once.
    wait_for: handles of CUDA streams whose pending work on the arrays must finish first."""
    for stream in wait_for:
        cuda.external_stream(stream).synchronize()
    blocks = int(table[tables.FIRST_CHUNK, -1])
    if blocks:
        KERNELS[optimizer](*presence)[blocks, THREADS](_device_table(table), s)
