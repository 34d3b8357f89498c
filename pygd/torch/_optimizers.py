"""pygd.torch's optimizers: torch.optim's classes with pygd's fused kernel as their step.

Each class subclasses the torch.optim class of the same name and calls its __init__ unchanged, so
argument checks, defaults, param groups, hooks, state_dict and load_state_dict are torch's own. Only
`step` is pygd's (in _Stepper), plus a dtype/device check on params as they join. `foreach` and
`fused` are accepted and recorded like torch does (they choose among torch's implementations; pygd
always runs its own fused kernel); `differentiable` and `capturable` are not implemented.
"""

from typing import Optional, Union

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from . import _checks
from ._amp import AmpScalars
from ._calls import CpuCall, Rebuild
from ._kernels import AdagradKernel, AdamKernel, RmspropKernel, SgdKernel
from ._plan import GroupPlan


# The annotations are torch's own, so help() and IDEs show the same signatures as for torch.optim.
Scalar = Union[float, Tensor]
Betas = tuple[Union[float, Tensor], Union[float, Tensor]]


def _refuse(**flags):
    for name, value in flags.items():
        if value:
            raise NotImplementedError(f"pygd.torch does not implement {name}=True; use torch.optim "
                                      f"for a {name} optimizer")


class _Stepper:
    """The pygd step shared by every class. The class only gathers lists (as torch.optim's do): the
    plans in _plan.py hold the pointer tables, the kernels in csrc/ do the math."""

    kernel = None  # the class's KernelSpec
    # GradScaler hands such optimizers `grad_scale` and `found_inf` instead of unscaling the grads
    # itself, as it does for torch's fused optimizers: the kernel unscales in its one pass.
    _step_supports_amp_scaling = True

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        first = sum(len(g["params"]) for g in self.param_groups[:-1])
        try:
            for i, param in enumerate(self.param_groups[-1]["params"]):
                _checks.check_param(param, first + i)
        except Exception:
            self.param_groups.pop()
            raise

    def step(self, closure=None):
        """One optimizer step over every param group (see torch.optim.Optimizer.step)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        amp = AmpScalars(self)
        prepared = self._prepare(amp.unscaling)
        if amp.found_inf is not None and any(type(c) is CpuCall for c, _ in prepared) \
                and amp.host_found_inf():
            # GradScaler found inf/NaN grads: no update. The state this step made stays at step 0,
            # as after torch's fused step, and no step count advances. (CUDA calls skip on the
            # device, without this host read.)
            return loss
        for call, hparams in prepared:
            call.run(hparams, amp)
        return loss

    def _prepare(self, unscaling):
        """(call, hyperparameters) for every call of the step, every group checked and its grads
        gathered; nothing is written before all pass."""
        plans = self.__dict__.setdefault("_pygd_plans", [])
        del plans[len(self.param_groups):]
        prepared = []
        first = 0
        for g, group in enumerate(self.param_groups):
            plan = plans[g] if g < len(plans) else None
            if plan is None or not plan.matches(self, group, first):
                plan = GroupPlan(self.kernel, self, group, first)
            hparams = self.kernel.hparams(group)
            try:
                calls = plan.prepare(unscaling)
            except Rebuild:
                plan = GroupPlan(self.kernel, self, group, first)
                calls = plan.prepare(unscaling)
            if g < len(plans):
                plans[g] = plan
            else:
                plans.append(plan)
            prepared.extend((call, hparams) for call in calls)
            first += len(group["params"])
        for plan in plans:
            plan.commit()
        return prepared

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_pygd_plans", None)  # pointer tables are rebuilt, never pickled
        return state


class SGD(_Stepper, torch.optim.SGD):
    kernel = SgdKernel()

    def __init__(self, params: ParamsT, lr: Scalar = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: Scalar = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: Optional[bool] = None, differentiable: bool = False,
                 fused: Optional[bool] = None) -> None:
        _refuse(differentiable=differentiable)
        super().__init__(params, lr, momentum, dampening, weight_decay, nesterov, maximize=maximize,
                         foreach=foreach, differentiable=differentiable, fused=fused)


class Adam(_Stepper, torch.optim.Adam):
    kernel = AdamKernel()

    def __init__(self, params: ParamsT, lr: Scalar = 1e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None,
                 decoupled_weight_decay: bool = False) -> None:
        _refuse(capturable=capturable, differentiable=differentiable)
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=decoupled_weight_decay)


class AdamW(_Stepper, torch.optim.AdamW):
    kernel = AdamKernel()

    def __init__(self, params: ParamsT, lr: Scalar = 1e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: Optional[bool] = None, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None) -> None:
        _refuse(capturable=capturable, differentiable=differentiable)
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         foreach=foreach, capturable=capturable, differentiable=differentiable,
                         fused=fused)


class RMSprop(_Stepper, torch.optim.RMSprop):
    kernel = RmspropKernel()

    def __init__(self, params: ParamsT, lr: Scalar = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: Optional[bool] = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _refuse(capturable=capturable, differentiable=differentiable)
        super().__init__(params, lr, alpha, eps, weight_decay, momentum, centered, capturable,
                         foreach, maximize, differentiable)


class Adagrad(_Stepper, torch.optim.Adagrad):
    kernel = AdagradKernel()

    def __init__(self, params: ParamsT, lr: Scalar = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: Optional[bool] = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None) -> None:
        _refuse(differentiable=differentiable)
        super().__init__(params, lr, lr_decay, weight_decay, initial_accumulator_value, eps, foreach,
                         maximize=maximize, differentiable=differentiable, fused=fused)
