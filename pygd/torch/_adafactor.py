"""pygd.torch.Adafactor: torch.optim.Adafactor with pygd's factored kernel as its step.

Adafactor's state is not its params' shape (row_var and col_var are a matrix's factors), so it
does not run through the pointer tables of the elementwise classes (_plan.py): each step gathers,
per param group, the params pygd can update (float32/float64, dense row-major CPU tensors with a
grad of their own dtype and layout, torch's state) into one native call per (dtype, step count),
over NumPy views of the tensors' own memory. The others (complex, sparse grads, CUDA, a tensor lr,
...) step through torch.optim.Adafactor's own implementation in the same step(), with a
TorchFallbackWarning naming them, and `pygd_routes` says where each param ran. Every native call
is checked before torch's step and before any native write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, overload

import numpy as np
import torch

from .. import _validate
from .._backends import native as _native_backend
from .._constants import BufferProblem
from .._specs import SPECS
from . import _checks
from ._fallback import Routes, torch_class, torch_step, warn_new_routes
from ._kernels import _zero_step
from ._optimizers import _with_hooks

if TYPE_CHECKING:
    _Optimizer = torch.optim.Optimizer
else:
    _Optimizer = object

assert _native_backend is not None, "pygd.torch needs the native extension (its __init__ checks)"
_NATIVE = _native_backend
_SPEC = SPECS["adafactor"]
_STATES = tuple(str(s.torch_state) for s in _SPEC.streams[2:])  # row_var, col_var, variance
_RULES = tuple(s.shape for s in _SPEC.streams[2:])


def _is_row_major(tensor: torch.Tensor) -> bool:
    return tensor.is_contiguous()


def param_reason(param: torch.Tensor) -> Optional[str]:
    """Why pygd's Adafactor does not update `param` natively, or None."""
    if param.is_complex():
        return "is complex; pygd's Adafactor kernel updates real params"
    if param.device.type != "cpu":
        return f"is on {param.device}; pygd's Adafactor kernel runs on the CPU only (no CUDA kernel yet)"
    if param.dtype not in (torch.float32, torch.float64):
        return f"is {param.dtype}; pygd's Adafactor kernel updates float32 and float64 params"
    why = _checks.param_reason(param)
    if why is not None:
        return why
    if not _is_row_major(param):
        return "is not row-major contiguous (Adafactor's factors follow its last two dims)"
    return None


def state_reason(param: torch.Tensor, state: dict[str, Any]) -> Optional[str]:
    """Why the param's Adafactor state (torch's, or loaded) cannot be the kernel's, or None."""
    for name, rule in zip(_STATES, _RULES):
        shape = _validate.factor_shape(tuple(param.shape), rule)
        if shape is None:
            continue
        value = state.get(name)
        if not isinstance(value, torch.Tensor) or not _checks.is_plain(value):
            return f"has state {name!r} of type {type(value).__name__}"
        if value.dtype != param.dtype or tuple(value.shape) != shape or value.device != param.device \
                or not _is_row_major(value) or value.requires_grad:
            return (f"has state {name!r} of {value.dtype} {tuple(value.shape)} on {value.device}, not "
                    f"a contiguous {param.dtype} {shape} tensor beside the param")
    return None


def _init_state(param: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
    """What torch.optim.Adafactor's _init_group creates at a param's first step."""
    state["step"] = _zero_step(param, group)
    grad = param.grad
    assert grad is not None
    if grad.dim() > 1:
        row_shape = list(grad.shape)
        row_shape[-1] = 1
        state["row_var"] = grad.new_zeros(row_shape)
        col_shape = list(grad.shape)
        col_shape[-2] = 1
        state["col_var"] = grad.new_zeros(col_shape)
    else:
        state["variance"] = torch.zeros_like(grad, memory_format=torch.preserve_format)


def _view(tensor: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    return None if tensor is None else tensor.detach().numpy()


class _Call:
    """One native call: params of one group, dtype and step count."""

    def __init__(self, step: int, hparams: tuple[Any, ...]) -> None:
        self.step, self.hparams = step, hparams
        self.params: list[torch.Tensor] = []
        self.indices: list[int] = []  # each param's index in the optimizer
        self.streams: tuple[list[Any], ...] = ([], [], [], [], [])

    def add(self, param: torch.Tensor, index: int, state: dict[str, Any]) -> None:
        grad = param.grad
        self.params.append(param)
        self.indices.append(index)
        for k, array in enumerate((param, grad, *(state.get(name) for name in _STATES))):
            self.streams[k].append(_view(array))

    def check(self) -> Optional[tuple[list[torch.Tensor], str]]:
        """None, or the two params whose arrays overlap (torch's step must update them) and why;
        any other problem raises (the gather has vetted every array)."""
        problem = _NATIVE.check("adafactor", self.streams)
        if problem is None:
            return None
        code, k, i, k2, i2 = problem
        if BufferProblem(code) is not BufferProblem.OVERLAP:
            raise _validate.buffer_error(problem, "adafactor", self.streams)
        names = _validate.STREAMS["adafactor"]

        def where(stream: int, index: int) -> str:
            return f"{names[stream]} of {_checks.name_of(self.indices[index])}"
        return ([self.params[i], self.params[i2]],
                f"its {where(k, i)} overlaps the {where(k2, i2)} in memory, and the update writes one of them")

    def run(self, states: list[dict[str, Any]]) -> None:
        problem = _NATIVE.steps["adafactor"](self.streams, self.step, self.hparams)
        if problem is not None:  # checked before: only a concurrent change gets here
            raise _validate.buffer_error(problem, "adafactor", self.streams)
        for state in states:
            state["step"] += 1


def _hparams(group: dict[str, Any], eps1: Optional[float]) -> tuple[Any, ...]:
    hparams: tuple[Any, ...] = _SPEC.pack(lr=float(group["lr"]), beta2_decay=float(group["beta2_decay"]),
                      eps1=_validate.EPS_OF_DTYPE if eps1 is None else float(eps1),
                      eps2=float(group["eps"][1]), d=float(group["d"]),
                      weight_decay=float(group["weight_decay"]), maximize=bool(group["maximize"]))
    return hparams


class _FactoredStepper(_Optimizer):
    """Mixed into torch.optim.Adafactor below: pygd's step."""

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
        forced: dict[int, str] = {}  # id(param) -> why torch's step must update it
        for _ in range(sum(len(g["params"]) for g in self.param_groups) + 2):
            native, to_torch, skipped, calls, subsets = self._gather(forced)
            overlaps = [found for call, _ in calls if (found := call.check()) is not None]
            if not overlaps:  # every native call checked, before anything is written
                break
            for params, why in overlaps:
                forced.update((id(p), why) for p in params)
        else:
            raise RuntimeError("pygd.torch.Adafactor: the step could not be planned (a pygd bug)")
        routes = Routes(tuple(native), to_torch, tuple(skipped))
        if routes != self.__dict__.get("_pygd_routes"):
            self.__dict__["_pygd_routes"] = routes
            warn_new_routes(self, routes, self.__dict__.setdefault("_pygd_warned", set()))
        if subsets:
            torch_step(self, subsets)
        with torch.no_grad():
            for call, states in calls:
                call.run(states)
        return loss

    def _gather(self, forced: dict[int, str]) -> tuple[list[int], dict[int, str], list[int],
                                                      list[tuple[_Call, list[dict[str, Any]]]],
                                                      list[tuple[dict[str, Any], list[torch.Tensor]]]]:
        """(native indices, {index: why torch}, skipped indices, native calls with their params'
        states, (group, params) torch must step); creates the state of params new to native."""
        native: list[int] = []
        to_torch: dict[int, str] = {}
        skipped: list[int] = []
        calls: list[tuple[_Call, list[dict[str, Any]]]] = []
        subsets: list[tuple[dict[str, Any], list[torch.Tensor]]] = []
        index = 0
        for group in self.param_groups:
            group_reason = None
            if isinstance(group["lr"], torch.Tensor):
                group_reason = "its group's lr is a tensor, which pygd's Adafactor does not read"
            eps1 = group["eps"][0]
            if eps1 is None:
                # torch's loop takes finfo(dtype).eps of the first param it updates, for all of them
                first = next((p for p in group["params"] if p.grad is not None), None)
                dtypes = {p.dtype for p in group["params"] if p.grad is not None}
                if first is not None and len(dtypes) > 1 and first.dtype.is_floating_point:
                    eps1 = torch.finfo(first.dtype).eps
            hparams = None if group_reason else _hparams(group, eps1)
            by_key: dict[tuple[Any, int], tuple[_Call, list[dict[str, Any]]]] = {}
            routed: list[torch.Tensor] = []
            for param in group["params"]:
                if param.grad is None:
                    skipped.append(index)
                    index += 1
                    continue
                why = forced.get(id(param)) or group_reason or param_reason(param) \
                    or _checks.grad_reason(param, param.grad)
                if why is None and not _is_row_major(param.grad):
                    why = "has a grad that is not row-major contiguous"
                state = self.state[param]
                if why is None and len(state) != 0:
                    why = _checks.step_reason(param, state.get("step")) or state_reason(param, state)
                if why is not None:
                    to_torch[index] = why
                    routed.append(param)
                    index += 1
                    continue
                if len(state) == 0:
                    _init_state(param, state, group)
                step = int(float(state["step"]))
                entry = by_key.get((param.dtype, step))
                if entry is None:
                    assert hparams is not None
                    entry = by_key[(param.dtype, step)] = (_Call(step + 1, hparams), [])
                entry[0].add(param, index, state)
                entry[1].append(state)
                native.append(index)
                index += 1
            calls.extend(by_key.values())
            if routed:
                subsets.append((group, routed))
        return native, to_torch, skipped, calls, subsets

    @property
    def pygd_routes(self) -> Routes:
        """Where the params of the last step ran: `native` (pygd's kernel), `torch` (torch.optim's own
        implementation, with the reason) and `skipped` (no grad), by index in the optimizer."""
        routes: Routes = self.__dict__.get("_pygd_routes", Routes())
        return routes


def _document(cls: type) -> type:
    base = torch_class(cls)
    cls.__doc__ = (f"pygd's drop-in for :class:`{base.__module__}.{base.__name__}`: the same "
                   "arguments, state, state_dict and hooks; `step()` runs pygd's factored multi-tensor "
                   "kernel on the params it can update natively (float32/float64 CPU tensors), and "
                   "torch's own implementation on the others (complex, CUDA, a tensor lr, ...), with a "
                   "TorchFallbackWarning naming them; `pygd_routes` says which ran where.\n\n"
                   f"{base.__doc__ or ''}")
    return cls


@_document
class Adafactor(_FactoredStepper, torch.optim.Adafactor):
    pass
