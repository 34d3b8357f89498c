"""What each optimizer's native kernel needs from torch's param groups and state.

One KernelSpec per optimizer: its state tensors in the kernel's stream order (csrc/include/pygd/),
how torch initializes them, and the hyperparameters read from a param group at each step. The math
itself is the kernels'; nothing here computes an update.
"""

import abc

import torch

from .._backends import native as native_backend
from .._specs import KERNELS
from . import _checks

try:
    from torch.optim.optimizer import _get_scalar_dtype
except ImportError:  # pragma: no cover - torch moved its private helper
    def _get_scalar_dtype(is_fused=None):
        if is_fused:
            return torch.float32
        return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _scalar(value):
    """A hyperparameter as a float (torch allows lr and betas as tensors)."""
    return float(value)


def _zero_step(param, group):
    """torch's initial state["step"]: a 0-dim float tensor (float32 when fused, else the default
    float dtype's width), on the CPU unless fused/capturable put it on the param's device. pygd's CUDA
    kernels read the count on the device, as torch's fused ones do."""
    if group.get("fused") or group.get("capturable") or param.device.type != "cpu":
        return torch.zeros((), dtype=_get_scalar_dtype(is_fused=True), device=param.device)
    return torch.tensor(0.0, dtype=_get_scalar_dtype())


class KernelSpec(abc.ABC):
    native = None          # the native backend's kernel function
    has_step_state = True  # whether torch keeps state["step"]

    def __init__(self):
        written, optional = native_backend.stream_masks[self.native.__name__]
        self.written, self.optional = written, optional
        self.spec = KERNELS[self.native.__name__]  # its streams, their torch names, the options

    def state_names(self, group):
        """This group's streams after (param, grad): a name, or None where the stream is absent."""
        return self.spec.state_names(group)

    def signature(self, group):
        """What a plan is built for besides the params: the stream layout, and the flags under which
        torch's own step runs the whole group."""
        return self.state_names(group), group.get("differentiable"), group.get("capturable")

    def group_reason(self, group):
        """Why torch's own step must run every param of `group`, or None."""
        for flag in ("differentiable", "capturable"):
            if group.get(flag):
                return f"the group has {flag}=True, which pygd's kernels do not implement"
        return None

    def init_state(self, optimizer, param, state, group):
        """Creates in `state` (a copy of the param's entry) what torch creates at a param's first
        step; returns whether it did."""
        if len(state) != 0:
            return False
        state["step"] = _zero_step(param, group)
        for name in self.state_names(group):
            if name is not None:
                state[name] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return True

    def count(self, param, state, created):
        """(the kernel's step count before this step, None), or (None, why torch's own step must
        update the param)."""
        step = state.get("step")
        reason = _checks.step_reason(param, step)
        return (None, reason) if reason else (int(float(step)), None)

    @abc.abstractmethod
    def hparams(self, group):
        """The kernel's hyperparameters, read from a param group: a tuple by name
        (_specs.OptimizerSpec.pack)."""

    def run(self, table, step, hparams, grad_scale):
        return self.native(table, step, hparams, grad_scale)


class SgdKernel(KernelSpec):
    native = native_backend.sgd
    has_step_state = False

    def init_state(self, optimizer, param, state, group):
        # torch has no step count for SGD: the kernel's step only says whether the momentum buffer
        # is new (step 1: the buffer takes the grad, with no dampening).
        if group["momentum"] == 0 or state.get("momentum_buffer") is not None:
            return False
        state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return True

    def count(self, param, state, created):
        return (0 if created or state.get("momentum_buffer") is None else 1), None

    def hparams(self, group):
        return KERNELS["sgd"].pack(
            lr=_scalar(group["lr"]), momentum=float(group["momentum"]),
            dampening=float(group["dampening"]), weight_decay=_scalar(group["weight_decay"]),
            nesterov=bool(group["nesterov"]), maximize=bool(group["maximize"]))


class AdamKernel(KernelSpec):
    native = native_backend.adam

    def hparams(self, group):
        beta1, beta2 = group["betas"]
        return KERNELS["adam"].pack(
            lr=_scalar(group["lr"]), beta1=_scalar(beta1), beta2=_scalar(beta2),
            eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
            amsgrad=bool(group["amsgrad"]), maximize=bool(group["maximize"]),
            decoupled=bool(group.get("decoupled_weight_decay", False)))


class RmspropKernel(KernelSpec):
    native = native_backend.rmsprop

    def hparams(self, group):
        return KERNELS["rmsprop"].pack(
            lr=_scalar(group["lr"]), alpha=float(group["alpha"]), eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]), momentum=float(group["momentum"]),
            centered=bool(group["centered"]), maximize=bool(group["maximize"]))


class AdagradKernel(KernelSpec):
    native = native_backend.adagrad

    def init_state(self, optimizer, param, state, group):
        # torch.optim.Adagrad creates its state in __init__; a param added later gets it at its
        # first step, from the optimizer's defaults (not the group's), as torch's _init_group does.
        if len(state) != 0:
            return False
        state["step"] = _zero_step(param, group)
        value = optimizer.defaults["initial_accumulator_value"]
        state["sum"] = torch.full_like(param, complex(value, value) if param.is_complex() else value,
                                       memory_format=torch.preserve_format)
        return True

    def hparams(self, group):
        return KERNELS["adagrad"].pack(
            lr=_scalar(group["lr"]), lr_decay=float(group["lr_decay"]),
            weight_decay=float(group["weight_decay"]), eps=float(group["eps"]),
            maximize=bool(group["maximize"]))
