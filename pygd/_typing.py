"""The types of pygd's annotations and stubs (functional.pyi, optim/_classes.pyi), in one place.

Arrays: pygd updates float32 and float64 NumPy arrays, one array or a list/tuple of them (only
those: the checks refuse any other sequence). A step takes one dtype per call, which the
constrained type variable `F` says; optimizers, clipping and accumulation accept lists that mix
the two dtypes, which the bound type variable `A` says. A variable rather than a union inside the
list, because a list is invariant: `list[NDArray[np.float32]]` is not a list of the union.

Arrays on a GPU (CuPy, Numba, torch CUDA tensors), which backend="auto" and backend="numba" also
take, have no common static type; they are not part of these annotations.
"""

from typing import Any, Dict, List, Literal, Optional, Tuple, TypeVar, Union

import numpy as np
from numpy.typing import NDArray

FloatArray = Union[NDArray[np.float32], NDArray[np.float64]]

F = TypeVar("F", np.float32, np.float64)
# One call's arrays: an array, or a list/tuple of arrays of one dtype.
Arrays = Union[NDArray[F], List[NDArray[F]], Tuple[NDArray[F], ...]]

# A factored optimizer's state of one form (_specs.Stream.shape: Adafactor's row_vars, col_vars,
# variances): aligned with the params, None for a param of the other form (or for a whole bare call's).
FactorArrays = Union[NDArray[F], None, List[Optional[NDArray[F]]], Tuple[Optional[NDArray[F]], ...]]
# Mode C's param copy (docs/low-precision.md): float16 or ml_dtypes.bfloat16 arrays, which NumPy's
# typing cannot name (the native gather checks the dtype). The steps also take float16 and bfloat16
# params, grads and states, in the layouts of that page, which `F` does not say.
CopyArrays = Union[NDArray[Any], List[NDArray[Any]], Tuple[NDArray[Any], ...]]

A = TypeVar("A", bound=FloatArray)
# An array, or a list/tuple of arrays that may mix float32 and float64.
MixedArrays = Union[A, List[A], Tuple[A, ...]]

G = TypeVar("G", bound=Optional[FloatArray])
# An optimizer's grads: aligned with its params, None for a param that skips this step.
OptionalArrays = Union[FloatArray, List[G], Tuple[G, ...]]

# What backend= names (pygd._backends.NAMES; tests/test_typing.py checks that they agree).
Backend = Literal["auto", "native", "numba", "cuda", "reference"]

# A param group of pygd.optim: "params" and hyperparameters by torch.optim's names.
ParamGroup = Dict[str, Any]

__all__ = ["FloatArray", "F", "Arrays", "CopyArrays", "FactorArrays", "A", "MixedArrays", "G", "OptionalArrays",
           "Backend", "ParamGroup"]
