"""Arrays on a GPU, seen through __cuda_array_interface__ (Numba device arrays, CuPy arrays, torch
CUDA tensors): which calls are GPU calls, and their checks.

`read` makes the checks of _validate.check_streams, in the same order and with the same problem
tuples, on the interface instead of NumPy's flags, so that _validate.buffer_error words the errors
of both kinds of call alike. It also returns what the kernels need: sizes and device addresses.
"""

import collections
import math

import numpy as np

from .. import _validate

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
Problem = _validate.BufferProblem

# __cuda_array_interface__["stream"] values that need no wait before a launch on the legacy
# default stream (None: no stream given; 1: the legacy default stream; 2: the per-thread default
# stream, which synchronizes with the legacy one). 0 is not allowed by the protocol.
_ORDERED_STREAMS = (None, 1, 2)


def is_device_array(obj):
    return hasattr(obj, "__cuda_array_interface__") and not isinstance(obj, np.ndarray)


def is_device_call(streams):
    """Whether the call's first parameter lives on a GPU: then every array of the call must."""
    params = streams[0]
    if isinstance(params, (list, tuple)):
        return bool(params) and is_device_array(params[0])
    return is_device_array(params)


# What the kernels need from a checked call: the dtype, each tensor's size, each stream's device
# addresses (None for an absent stream), and the handles of the CUDA streams to wait for.
DeviceCall = collections.namedtuple("DeviceCall", "dtype sizes addresses wait_for")


def read(optimizer, streams):
    """(problem, None) for the first unfit array, as _validate.check_streams reports it, or
    (None, DeviceCall). TypeError for an array that is not on a GPU in a GPU call."""
    names, optional = _validate.STREAMS[optimizer], _validate.OPTIONAL_STREAMS[optimizer]
    lists = []
    for k, stream in enumerate(streams):
        if stream is None and names[k] in optional:
            lists.append(None)
            continue
        if not (is_device_array(stream) or isinstance(stream, (list, tuple))):
            return (Problem.NOT_SEQUENCE, k, -1, -1, -1), None
        lists.append([stream] if is_device_array(stream) else stream)
        if k > 0 and len(lists[k]) != len(lists[0]):
            return (Problem.LENGTH, k, -1, -1, -1), None

    dtype, shapes, spans, addresses, wait_for = None, [], [], [], set()
    for k, arrays in enumerate(lists):
        if arrays is None:
            addresses.append(None)
            continue
        bare = is_device_array(streams[k])
        row = []
        for i, a in enumerate(arrays):
            where = -1 if bare else i
            interface = getattr(a, "__cuda_array_interface__", None)
            if interface is None or isinstance(a, np.ndarray):
                label = names[k] if bare else f"{names[k]}[{i}]"
                raise TypeError(f"{label} must be on the GPU like params (an array exposing "
                                f"__cuda_array_interface__), got {type(a).__name__}; one call "
                                "updates the arrays of one device")
            a_dtype = np.dtype(interface["typestr"])
            if a_dtype not in _FLOATS or not a_dtype.isnative:
                return (Problem.DTYPE, k, where, -1, -1), None
            dtype = a_dtype if dtype is None else dtype
            if a_dtype != dtype:
                return (Problem.DTYPE_MISMATCH, k, where, -1, -1), None
            shape = tuple(interface["shape"])
            if k == 0:
                shapes.append(shape)
            elif shape != shapes[i]:
                return (Problem.SHAPE, k, where, -1, -1), None
            if not _validate.c_contiguous(shape, interface.get("strides"), dtype.itemsize):
                return (Problem.NOT_CONTIGUOUS, k, where, -1, -1), None
            address, read_only = interface["data"]
            if address % dtype.itemsize:
                return (Problem.MISALIGNED, k, where, -1, -1), None
            written = k != _validate.READ_ONLY_STREAM
            if written and read_only:
                return (Problem.READ_ONLY, k, where, -1, -1), None
            size = math.prod(shape)
            if size:
                spans.append((address, address + size * dtype.itemsize, k, where, written))
            row.append(address)
            if interface.get("stream") not in _ORDERED_STREAMS:
                wait_for.add(interface["stream"])
        addresses.append(row)
    problem = _validate._find_overlap(spans)
    if problem is not None:
        return problem, None
    return None, DeviceCall(dtype, [math.prod(s) for s in shapes], addresses, wait_for)
