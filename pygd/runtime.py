"""Threads, instruction sets, and what this installation runs."""

import operator

from . import _backends
from ._version import __version__

_native = _backends.native and _backends.native._native
_threads_without_native = 1


def set_num_threads(n):
    """Threads each native call may use (default: the cores available to this process)."""
    global _threads_without_native
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an integer, got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if _native is not None:
        _native.set_num_threads(n)
    else:
        _threads_without_native = n


def get_num_threads():
    return _native.num_threads() if _native is not None else _threads_without_native


def set_isa(isa):
    """Run the native kernels at instruction-set level `isa` ("scalar", "avx2" or "avx512")."""
    if not isinstance(isa, str):
        raise TypeError(f"isa must be a string, got {type(isa).__name__}")
    if _native is None:
        raise RuntimeError(f"set_isa needs the native extension: {_backends.native_error}")
    _backends.native.select_isa(isa.strip().lower())


def info():
    """What this installation runs: version, default backend, ISA chosen and supported, threads;
    whether the CUDA module is built (cuda_built), the CUDA devices it can use (cuda_devices: 0
    without a GPU, a driver or the module) and, when there are none, why (cuda_error)."""
    built = _native is not None
    cuda_devices, cuda_error = _backends.cuda.device_count()
    return {
        "version": __version__,
        "backend": _backends.default.name,
        "isa": _native.isa() if built else None,
        "isas": _native.supported_isas() if built else [],
        "compiled_isas": _native.compiled_isas() if built else [],
        "threads": get_num_threads(),
        "openmp": _native.has_openmp() if built else False,
        "native_error": _backends.native_error,
        "cuda_built": _backends.cuda.built(),
        "cuda_devices": cuda_devices,
        "cuda_error": cuda_error,
    }
