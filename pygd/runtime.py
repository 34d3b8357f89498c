"""Threads, instruction sets, and what this installation runs.

The thread count of a CPU call follows, in order: `set_num_threads` (or threadpoolctl's limit on
pygd's pool, which sets the same count); the OpenMP limit in force on the calling thread where it
is not OpenMP's default (`threadpoolctl.threadpool_limits`, `omp_set_num_threads`,
`torch.set_num_threads`), then `OMP_NUM_THREADS`; then the cores this process may use (its CPU
affinity, capped by its cgroup's CPU quota). `info()["threads_source"]` names the rule that
decided. The same count drives Numba's threads for backend="numba".
"""

from __future__ import annotations

import operator
import os
from types import ModuleType
from typing import Any, Optional

from . import _backends
from ._version import __version__

_native: Optional[ModuleType] = _backends.native and _backends.native._native

# What pygd accepts from set_num_threads: more than this is no machine's core count.
MAX_THREADS = _native.max_threads if _native is not None else 4096

# Without the extension (the NumPy reference runs, on one thread) the count is only bookkeeping.
_setting_without_native: Optional[tuple[int, str]] = None


def set_num_threads(n: Optional[int]) -> None:
    """Threads each CPU call of pygd may use, in this process, from now on: 1 <= n <= MAX_THREADS.
    None hands the choice back to the environment (see the module's docstring)."""
    global _setting_without_native
    if n is not None:
        if isinstance(n, bool):
            raise TypeError("n must be an integer, got bool")
        try:
            n = operator.index(n)
        except TypeError:
            raise TypeError(f"n must be an integer or None, got {type(n).__name__}") from None
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if n > MAX_THREADS:
            raise ValueError(f"n must be <= {MAX_THREADS}, got {n}")
    _set_count(n, "set_num_threads")


def get_num_threads() -> int:
    """Threads a CPU call made now, on this thread, would use."""
    return _threads()[0]


def _threads() -> tuple[int, str]:
    """(threads, source) of a call made now on this thread."""
    if _native is not None:
        threads: tuple[int, str] = _native.threads()
        return threads
    if _setting_without_native is not None:
        return _setting_without_native
    return _usable_cores_without_native(), "affinity"


def _set_count(n: Optional[int], source: str) -> None:
    """Sets (n, source) as the count set through pygd; n None clears it."""
    global _setting_without_native
    if _native is not None:
        _native.set_threads(0 if n is None else n, source)
    else:
        _setting_without_native = None if n is None else (n, source)


def _count_setting() -> Optional[tuple[int, str]]:
    """The count set through pygd, (threads, source), or None: what _restore_count_setting takes."""
    if _native is not None:
        setting: Optional[tuple[int, str]] = _native.set_count()
        return setting
    return _setting_without_native


def _restore_count_setting(setting: Optional[tuple[int, str]]) -> None:
    if setting is None:
        _set_count(None, "set_num_threads")
    else:
        _set_count(*setting)


def _usable_cores_without_native() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_isa(isa: str) -> None:
    """Run the native kernels at instruction-set level `isa`: "scalar", "avx2" or "avx512" on
    x86-64, "scalar" or "neon" on aarch64 (``pygd.info()["isas"]`` lists the ones this machine runs;
    any other raises ValueError)."""
    if not isinstance(isa, str):
        raise TypeError(f"isa must be a string, got {type(isa).__name__}")
    if _native is None or _backends.native is None:
        raise RuntimeError(f"set_isa needs the native extension: {_backends.native_error}")
    _backends.native.select_isa(isa.strip().lower())


def info() -> dict[str, Any]:
    """What this installation runs: version, default backend, ISA chosen and supported; threads
    (what a call made now uses), threads_source (the rule that chose it: "set_num_threads",
    "threadpoolctl", "openmp", "OMP_NUM_THREADS", "cgroup_quota" or "affinity"), usable_cores;
    whether the count follows OpenMP's limit (openmp); whether the CUDA module is built
    (cuda_built), the CUDA devices it can use (cuda_devices: 0 without a GPU, a driver or the
    module) and, when there are none, why (cuda_error)."""
    cuda_devices, cuda_error = _backends.cuda.device_count()
    threads, source = _threads()
    return {
        "version": __version__,
        "backend": _backends.default.name,
        "isa": _native.isa() if _native is not None else None,
        "isas": _native.supported_isas() if _native is not None else [],
        "compiled_isas": _native.compiled_isas() if _native is not None else [],
        "threads": threads,
        "threads_source": source,
        "usable_cores": (_native.usable_cores()[0] if _native is not None
                         else _usable_cores_without_native()),
        "openmp": _native.has_openmp() if _native is not None else False,
        "native_error": _backends.native_error,
        "cuda_built": _backends.cuda.built(),
        "cuda_devices": cuda_devices,
        "cuda_error": cuda_error,
    }
