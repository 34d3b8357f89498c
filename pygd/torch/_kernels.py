"""What each optimizer's native kernel needs from torch's param groups and state.

One KernelSpec per optimizer: its state tensors in the kernel's stream order (csrc/include/pygd/),
how torch initializes them, and the hyperparameters read from a param group at each step. The math
itself is the kernels'; nothing here computes an update.
"""

import abc

import torch

from .. import _native

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


def _zero_step(group):
    """torch's initial state["step"]: a 0-dim float tensor (float32 when fused, else the default
    float dtype's width), on the CPU unless capturable/fused put it on the param's device."""
    return torch.zeros((), dtype=_get_scalar_dtype(is_fused=group.get("fused")))


class KernelSpec(abc.ABC):
    native = None          # the pygd._native function
    state = ()             # every state tensor's name, in stream order after (param, grad)
    has_step_state = True  # whether torch keeps state["step"]

    def __init__(self):
        written, optional = _native.stream_masks[self.native.__name__]
        self.written, self.optional = written, optional

    def state_names(self, group):
        """This group's streams after (param, grad): a name, or None where the stream is absent."""
        return self.state

    def init_state(self, optimizer, param, state, group):
        """Creates what torch creates at a param's first step; returns the param's step count."""
        if "step" not in state:
            state["step"] = _zero_step(group)
            for name in self.state_names(group):
                if name is not None:
                    state[name] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return int(state["step"].item())

    @abc.abstractmethod
    def hparams(self, group):
        """The kernel's hyperparameters after the step, positionally, read from a param group."""

    def run(self, table, step, hparams, grad_scale):
        return self.native(table, step, *hparams, grad_scale)


class SgdKernel(KernelSpec):
    native = _native.sgd
    has_step_state = False

    def state_names(self, group):
        return ("momentum_buffer" if group["momentum"] != 0 else None,)

    def init_state(self, optimizer, param, state, group):
        # torch has no step count for SGD: the kernel's step only says whether the momentum buffer
        # is new (step 1: the buffer takes the grad, with no dampening).
        if group["momentum"] == 0:
            return 0
        if "momentum_buffer" not in state or state["momentum_buffer"] is None:
            state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            return 0
        return 1

    def hparams(self, group):
        return (_scalar(group["lr"]), float(group["momentum"]), float(group["dampening"]),
                _scalar(group["weight_decay"]), bool(group["nesterov"]), bool(group["maximize"]))


class AdamKernel(KernelSpec):
    native = _native.adam
    state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def state_names(self, group):
        return self.state if group["amsgrad"] else self.state[:2] + (None,)

    def hparams(self, group):
        beta1, beta2 = group["betas"]
        return (_scalar(group["lr"]), _scalar(beta1), _scalar(beta2), float(group["eps"]),
                float(group["weight_decay"]), bool(group["amsgrad"]), bool(group["maximize"]),
                bool(group.get("decoupled_weight_decay", False)))


class RmspropKernel(KernelSpec):
    native = _native.rmsprop
    state = ("square_avg", "momentum_buffer", "grad_avg")

    def state_names(self, group):
        return ("square_avg", "momentum_buffer" if group["momentum"] > 0 else None,
                "grad_avg" if group["centered"] else None)

    def hparams(self, group):
        return (_scalar(group["lr"]), float(group["alpha"]), float(group["eps"]),
                float(group["weight_decay"]), float(group["momentum"]), bool(group["centered"]),
                bool(group["maximize"]))

    def run(self, table, step, hparams, grad_scale):
        return self.native(table, *hparams, grad_scale)  # RMSprop's update does not use the step


class AdagradKernel(KernelSpec):
    native = _native.adagrad
    state = ("sum",)

    def init_state(self, optimizer, param, state, group):
        # torch.optim.Adagrad creates its state in __init__; a param added later gets it here.
        if "step" not in state:
            state["step"] = _zero_step(group)
            state["sum"] = torch.full_like(param, group["initial_accumulator_value"],
                                           memory_format=torch.preserve_format)
        return int(state["step"].item())

    def hparams(self, group):
        return (_scalar(group["lr"]), float(group["lr_decay"]), float(group["weight_decay"]),
                float(group["eps"]), bool(group["maximize"]))
