"""The native backend: pygd._native, the C++ kernels (csrc/). Argument plumbing only.

The optimizer functions are the extension's own: each takes the streams tuple, the step and the
validated hyperparameters (a tuple from _specs.OptimizerSpec.pack, read by name), checks the
arrays, releases the GIL and runs one multi-threaded pass over every tensor of the list, or returns
the problem tuple (see _validate) for an unfit array.
"""

from __future__ import annotations

import os
import platform
import warnings
from collections.abc import Callable
from typing import Any, Optional

from .. import _native
from .._specs import KERNELS

name = "native"


# Each kernel's step, by kernel name (the backends' common interface, see _backends/__init__.py).
steps = {kernel: getattr(_native, kernel) for kernel in KERNELS}
# probe((target, source, extra1, extra2), scale): target += scale * source, and extra1, extra2 (each
# optional) likewise, in place: the memory traffic of a fused update, for bandwidth measurements.
probe = _native.probe

# Gradient tools (see reference.py for their arguments).
grad_norm = _native.grad_norm
grad_scale = _native.grad_scale
grad_clamp = _native.grad_clamp
grad_accumulate = _native.grad_accumulate

# For pygd.torch, which runs the kernels over torch tensors by address: its PointerTable of
# watched tensors, list comparison by identity, each kernel's (written, optional) stream masks.
PointerTable = _native.PointerTable
same_objects = _native.same_objects
stream_masks = _native.stream_masks

_checks: dict[str, Callable[[tuple[Any, ...]], Optional[tuple[int, int, int, int, int]]]] = {
    kernel: getattr(_native, f"check_{kernel}") for kernel in KERNELS}


def check(optimizer: str, streams: tuple[Any, ...]) -> Optional[tuple[int, int, int, int, int]]:
    """The array checks of `optimizer`'s call alone: None, or the problem tuple."""
    return _checks[optimizer](streams)


def _machine_isas(machine: str) -> tuple[str, ...]:
    """The ISA levels, ascending, that a build for `machine` (platform.machine()) can have."""
    machine = machine.lower()
    if machine in ("x86_64", "amd64"):
        return ("scalar", "avx2", "avx512")
    if machine in ("aarch64", "arm64"):
        return ("scalar", "neon")  # NEON is baseline there: every aarch64 build has it
    return ("scalar",)


# This architecture's levels (what PYGD_ISA and set_isa name); the build and CPU may run fewer.
ISAS = _machine_isas(platform.machine())


def select_isa(isa: str) -> None:
    """Use `isa` for the next calls; ValueError if this build or CPU cannot run it."""
    if not _native.select_isa(isa):
        raise ValueError(f"isa must be one of {_native.supported_isas()} on this machine, got {isa!r}")


def _apply_isa_cap() -> None:
    """PYGD_ISA=<level> caps the level chosen at import (scalar|avx2|avx512 on x86-64, scalar|neon on
    aarch64); unset or empty: the best."""
    cap = os.environ.get("PYGD_ISA", "").strip().lower()
    if not cap:
        return
    if cap not in ISAS:
        warnings.warn(f"PYGD_ISA={cap!r} is not one of {ISAS}; using the best available level",
                      RuntimeWarning, stacklevel=3)
        return
    allowed = ISAS[: ISAS.index(cap) + 1]
    best = [isa for isa in _native.supported_isas() if isa in allowed][-1]
    _native.select_isa(best)


_apply_isa_cap()


def _register_bfloat16() -> None:
    """Lets the optimizers take ml_dtypes.bfloat16 arrays (NumPy has no bfloat16 of its own)."""
    try:
        import ml_dtypes
    except ImportError:
        return
    import numpy as np
    _native.set_bfloat16_type(np.dtype(ml_dtypes.bfloat16).num)


_register_bfloat16()
