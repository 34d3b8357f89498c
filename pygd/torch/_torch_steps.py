"""pygd.torch's classes whose step is torch.optim's own, so that the import switch is total: every
torch.optim class has a pygd.torch namesake.

LBFGS, SparseAdam and Muon reuse torch's implementation by design: LBFGS's work is its line
search and history (dot products and closures, not one elementwise pass), SparseAdam's is torch's
sparse indexing, and Muon's is its Newton-Schulz matmuls, which BLAS already runs at speed; an
elementwise kernel would gain nothing measurable there. `pygd_routes` says where each param ran,
and the results, state and state_dict are torch's own. (A class whose kernel is still to come
would set `pygd_pending`: its first step warns, TorchFallbackWarning. None is pending now.)
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Callable, ClassVar, Optional, overload

import torch

from ._fallback import Routes, TorchFallbackWarning, torch_class

__all__ = ["LBFGS", "SparseAdam", "Muon"]

if TYPE_CHECKING:
    _Optimizer = torch.optim.Optimizer
else:
    _Optimizer = object


class _TorchSteps(_Optimizer):
    """torch's own step, with pygd_routes (and, for a class pygd has no kernel for yet, a warning)."""

    pygd_reason: ClassVar[str]  # why torch's implementation runs
    pygd_pending: ClassVar[bool] = False  # whether a native kernel is still to come (warns once)

    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """torch's own step (after warning once, where pygd's kernel is still to come)."""
        if self.pygd_pending and not self.__dict__.get("_pygd_warned"):
            self.__dict__["_pygd_warned"] = True
            base = torch_class(type(self))
            warnings.warn(f"pygd.torch.{type(self).__name__}: every param is updated by "
                          f"{base.__module__}.{base.__name__}'s own implementation ({self.pygd_reason}). "
                          "See the optimizer's `pygd_routes`.", TorchFallbackWarning, stacklevel=2)
        loss: Optional[float] = super().step(closure)
        return loss

    @property
    def pygd_routes(self) -> Routes:
        """Where each param runs: torch, with the reason, or skipped where it has no grad (by index
        in the optimizer, as in its state_dict)."""
        to_torch: dict[int, str] = {}
        skipped: list[int] = []
        index = 0
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    skipped.append(index)
                else:
                    to_torch[index] = self.pygd_reason
                index += 1
        return Routes((), to_torch, tuple(skipped))


def _document(cls: type) -> type:
    base = torch_class(cls)
    cls.__doc__ = (f"pygd.torch's {base.__name__}: :class:`{base.__module__}.{base.__name__}` itself "
                   f"(its arguments, state, state_dict, hooks and step), {cls.pygd_reason}; "  # type: ignore[attr-defined]
                   f"`pygd_routes` says so.\n\n{base.__doc__ or ''}")
    return cls


_BY_DESIGN = "by design: an elementwise kernel gains nothing on {}"


@_document
class LBFGS(_TorchSteps, torch.optim.LBFGS):
    pygd_reason = _BY_DESIGN.format("L-BFGS's line search and history (dot products and closures)")


@_document
class SparseAdam(_TorchSteps, torch.optim.SparseAdam):
    pygd_reason = _BY_DESIGN.format("sparse grads (torch's sparse indexing is the work)")


@_document
class Muon(_TorchSteps, torch.optim.Muon):
    pygd_reason = _BY_DESIGN.format("Muon's Newton-Schulz iterations (matmuls, already BLAS's)")
