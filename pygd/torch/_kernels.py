"""What each optimizer's native kernel needs from torch's param groups and state.

One Kernel per optimizer, read from its spec: its state tensors in the kernel's stream order
(csrc/include/pygd/), how torch initializes them, and the hyperparameters read from a param group at
each step. The math itself is the kernels'; nothing here computes an update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import torch

from .._backends import native as native_backend
from .._specs import OptimizerSpec
from .._state_scalars import SCALARS
from .._steps import torch_group_reader
from . import _checks

try:
    from torch.optim.optimizer import _get_scalar_dtype
except ImportError:  # pragma: no cover - torch moved its private helper
    def _get_scalar_dtype(is_fused=None):  # type: ignore[no-untyped-def]  # as torch's (untyped)
        if is_fused:
            return torch.float32
        return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _zero_step(param: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
    """torch's initial state["step"]: a 0-dim float tensor (float32 when fused, else the default
    float dtype's width), on the CPU unless fused/capturable put it on the param's device. pygd's CUDA
    kernels read the count on the device, as torch's fused ones do."""
    if group.get("fused") or group.get("capturable") or param.device.type != "cpu":
        # torch's private helper is untyped
        return torch.zeros((), dtype=_get_scalar_dtype(is_fused=True),  # type: ignore[no-untyped-call]
                           device=param.device)
    return torch.tensor(0.0, dtype=_get_scalar_dtype())  # type: ignore[no-untyped-call]


class Kernel:
    """An optimizer's native kernel as pygd.torch runs it, read from its spec (_specs.py): which
    state tensors a group's options need, in the kernel's stream order, how torch initializes them,
    and the kernel's hyperparameters read from a param group."""

    has_step_state = True  # whether torch keeps state["step"]

    def __init__(self, spec: OptimizerSpec) -> None:
        self.spec = spec  # its streams, their torch names, the options
        self.name = spec.kernel
        assert native_backend is not None, "pygd.torch needs the native extension (its __init__ checks)"
        self.native: Callable[..., Any] = native_backend.steps[spec.kernel]
        self.written: int
        self.optional: int
        self.written, self.optional = native_backend.stream_masks[spec.kernel]
        # The kernel's hyperparameter tuple from a torch param group (torch has checked it); a state
        # scalar's slot (NAdam's mu_product) holds a placeholder that each call replaces.
        self.hparams = torch_group_reader(spec)
        # The state scalars: (torch state name, slot in the hyperparameter tuple).
        self.scalars: tuple[tuple[str, int], ...] = tuple(
            (str(o.state), spec.hyperparameters.index(o.name)) for o in spec.state_scalars)

    def state_names(self, group: dict[str, Any]) -> tuple[Optional[str], ...]:
        """This group's streams after (param, grad): a name, or None where the stream is absent."""
        return self.spec.state_names(group)

    def signature(self, group: dict[str, Any]) -> tuple[tuple[Optional[str], ...], Any, Any]:
        """What a plan is built for besides the params: the stream layout, and the flags under which
        torch's own step runs the whole group."""
        return self.state_names(group), group.get("differentiable"), group.get("capturable")

    def group_reason(self, group: dict[str, Any]) -> Optional[str]:
        """Why torch's own step must run every param of `group`, or None."""
        for flag in ("differentiable", "capturable"):
            if group.get(flag):
                return f"the group has {flag}=True, which pygd's kernels do not implement"
        return None

    def init_state(self, optimizer: torch.optim.Optimizer, param: torch.Tensor, state: dict[str, Any],
                   group: dict[str, Any]) -> bool:
        """Creates in `state` (a copy of the param's entry) what torch creates at a param's first
        step; returns whether it did. A state whose stream declares an initial option starts at
        that option's value in the optimizer's defaults (not the group's), as torch.optim.Adagrad's
        _init_group does for a param added after __init__ (torch creates the others' in __init__),
        or in the param's group where the stream says so (Rprop's step sizes start at its lr)."""
        if len(state) != 0:
            return False
        state["step"] = _zero_step(param, group)
        for scalar, _ in self.scalars:  # as torch: on the CPU, of the default float dtype's width
            state[scalar] = torch.tensor(SCALARS[scalar].initial(group), dtype=_get_scalar_dtype())  # type: ignore[no-untyped-call]
        for stream, name in zip(self.spec.streams[2:], self.state_names(group)):
            if name is None:
                continue
            if stream.initial is None:
                state[name] = torch.zeros_like(param, memory_format=torch.preserve_format)
            else:
                value = float(group[stream.initial] if stream.initial_from_group
                              else optimizer.defaults[stream.initial])
                state[name] = torch.full_like(param, complex(value, value) if param.is_complex() else value,
                                              memory_format=torch.preserve_format)
        return True

    def scalar_values(self, entry: dict[str, Any]) -> tuple[float, ...]:
        """The state scalars' values in `entry` (which scalar_reason has accepted): a call's members
        share them."""
        return tuple(float(entry[name]) for name, _ in self.scalars)

    def scalar_reason(self, param: torch.Tensor, entry: dict[str, Any]) -> Optional[str]:
        """Why torch's own step must update `param` given its state scalars, or None."""
        for name, _ in self.scalars:
            value = entry.get(name)
            if param.device.type != "cpu":
                return f"pygd's CUDA {self.spec.torch_class} does not keep state['{name}'] yet"
            if not (isinstance(value, torch.Tensor) and value.device.type == "cpu" and value.numel() == 1
                    and value.dtype in (torch.float32, torch.float64) and not value.requires_grad):
                return f"its state['{name}'] is not a float32/float64 CPU scalar tensor"
        return None

    def count(self, param: torch.Tensor, state: dict[str, Any], created: bool
              ) -> tuple[Optional[int], Optional[str]]:
        """(the kernel's step count before this step, None), or (None, why torch's own step must
        update the param)."""
        step: Any = state.get("step")  # a tensor where step_reason finds none
        reason = _checks.step_reason(param, step)
        return (None, reason) if reason else (int(float(step)), None)

    def run(self, table: Any, step: int, hparams: tuple[Any, ...], grad_scale: float) -> Any:
        """The native kernel on a PointerTable: None, or the problem tuple."""
        return self.native(table, step, hparams, grad_scale)


class SgdKernel(Kernel):
    """torch.optim.SGD keeps no step count: the kernel's step only says whether the momentum buffer
    is new (step 1: the buffer takes the grad, with no dampening)."""
    has_step_state = False

    def init_state(self, optimizer: torch.optim.Optimizer, param: torch.Tensor, state: dict[str, Any],
                   group: dict[str, Any]) -> bool:
        if group["momentum"] == 0 or state.get("momentum_buffer") is not None:
            return False
        state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return True

    def count(self, param: torch.Tensor, state: dict[str, Any], created: bool
              ) -> tuple[Optional[int], Optional[str]]:
        return (0 if created or state.get("momentum_buffer") is None else 1), None


def kernel_for(spec: OptimizerSpec) -> Kernel:
    """The Kernel that runs `spec` under pygd.torch."""
    return SgdKernel(spec) if spec.torch_class == "SGD" else Kernel(spec)
