"""The one dispatch point: which backend runs a call (steps, norms, clipping, accumulation).

`backend=` names one of NAMES everywhere. "auto" is the default backend, chosen once at import:
PYGD_BACKEND (native | numba | reference) if set, else native when the extension imports, else the
NumPy reference with a warning; under "auto" a step whose params are on a GPU goes to the CUDA
backend (cuda.py) instead. A backend named explicitly (in backend= or PYGD_BACKEND) that cannot
run here raises, as does a name that is none of these: nothing falls back silently. The numba
backend is imported on first use, so `import pygd` never needs numba (an optional extra).

Every backend module has the same interface: `steps`, each kernel's step by kernel name
(`steps[kernel](streams, step, hparams)`, hparams the tuple _specs.OptimizerSpec.pack builds; it
returns None, or the problem tuple of an unfit array, which _validate words), and
`check(kernel, streams)`, the array checks alone. Those with gradient tools (all but cuda) add
grad_norm, grad_scale, grad_clamp and grad_accumulate.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from types import ModuleType
from typing import Optional

import numpy as np

from . import cuda, cuda_arrays, reference


def _why_not_loaded(exc: ImportError) -> str:
    """Why pygd._native did not import, in words that point at the cause: a missing module gives
    Python's "partially initialized module ... (most likely due to a circular import)", which
    blames the wrong thing."""
    if importlib.util.find_spec("pygd._native") is None:
        return ("pygd._native is not built: no compiled extension next to pygd/__init__.py (install "
                "pygd where a C++ compiler is, or `pip install -e .` in a checkout)")
    return f"{type(exc).__name__}: {exc}"  # built, but it cannot load here


native: Optional[ModuleType]
native_error: Optional[str]
try:
    from . import native
except ImportError as exc:  # the extension was not built, or cannot load here
    native = None
    native_error = _why_not_loaded(exc)
else:
    native_error = None

NAMES = ("auto", "native", "numba", "cuda", "reference")
# What PYGD_BACKEND may name: a default for every call, so not "cuda" (NumPy arrays are not on a GPU).
DEFAULT_NAMES = ("auto", "native", "numba", "reference")


def _choose_default() -> ModuleType:
    wanted = os.environ.get("PYGD_BACKEND", "").strip().lower() or "auto"
    if wanted not in DEFAULT_NAMES:
        raise ImportError(f"PYGD_BACKEND={wanted!r} is not one of {DEFAULT_NAMES}")
    if wanted == "reference":
        return reference
    if wanted == "numba":
        try:
            return _load_numba()
        except RuntimeError as exc:
            raise ImportError(f"PYGD_BACKEND=numba: {exc}") from None
    if wanted == "native" and native is None:
        raise ImportError(f"PYGD_BACKEND=native: the native extension is not available ({native_error})")
    if native is None:
        warnings.warn("pygd's native extension is not available "
                      f"({native_error}); falling back to the slow NumPy reference",
                      RuntimeWarning, stacklevel=3)
        return reference
    return native


def _load_numba() -> ModuleType:
    """The numba backend module, imported on first use."""
    try:
        from . import numba as backend
    except ImportError as exc:
        raise RuntimeError(f"backend='numba' is unavailable: {exc}") from None
    _by_name["numba"] = backend
    return backend


_by_name: dict[str, Optional[ModuleType]] = {"native": native, "cuda": cuda, "reference": reference}
default = _choose_default()
_by_name["auto"] = default


def get(name: object) -> ModuleType:
    """The backend module for `name`."""
    backend = _by_name.get(name) if isinstance(name, str) else None
    if backend is None:
        if name == "numba":
            return _load_numba()
        if name == "native":
            raise RuntimeError(f"backend='native' is unavailable: {native_error}")
        raise ValueError(f"backend must be one of {NAMES}, got {name!r}")
    return backend


def tools(name: object) -> ModuleType:
    """The backend module for the gradient tools (norms, clipping, accumulation): get(name), where
    "auto" is the default backend; ValueError for one that has none (cuda: use the arrays' own
    library on a GPU)."""
    module = default if name == "auto" else get(name)
    if not hasattr(module, "grad_norm"):
        raise ValueError(f"backend {name!r} has no gradient tools (norms, clipping, accumulation); "
                         "use 'native', 'numba' or 'reference'")
    return module


def for_call(name: object, params: object) -> ModuleType:
    """The backend for a call on `params`: get(name), except that "auto" sends params on a GPU to
    the CUDA backend. NumPy arrays pass with one type check."""
    if name == "auto":
        first = params[0] if type(params) is list and params else params
        if type(first) is not np.ndarray and cuda_arrays.is_gpu_call(params):
            return cuda
    return get(name)
