"""The codes the native extension returns, read from it by name (csrc/bindings/constants.cpp):
what is wrong with a call's arrays (BufferProblem), which norm a reduction takes (NormKind), what
a PointerTable's gather found (GatherResult). Without the extension nothing native returns them;
the names are then numbered here, and only the Python backends use them."""

from __future__ import annotations

import enum
from types import ModuleType
from typing import Any, Optional

_native: Optional[ModuleType]
try:
    from . import _native
except ImportError:
    _native = None

_NAMES = {
    # (the enum, its names: where the extension is built they must be exactly its own)
    "problems": ("BufferProblem", ("NOT_SEQUENCE", "LENGTH", "NOT_ARRAY", "DTYPE", "DTYPE_MISMATCH",
                                   "SHAPE", "NOT_CONTIGUOUS", "MISALIGNED", "READ_ONLY", "OVERLAP")),
    "norm_kinds": ("NormKind", ("L2", "L1", "INF", "POWER")),
    "gather_results": ("GatherResult", ("NO_GRAD", "GRAD_SLOW", "PARAM_CHANGED", "STATE_CHANGED",
                                        "STEP_CHANGED")),
}


# Any: the members are the extension's, read at import, which a type checker cannot see.
def _enum(attribute: str) -> Any:
    name, names = _NAMES[attribute]
    exported = getattr(_native, attribute, None) if _native is not None else None
    if exported is None:
        return enum.IntEnum(name, names, module=__name__)
    if set(exported) != set(names):
        raise ImportError(f"pygd._native's {attribute} are {sorted(exported)}; pygd/_constants.py "
                          f"knows {sorted(names)}: rebuild pygd")
    return enum.IntEnum(name, dict(exported), module=__name__)


BufferProblem = _enum("problems")
NormKind = _enum("norm_kinds")
GatherResult = _enum("gather_results")
