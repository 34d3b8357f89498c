"""The one dispatch point: which backend runs a step.

"auto" is the default backend, chosen once at import: PYGD_BACKEND (native | reference) if set,
else native when the extension imports, else the NumPy reference with a warning.
"""

import os
import warnings

from . import reference

try:
    from . import native
except ImportError as exc:  # the extension was not built, or cannot load here
    native = None
    native_error = f"{type(exc).__name__}: {exc}"
else:
    native_error = None

NAMES = ("auto", "native", "reference")


def _choose_default():
    wanted = os.environ.get("PYGD_BACKEND", "").strip().lower() or "auto"
    if wanted not in NAMES:
        warnings.warn(f"PYGD_BACKEND={wanted!r} is not one of {NAMES}; using 'auto'",
                      RuntimeWarning, stacklevel=3)
        wanted = "auto"
    if wanted == "reference":
        return reference
    if native is None:
        warnings.warn("pygd's native extension is not available "
                      f"({native_error}); falling back to the slow NumPy reference",
                      RuntimeWarning, stacklevel=3)
        return reference
    return native


default = _choose_default()
_by_name = {"auto": default, "native": native, "reference": reference}


def get(name):
    """The backend module for `name`."""
    backend = _by_name.get(name) if isinstance(name, str) else None
    if backend is None:
        if name == "native":
            raise RuntimeError(f"backend='native' is unavailable: {native_error}")
        raise ValueError(f"backend must be one of {NAMES}, got {name!r}")
    return backend
