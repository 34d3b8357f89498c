"""pygd.torch's optimizers: torch.optim's classes with pygd's fused kernel as their step.

Each class subclasses the torch.optim class of the same name and calls its __init__ unchanged, so
argument checks, defaults, param groups, hooks, state_dict and load_state_dict are torch's own. Only
`step` is pygd's (in _Stepper), plus a dtype/device check on params as they join. `foreach` and
`fused` are accepted and recorded like torch does (they choose among torch's implementations; pygd
always runs its own fused kernel); `differentiable` and `capturable` are not implemented.
"""

import torch
from torch.autograd.graph import increment_version

from . import _checks
from ._kernels import AdagradKernel, AdamKernel, RmspropKernel, SgdKernel
from ._plan import GroupPlan, Rebuild


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
        grad_scale, found_inf = self._amp_scalars()
        prepared = self._prepare(unscaling=grad_scale != 1.0)
        if found_inf:
            # GradScaler found inf/NaN grads: skip the update; the state the step made (as torch's
            # fused step does) stays at step 0, and no step count advances.
            return loss
        kernel = self.kernel
        for item in prepared:
            call = item.call
            problem = kernel.run(call.table, call.step + 1, item.hparams, grad_scale)
            if problem is not None:  # checked in _prepare; reaching here is a pygd bug
                raise RuntimeError(f"pygd.torch: the kernel rejected a checked call: {problem}")
            if item.copies:
                for grad, copy in item.copies:
                    if grad_scale != 1.0:
                        grad.copy_(copy)  # the unscaled grad, as torch's fused step leaves it
            call.step += 1
            if call.steps is not None:
                call.steps.add_(1)
            # The params changed in place: autograd must see it, as after torch's in-place updates.
            increment_version(call.params)
        return loss

    def _amp_scalars(self):
        """GradScaler's loss scale (1.0: none) and whether it found inf/NaN grads."""
        grad_scale = getattr(self, "grad_scale", None)
        found_inf = getattr(self, "found_inf", None)
        return (1.0 if grad_scale is None else float(grad_scale),
                found_inf is not None and float(found_inf) != 0.0)

    def _prepare(self, unscaling):
        """Checks every group and gathers its grads; nothing is written before all pass."""
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
                items = plan.prepare(hparams, unscaling)
            except Rebuild:
                plan = GroupPlan(self.kernel, self, group, first)
                items = plan.prepare(hparams, unscaling)
            if g < len(plans):
                plans[g] = plan
            else:
                plans.append(plan)
            prepared.extend(items)
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

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _refuse(differentiable=differentiable)
        super().__init__(params, lr, momentum, dampening, weight_decay, nesterov, maximize=maximize,
                         foreach=foreach, differentiable=differentiable, fused=fused)


class Adam(_Stepper, torch.optim.Adam):
    kernel = AdamKernel()

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _refuse(capturable=capturable, differentiable=differentiable)
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=decoupled_weight_decay)


class AdamW(_Stepper, torch.optim.AdamW):
    kernel = AdamKernel()

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        _refuse(capturable=capturable, differentiable=differentiable)
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         foreach=foreach, capturable=capturable, differentiable=differentiable,
                         fused=fused)


class RMSprop(_Stepper, torch.optim.RMSprop):
    kernel = RmspropKernel()

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _refuse(capturable=capturable, differentiable=differentiable)
        super().__init__(params, lr, alpha, eps, weight_decay, momentum, centered, capturable,
                         foreach, maximize, differentiable)


class Adagrad(_Stepper, torch.optim.Adagrad):
    kernel = AdagradKernel()

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _refuse(differentiable=differentiable)
        super().__init__(params, lr, lr_decay, weight_decay, initial_accumulator_value, eps, foreach,
                         maximize=maximize, differentiable=differentiable, fused=fused)
