"""Arrays on a GPU as the CUDA and Numba backends take them: read through __cuda_array_interface__
(CuPy arrays, Numba device arrays, torch CUDA tensors) or DLPack (any other producer of CUDA memory).

`read` runs the one array checker (_validate.check_arrays) through this module's adapter, which
reads what the protocols say instead of NumPy's flags: the same checks in the same order, the same
problem tuples, so that _validate.buffer_error words the errors of every kind of call alike. It
touches no GPU: nothing here needs a driver. It returns what a launch needs: dtype, sizes, device
addresses per stream, the stream to run on, the streams to wait for, and the device (None where
only the CUDA runtime can tell, from the addresses).
"""

from __future__ import annotations

import collections
import ctypes
import math
import sys
from typing import Any, Optional

import numpy as np

from .. import _constants, _validate

Problem = _constants.BufferProblem
_ProblemTuple = tuple[int, int, int, int, int]

# Element types the kernels update, by NumPy dtype (__cuda_array_interface__'s typestr) and by
# DLPack (type code, bits): float16 and bfloat16 are updated in float32 arithmetic.
_DTYPE_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64",
                np.dtype(np.float16): "float16"}
_DLPACK_DTYPES = {(2, 32): "float32", (2, 64): "float64", (2, 16): "float16", (4, 16): "bfloat16"}
_DLPACK_TYPESTRS: dict[Optional[str], str] = {"float32": "<f4", "float64": "<f8", "float16": "<f2", "bfloat16": "<V2"}
_ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
# DLPack device types of memory a kernel can read: CUDA device memory, CUDA managed memory.
_DLPACK_GPU = (2, 13)

# One array as a launch sees it. dtype: a name above, or None for one the kernels do not take;
# typestr: as __cuda_array_interface__ writes it (for messages). device: None where unknown.
View = collections.namedtuple("View", "address shape dtype typestr strides read_only device")

# What a launch needs from a checked call. addresses: one list per stream (None where absent).
# stream: the cudaStream_t to launch on (0: the legacy default stream); wait_for: other streams the
# arrays name, whose work must finish first; devices: each array's device, None where unknown (the
# runtime is asked); keep: objects that must live until the launch is enqueued (DLPack capsules).
DeviceCall = collections.namedtuple("DeviceCall", "dtype sizes addresses stream wait_for devices keep")


def on_gpu(obj: object) -> bool:
    """Whether `obj` is an array in GPU memory (never a NumPy array)."""
    if isinstance(obj, np.ndarray):
        return False
    if hasattr(obj, "__cuda_array_interface__"):
        return True
    dlpack_device = getattr(obj, "__dlpack_device__", None)
    return dlpack_device is not None and bool(dlpack_device()[0] in _DLPACK_GPU)


def is_gpu_call(params: object) -> bool:
    """Whether a call's params (an array or a list/tuple of them) live on a GPU, judged by the
    first: then every array of the call must."""
    if isinstance(params, (list, tuple)):
        return bool(params) and on_gpu(params[0])
    return on_gpu(params)


def _torch_stream(obj: object) -> Optional[int]:
    """The current torch stream of a torch CUDA tensor's device (torch orders its work there; its
    __cuda_array_interface__ names no stream), or None for anything else."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(obj, torch.Tensor):
        return None
    stream: int = torch.cuda.current_stream(obj.device).cuda_stream
    return stream


def _interface_stream(interface: dict[str, Any]) -> Optional[int]:
    """The stream the producer's work on the array is ordered on, as a cudaStream_t (int), or None.
    The protocol's 1 and 2 (legacy and per-thread default streams) are those streams' handles
    (cudaStreamLegacy, cudaStreamPerThread); the legacy one is also 0, the spelling used here."""
    stream = interface.get("stream")
    return 0 if stream == 1 else stream


def _dlpack_device_id(obj: object) -> Optional[int]:
    dlpack_device = getattr(obj, "__dlpack_device__", None)
    if dlpack_device is None:
        return None
    kind, device = dlpack_device()
    return int(device) if kind in _DLPACK_GPU else None


class _DLDevice(ctypes.Structure):  # the DLPack ABI (dlpack.h), as far as it is read here
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):  # the head of a DLManagedTensor (DLPack < 1.0 capsules)
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


# A prototype of its own: setting argtypes on ctypes.pythonapi's would change it for the process.
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))


def _dlpack_view(obj: Any, device: int, stream: int, keep: list[object]) -> View:
    """The View of a DLPack array, exported for use on `stream` (its producer orders its own work
    before that stream's). The capsule is left unconsumed, so its destructor releases the export;
    it is kept in `keep` until the launch is enqueued."""
    capsule = obj.__dlpack__(stream=stream or 1)  # DLPack spells the legacy default stream 1, never 0
    keep.append(capsule)
    t = _DLTensor.from_address(_capsule_pointer(capsule, b"dltensor"))
    shape = tuple(t.shape[d] for d in range(t.ndim))
    strides = None
    if t.strides:  # in elements; the array interface's are in bytes
        itemsize = t.dtype.bits // 8
        strides = tuple(t.strides[d] * itemsize for d in range(t.ndim))
    dtype = _DLPACK_DTYPES.get((t.dtype.code, t.dtype.bits)) if t.dtype.lanes == 1 else None
    typestr = _DLPACK_TYPESTRS.get(dtype, f"<V{max(t.dtype.bits // 8, 1)}")
    return View((t.data or 0) + t.byte_offset, shape, dtype, typestr, strides, False, device)


def view(obj: Any, stream: int, keep: list[object]) -> Optional[View]:
    """`obj` as a View (see _dlpack_view for `stream` and `keep`), or None if it is not in GPU memory."""
    if isinstance(obj, np.ndarray):
        return None
    interface = getattr(obj, "__cuda_array_interface__", None)
    if interface is not None:
        typestr = interface["typestr"]
        dtype = np.dtype(typestr)
        address, read_only = interface["data"]
        return View(address, tuple(interface["shape"]), _DTYPE_NAMES.get(dtype) if dtype.isnative else None,
                    typestr, interface.get("strides"), bool(read_only), _dlpack_device_id(obj))
    device = _dlpack_device_id(obj)
    return None if device is None else _dlpack_view(obj, device, stream, keep)


def launch_stream(obj: object) -> int:
    """The stream a call whose first param is `obj` runs on: the one its producer orders its work
    on (torch's current stream, the array interface's stream), else the legacy default stream."""
    stream = _torch_stream(obj)
    if stream is None:
        interface = getattr(obj, "__cuda_array_interface__", None)
        stream = _interface_stream(interface) if interface is not None else None
    return stream or 0


class DeviceArrays:
    """The adapter through which _validate.check_arrays reads the arrays of a GPU call (see View):
    exported, where DLPack is how, for use on `stream`; `keep` holds what must live until the
    launch is enqueued. `dtypes`: the dtype names the caller's kernels take."""

    def __init__(self, stream: int, dtypes: tuple[str, ...] = tuple(_ITEMSIZE)) -> None:
        self.stream, self.dtypes = stream, dtypes
        self.keep: list[object] = []

    is_array = staticmethod(on_gpu)

    def facts(self, a: object) -> Optional[_validate.ArrayFacts]:
        v = view(a, self.stream, self.keep)
        if v is None:
            return None
        itemsize = _ITEMSIZE.get(v.dtype, 1)
        own = _torch_stream(a)
        own = own if own is not None else _interface_stream(getattr(a, "__cuda_array_interface__", {}))
        return _validate.ArrayFacts(v.address, v.shape, math.prod(v.shape), v.dtype, itemsize,
                                    _validate.c_contiguous(v.shape, v.strides, itemsize),
                                    v.address % itemsize == 0, v.read_only, v.device, own, v)

    @staticmethod
    def foreign(label: str, obj: object, k: int, where: int) -> _ProblemTuple:
        raise TypeError(f"{label} must be on the GPU like params (an array exposing "
                        f"__cuda_array_interface__ or DLPack on a CUDA device), got {type(obj).__name__}; "
                        "one call updates the arrays of one device")


def read(optimizer: str, streams: tuple[Any, ...], dtypes: tuple[str, ...] = tuple(_ITEMSIZE),
         stream: Optional[int] = None) -> tuple[Optional[_ProblemTuple], Optional[DeviceCall]]:
    """(problem, None) for the first unfit array, as _validate.check_arrays reports it, or
    (None, DeviceCall). TypeError for an array that is not on a GPU in a GPU call. `dtypes`: those
    the caller's kernels take; `stream`: the one it launches on (None: the params' producer's, see
    launch_stream)."""
    params = streams[0]
    if stream is None:
        first = params[0] if isinstance(params, (list, tuple)) and params else params
        stream = launch_stream(first) if on_gpu(first) else 0
    arrays = DeviceArrays(stream, dtypes)
    problem, call = _validate.check_arrays(optimizer, streams, arrays)
    if problem is not None:
        return problem, None
    assert call is not None  # no problem, so a call
    every = [f for row in call.facts if row is not None for f in row]
    wait_for = sorted({f.stream for f in every} - {None, stream})
    return None, DeviceCall(call.dtype, call.sizes, call.addresses, stream, wait_for,
                            [f.device for f in every], arrays.keep)


class Described:
    """A DLPack-only array as _validate.buffer_error reads arrays (through __cuda_array_interface__),
    for the messages that quote an array's dtype or shape."""

    def __init__(self, v: View) -> None:
        self.__cuda_array_interface__ = {"version": 3, "shape": v.shape, "typestr": v.typestr,
                                         "data": (v.address, v.read_only), "strides": v.strides}
