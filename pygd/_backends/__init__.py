"""The one dispatch point: which backend runs a step.

"auto" is the default backend, chosen once at import: PYGD_BACKEND (native | numba | reference) if
set, else native when the extension imports, else the NumPy reference with a warning. The numba
backend is imported on first use, so `import pygd` never needs numba (an optional extra).
Under "auto", a call whose params are on a GPU goes to the CUDA backend (cuda.py) instead.
"""

import os
import warnings

import numpy as np

from . import cuda, reference

try:
    from . import native
except ImportError as exc:  # the extension was not built, or cannot load here
    native = None
    native_error = f"{type(exc).__name__}: {exc}"
else:
    native_error = None

NAMES = ("auto", "native", "numba", "reference")


def _choose_default():
    wanted = os.environ.get("PYGD_BACKEND", "").strip().lower() or "auto"
    if wanted not in NAMES:
        warnings.warn(f"PYGD_BACKEND={wanted!r} is not one of {NAMES}; using 'auto'",
                      RuntimeWarning, stacklevel=3)
        wanted = "auto"
    if wanted == "reference":
        return reference
    if wanted == "numba":
        try:
            return _load_numba()
        except RuntimeError as exc:
            warnings.warn(f"PYGD_BACKEND=numba: {exc}; using 'auto'", RuntimeWarning, stacklevel=3)
    if native is None:
        warnings.warn("pygd's native extension is not available "
                      f"({native_error}); falling back to the slow NumPy reference",
                      RuntimeWarning, stacklevel=3)
        return reference
    return native


def _load_numba():
    """The numba backend module, imported on first use."""
    try:
        from . import numba as backend
    except ImportError as exc:
        raise RuntimeError(f"backend='numba' is unavailable: {exc}") from None
    _by_name["numba"] = backend
    return backend


_by_name = {"native": native, "reference": reference}
default = _choose_default()
_by_name["auto"] = default


def get(name):
    """The backend module for `name`."""
    backend = _by_name.get(name) if isinstance(name, str) else None
    if backend is None:
        if name == "numba":
            return _load_numba()
        if name == "native":
            raise RuntimeError(f"backend='native' is unavailable: {native_error}")
        raise ValueError(f"backend must be one of {NAMES}, got {name!r}")
    return backend


def for_call(name, params):
    """The backend for a call on `params`: get(name), except that "auto" sends params on a GPU to
    the CUDA backend. NumPy arrays pass with one type check."""
    if name == "auto":
        first = params[0] if type(params) is list and params else params
        if type(first) is not np.ndarray and cuda.cuda_arrays.is_gpu_call(params):
            return cuda
    return get(name)
