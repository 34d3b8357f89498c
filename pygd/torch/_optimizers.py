"""pygd.torch's optimizers: torch.optim's classes with pygd's fused kernel as their step.

Each class subclasses the torch.optim class of the same name and keeps its __init__, so
argument checks, defaults, param groups, hooks, state_dict and load_state_dict are torch's own, and
so is `_step_supports_amp_scaling` (set by torch's __init__ when fused=True). Only `step` is pygd's
(in _Stepper): the params pygd's kernels can update run natively, the others through torch's own
implementation (_fallback.py), in the same step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from itertools import chain
from typing import TYPE_CHECKING, Any, ClassVar, Optional, TypeVar, Union, overload

import torch
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

from .._specs import SPECS
from ._amp import AmpScalars
from ._calls import CpuCall, CudaCall
from ._fallback import (
    Routes,
    TorchFallbackWarning,
    routes_of,
    torch_class,
    torch_step,
    warn_new_routes,
)
from ._kernels import Kernel, kernel_for
from ._plan import plan_group

if TYPE_CHECKING:
    from typing_extensions import ParamSpec

    _P = ParamSpec("_P")
    # What _Stepper is mixed into: always a torch.optim class (its subclasses below).
    _Optimizer = torch.optim.Optimizer
else:
    _Optimizer = object
_R = TypeVar("_R")
_C = TypeVar("_C", bound=type)

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "RAdam", "Adadelta", "Rprop",
           "NAdam", "ASGD", "Routes", "TorchFallbackWarning"]


def _with_hooks(step: Callable[_P, _R]) -> Callable[_P, _R]:
    """torch's Optimizer.profile_hook_step around pygd's step: the global and the optimizer's step
    pre-hooks (which may replace the arguments), the step, _optimizer_step_code, the post-hooks, in
    torch's order, and the profiler's "Optimizer.step#<class>.step" range. The range is opened only
    while a profiler runs: torch's record_function costs ~6 us per step even when nothing records,
    a third of a small model's step. Marked `hooked`, so torch's __init__ does not wrap it again."""
    @functools.wraps(step)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        self: Any = args[0]
        if torch._C._autograd._profiler_enabled():
            with torch.autograd.profiler.record_function(f"Optimizer.step#{type(self).__name__}.step"):
                return _hooked_call(step, self, args, kwargs)
        return _hooked_call(step, self, args, kwargs)
    wrapper.hooked = True  # type: ignore[attr-defined]
    return wrapper


def _hooked_call(step: Callable[..., _R], self: Any, args: Any, kwargs: Any) -> _R:
    for pre_hook in chain(_global_optimizer_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
        result = pre_hook(self, args, kwargs)
        if result is not None:
            if isinstance(result, tuple) and len(result) == 2:
                args, kwargs = result
            else:
                raise RuntimeError(f"{step} must return None or a tuple of (new_args, new_kwargs), but got "
                                   f"{result}.")
    out = step(*args, **kwargs)
    self._optimizer_step_code()
    for post_hook in chain(self._optimizer_step_post_hooks.values(), _global_optimizer_post_hooks.values()):
        post_hook(self, args, kwargs)
    return out


class _Stepper(_Optimizer):
    """The pygd step shared by every class. The class only gathers lists (as torch.optim's do): the
    plans in _plan.py hold the pointer tables, the kernels in csrc/ do the math."""

    kernel: ClassVar[Kernel] = None  # type: ignore[assignment]  # the class's Kernel, set by each

    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    @_with_hooks
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """One optimizer step over every param group (see torch.optim.Optimizer.step)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        amp = AmpScalars(self)
        prepared, subsets = self._prepare(amp.unscaling)
        if subsets:
            # After every native call was checked (nothing written yet), before any native write:
            # an error torch raises for its params leaves pygd's untouched.
            torch_step(self, subsets)
        if amp.found_inf is not None and any(type(c) is CpuCall for c, _ in prepared) \
                and amp.host_found_inf():
            # GradScaler found inf/NaN grads: no update. The state this step made stays at step 0,
            # as after torch's fused step, and no step count advances. (CUDA calls skip on the
            # device, without this host read.)
            return loss
        for call, hparams in prepared:
            call.run(hparams, amp)
        return loss

    @property
    def pygd_routes(self) -> Routes:
        """Where the params of the last step ran: `native` (pygd's kernels), `torch` (torch.optim's
        own implementation, with the reason) and `skipped` (no grad), by index in the optimizer."""
        routes: Routes = self.__dict__.get("_pygd_routes", Routes())
        return routes

    def _prepare(self, unscaling: bool) -> tuple[list[tuple[Union[CpuCall, CudaCall], tuple[Any, ...]]],
                                                 list[tuple[dict[str, Any], list[torch.Tensor]]]]:
        """(call, hyperparameters) for every native call of the step, and the (group, params) torch
        must step; every group checked and its grads gathered; nothing is written before all pass."""
        plans = self.__dict__.setdefault("_pygd_plans", [])
        del plans[len(self.param_groups):]
        before = list(plans)
        prepared: list[tuple[Union[CpuCall, CudaCall], tuple[Any, ...]]] = []
        subsets: list[tuple[dict[str, Any], list[torch.Tensor]]] = []
        first = 0
        for g, group in enumerate(self.param_groups):
            plan, calls = plan_group(self.kernel, self, group, first,
                                     plans[g] if g < len(plans) else None, unscaling)
            if g < len(plans):
                plans[g] = plan
            else:
                plans.append(plan)
            if calls:
                hparams = self.kernel.hparams(group)
                prepared.extend((call, hparams) for call in calls)
            if plan.to_torch:
                subsets.append((group, plan.torch_params()))
            first += len(group["params"])
        for plan in plans:
            plan.commit()
        if len(before) != len(plans) or any(a is not b for a, b in zip(before, plans)):
            routes = routes_of(plans)
            self.__dict__["_pygd_routes"] = routes
            warn_new_routes(self, routes, self.__dict__.setdefault("_pygd_warned", set()))
        return prepared, subsets


def _document(cls: _C) -> _C:
    """torch's documentation of the class, then what pygd changes."""
    base = torch_class(cls)
    cls.__doc__ = (f"pygd's drop-in for :class:`{base.__module__}.{base.__name__}`: the same "
                   "arguments, state, state_dict and hooks; `step()` runs pygd's fused multi-tensor "
                   "kernel on the params it can update natively (float32/float64 and complex, CPU, "
                   "and CUDA where pygd._cuda is built), and torch's own implementation on the "
                   "others, with a TorchFallbackWarning naming them; `pygd_routes` says which ran "
                   f"where.\n\n{base.__doc__ or ''}")
    return cls


@_document
class SGD(_Stepper, torch.optim.SGD):
    kernel = kernel_for(SPECS["sgd"])


@_document
class Adam(_Stepper, torch.optim.Adam):
    kernel = kernel_for(SPECS["adam"])


@_document
class AdamW(_Stepper, torch.optim.AdamW):
    kernel = kernel_for(SPECS["adamw"])


@_document
class RMSprop(_Stepper, torch.optim.RMSprop):
    kernel = kernel_for(SPECS["rmsprop"])


@_document
class Adagrad(_Stepper, torch.optim.Adagrad):
    kernel = kernel_for(SPECS["adagrad"])


@_document
class Adamax(_Stepper, torch.optim.Adamax):
    kernel = kernel_for(SPECS["adamax"])


@_document
class RAdam(_Stepper, torch.optim.RAdam):
    kernel = kernel_for(SPECS["radam"])


@_document
class Adadelta(_Stepper, torch.optim.Adadelta):
    kernel = kernel_for(SPECS["adadelta"])


@_document
class Rprop(_Stepper, torch.optim.Rprop):
    kernel = kernel_for(SPECS["rprop"])


@_document
class NAdam(_Stepper, torch.optim.NAdam):
    kernel = kernel_for(SPECS["nadam"])


@_document
class ASGD(_Stepper, torch.optim.ASGD):
    kernel = kernel_for(SPECS["asgd"])
