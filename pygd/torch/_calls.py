"""One kernel call of a step: params of one device, dtype, layout and step count, with their state.

CpuCall runs pygd's native CPU kernel through a PointerTable (csrc/bindings/pointer_table.h): the
addresses of params and state are set once, and each step's gather re-checks, in one native loop,
every fact the table relies on (the list is in pointer_table.cpp) before setting the grads'
addresses. CudaCall enqueues pygd's CUDA kernel (pygd/_backends/cuda.py `launch`) on the current torch
stream, with the step count and GradScaler's tensors read on the device, never on the host; its
gather makes the same checks in Python.

Each param keeps its own state["step"] tensor, as in torch. The CPU kernel reads the count from
those tensors at each gather (so in-place edits are followed) and writes the new count back natively.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Union

import torch
from torch.autograd.graph import increment_version

from .._backends.native import PointerTable
from .._constants import GatherResult
from .._state_scalars import SCALARS
from . import _checks

if TYPE_CHECKING:
    from ._amp import AmpScalars
    from ._kernels import Kernel

PARAM, GRAD = 0, 1
STEP_STREAM = -1  # a watched name that is the step tensor, not a stream of the table

GRAD_SLOW = GatherResult.GRAD_SLOW  # what PointerTable.gather returns for grads it cannot set


class Rebuild(Exception):
    """The plan no longer matches the group (a grad appeared or vanished, a param moved, the state
    or a step count was edited): the group is planned again from what it holds now."""


class Overlap(Exception):
    """Buffers of a call overlap where the update writes: the params involved go through torch."""

    def __init__(self, params: list[torch.Tensor], message: str) -> None:
        super().__init__(message)
        self.params = params


def make_call(spec: Kernel, layout: tuple[Optional[str], ...],
              members: list[tuple[torch.Tensor, int, dict[str, Any]]], step: int, state: Any,
              group: Optional[dict[str, Any]] = None, scalars: tuple[float, ...] = ()
              ) -> Union[CpuCall, CudaCall]:
    """The call for `members` ((param, index in the optimizer, state entry) of one device, dtype,
    layout, step count and state scalars' values `scalars`, of param group `group`). `state` is the
    optimizer's state dict, which the entries join at commit."""
    params = [p for p, _, _ in members]
    watched = (("step",) if spec.has_step_state else ()) + tuple(n for n in layout if n is not None)
    held = [entry[name] for _, _, entry in members for name in watched]
    state_addresses: list[Optional[list[int]]] = [
        None if name is None else [entry[name].data_ptr() for _, _, entry in members]
        for name in layout]
    call = call_class_for(params[0].device)(spec, layout, params, [i for _, i, _ in members],
                                            state_addresses, step, state, watched, held)
    if spec.scalars:
        assert group is not None  # a plan passes its group
        call.scalars = StateScalars(spec, group, [[entry[name] for _, _, entry in members]
                                                  for name, _ in spec.scalars], scalars)
    return call


class StateScalars:
    """A call's state scalars (NAdam's mu_product, ASGD's eta and mu): one 0-dim tensor per member
    and name, as torch keeps them, all holding the call's value. Each step re-checks that they are
    still the state's and hold that value, and advances them as torch does: multiplied in place by
    torch's own op (so they round as torch's) before the kernel, which reads the new value, or set
    after the kernel, which read the value before."""

    def __init__(self, spec: Kernel, group: dict[str, Any], tensors: list[list[torch.Tensor]],
                 values: tuple[float, ...]) -> None:
        self.spec, self.group, self.tensors, self.values = spec, group, tensors, list(values)

    def check(self, params: list[torch.Tensor], state: Any) -> None:
        """Raises Rebuild unless every member's entry still holds the same tensors, of the call's
        values (a user may replace or edit them in place, or load a state dict)."""
        for (name, _), tensors, value in zip(self.spec.scalars, self.tensors, self.values):
            if state is not None and any(state[p].get(name) is not t for p, t in zip(params, tensors)):
                raise Rebuild
            if any(v != value for v in torch.stack(tensors).tolist()):
                raise Rebuild

    def before_kernel(self, step: int, hparams: tuple[Any, ...]) -> tuple[Any, ...]:
        """Advances the multiplied state scalars to `step`; `hparams` with the values the kernel
        reads."""
        values = list(hparams)
        for k, ((name, slot), tensors) in enumerate(zip(self.spec.scalars, self.tensors)):
            scalar = SCALARS[name]
            if scalar.factor is not None:
                torch._foreach_mul_(tensors, scalar.factor(step, self.group))
                self.values[k] = float(tensors[0])
            values[slot] = self.values[k]
        return tuple(values)

    def after_kernel(self, step: int) -> None:
        """Sets the other state scalars to their values after `step` (rounded to each tensor's
        dtype, as torch's copy_)."""
        for k, ((name, _), tensors) in enumerate(zip(self.spec.scalars, self.tensors)):
            scalar = SCALARS[name]
            if scalar.value is not None:
                value = scalar.value(step, self.group)
                for tensor in tensors:
                    tensor.fill_(value)
                self.values[k] = float(tensors[0])


def call_class_for(device: torch.device) -> Union[type[CpuCall], type[CudaCall]]:
    """The kind of call that runs params on `device`."""
    return CpuCall if device.type == "cpu" else CudaCall


class Call:
    """What CpuCall and CudaCall share: the members, their state, the step count."""

    def __init__(self, spec: Kernel, layout: tuple[Optional[str], ...], params: list[torch.Tensor], indices: list[int],
                 state_addresses: list[Optional[list[int]]], step: int, state: Any, watched: tuple[str, ...],
                 held: list[torch.Tensor]) -> None:
        self.spec = spec
        self.stream_names = ("param", "grad") + tuple(layout)  # None where a stream is absent
        self.params = params      # in group order
        self.indices = indices    # their indices in the optimizer, for messages
        self.step = step          # every member's step count before this step
        self.state, self.watched = state, watched
        # The state tensors, params-major, watched each step and kept alive while the call may write
        # them; the step tensors among them (first of each param's names) are advanced after a step.
        self.held = held
        self.steps: list[torch.Tensor] = held[::len(watched)] if spec.has_step_state else []
        # This step's (grad, copy in the param's layout) pairs.
        self.copies: Optional[list[tuple[torch.Tensor, torch.Tensor]]] = None
        self.param_addresses = [p.data_ptr() for p in params]
        # The first step after a build runs on what was just read (not yet committed to the state).
        self.fresh = True
        self.scalars: Optional[StateScalars] = None  # set by make_call for NAdam's mu_product

    def _watched_state(self) -> Any:
        """The state dict to check against this step, None when the entries are not committed yet."""
        if self.fresh:
            self.fresh = False
            return None
        return self.state

    def _grad_for_kernel(self, j: int) -> torch.Tensor:
        """The grad of member j as the kernel reads it: the grad itself where it lines up with its
        param, else a copy that does (torch accepts grads of any strides). Rebuild where torch's own
        step must update the param instead."""
        param = self.params[j]
        grad = param.grad
        if grad is None or _checks.grad_reason(param, grad) is not None:
            raise Rebuild
        lined_up = _checks.in_layout_of(param, grad)
        if lined_up is not grad:
            assert self.copies is not None  # gather() starts the step's list
            self.copies.append((grad, lined_up))
        return lined_up

    def _finish(self, unscaled: bool) -> None:
        if unscaled and self.copies:
            for grad, copy in self.copies:
                grad.copy_(copy)  # the unscaled grad, as torch's fused step leaves it
        self.copies = None
        # The params and step counts changed in place: autograd must see it, as after torch's
        # in-place updates.
        increment_version(self.params + self.steps)


class CpuCall(Call):
    """A call of the native CPU kernel through a PointerTable."""

    def __init__(self, spec: Kernel, layout: tuple[Optional[str], ...], params: list[torch.Tensor], indices: list[int],
                 state_addresses: list[Optional[list[int]]], step: int, state: Any, watched: tuple[str, ...],
                 held: list[torch.Tensor]) -> None:
        super().__init__(spec, layout, params, indices, state_addresses, step, state, watched, held)
        dtype = _checks.kernel_dtype(params[0].dtype)
        self.table = PointerTable(str(dtype).replace("torch.", ""),
                                          [_checks.kernel_numel(p) for p in params],
                                          2 + len(state_addresses))
        self.table.set(PARAM, self.param_addresses)
        for k, addresses in enumerate(state_addresses, start=2):
            self.table.set(k, addresses)
        streams = {name: k for k, name in enumerate(self.stream_names) if name is not None}
        self._watched: Optional[dict[str, Any]] = dict(
            params=list(params), dtype=params[0].dtype, strides=[p.stride() for p in params],
            names=watched,
            name_streams=tuple(STEP_STREAM if n == "step" else streams[n] for n in watched),
            held=list(held), step_dtypes=_checks.STEP_DTYPES, check_conj=params[0].is_complex())
        self.table.watch(state=None, step=float(step), **self._watched)

    def gather(self, unscaling: bool) -> None:
        """Checks every fact the table relies on and sets this step's grads; raises Rebuild when the
        plan is stale, Overlap when a written buffer overlaps another."""
        self.copies = []
        if self._watched is not None and self._watched_state() is not None:
            # From the second step on, the entries are in the state dict: check them there too
            # (where there are any: torch keeps no state for SGD without momentum).
            if self.watched:
                self.table.watch(state=self.state, step=float(self.step), **self._watched)
            self._watched = None
        if self.scalars is not None:
            self.scalars.check(self.params, None if self._watched is not None else self.state)
        result = self.table.gather(GRAD)
        if result is not None:
            reason, which = result
            if reason != GRAD_SLOW:
                raise Rebuild
            for j in which:  # type: ignore[union-attr]  # GRAD_SLOW comes with a list
                self.table.set_one(GRAD, j, self._grad_for_kernel(j).data_ptr())
        spec = self.spec
        problem = self.table.check(spec.written | (1 << GRAD if unscaling else 0), spec.optional)
        if problem is not None:
            raise _overlap(self, problem)

    def run(self, hparams: tuple[Any, ...], amp: AmpScalars) -> None:
        """Runs the kernel (gather() has checked the call)."""
        grad_scale = amp.host_grad_scale()
        step = self.step + 1
        if self.scalars is not None:
            hparams = self.scalars.before_kernel(step, hparams)
        problem = self.spec.run(self.table, step, hparams, grad_scale)
        if self.scalars is not None:
            self.scalars.after_kernel(step)
        if problem is not None:  # gather() checked the call; reaching here is a pygd bug
            raise RuntimeError(f"pygd.torch: the kernel rejected a checked call: {problem}")
        if self.steps:
            self.table.store_steps(float(step))
        self.step = step
        self._finish(grad_scale != 1.0)


class CudaCall(Call):
    """A call of the CUDA kernel, enqueued on the current torch stream."""

    def __init__(self, spec: Kernel, layout: tuple[Optional[str], ...], params: list[torch.Tensor], indices: list[int],
                 state_addresses: list[Optional[list[int]]], step: int, state: Any, watched: tuple[str, ...],
                 held: list[torch.Tensor]) -> None:
        super().__init__(spec, layout, params, indices, state_addresses, step, state, watched, held)
        from .._backends import cuda
        self.launch = cuda.launch
        self.device = params[0].device
        self.dtype = str(_checks.kernel_dtype(params[0].dtype)).replace("torch.", "")
        self.sizes = [_checks.kernel_numel(p) for p in params]
        self.state_addresses = state_addresses
        self.shapes = [p.shape for p in params]
        self.layouts = [_checks.layout_of(p) for p in params]
        self.param_dtype = params[0].dtype  # every member's, when the plan was built
        self.grad_addresses: Optional[list[int]] = None

    def gather(self, unscaling: bool) -> None:
        """The checks CpuCall's native gather makes (pointer_table.cpp), in Python: a GPU step is
        enqueued, so the host cost of these checks overlaps the device's work."""
        self.copies = []
        state = self._watched_state()
        per = len(self.watched)
        for j, param in enumerate(self.params):
            shape, layout, dtype = self.shapes[j], self.layouts[j], self.param_dtype
            if not _same_memory(param, self.param_addresses[j], shape, layout, dtype):
                raise Rebuild
            entry = None if state is None else state.get(param)
            if state is not None and not isinstance(entry, dict):
                raise Rebuild
            for i, name in enumerate(self.watched):
                held = self.held[j * per + i]
                if entry is not None and entry.get(name) is not held:
                    raise Rebuild
                if name == "step":
                    if held.device != self.device or held.dtype != torch.float32 or held.numel() != 1:
                        raise Rebuild
                elif not _same_memory(held, self._state_address(name, j), shape, layout, dtype):
                    raise Rebuild
        self.grad_addresses = [self._grad_for_kernel(j).data_ptr() for j in range(len(self.params))]

    def _state_address(self, name: str, j: int) -> int:
        addresses = self.state_addresses[self.stream_names.index(name) - 2]
        assert addresses is not None  # a watched name is a present stream
        return addresses[j]

    def run(self, hparams: tuple[Any, ...], amp: AmpScalars) -> None:
        """Enqueues the kernel (gather() has checked the call)."""
        grad_scale, found_inf = amp.on(self.device)
        streams = (self.param_addresses, self.grad_addresses, *self.state_addresses)
        step: Optional[int]
        stream = torch.cuda.current_stream(self.device).cuda_stream
        if self.steps:
            # torch's fused protocol: count the step on the device, let the kernel read it (and
            # skip when found_inf), then take the count back where the step was skipped. The
            # members' counts were equal when the plan was built (read there); the kernel reads the
            # first member's.
            torch._foreach_add_(self.steps, 1)
            step, step_address = None, self.steps[0].data_ptr()
        else:
            step, step_address = self.step + 1, 0
        self.launch(self.spec.name, self.dtype, self.sizes, streams, step, step_address,
                    hparams, _address(grad_scale), _address(found_inf), stream,
                    self.device.index)
        if self.steps and found_inf is not None:
            # torch takes a tensor as the scalar too (its stubs list numbers only)
            torch._foreach_sub_(self.steps, found_inf)  # type: ignore[call-overload]
        self.step += 1  # a host count for calls without step tensors (SGD: is the buffer new?)
        self._finish(grad_scale is not None)


def _same_memory(tensor: torch.Tensor, address: int, shape: torch.Size,
                 layout: Optional[tuple[int, ...]], dtype: torch.dtype) -> bool:
    """Whether `tensor` still has the memory, shape, layout and dtype recorded for it."""
    return ((tensor.data_ptr() == address or tensor.numel() == 0) and tensor.dtype == dtype
            and tensor.shape == shape and _checks.layout_of(tensor) == layout
            and not tensor.is_conj() and not tensor.is_neg())


def _address(tensor: Optional[torch.Tensor]) -> int:
    return 0 if tensor is None else tensor.data_ptr()


def _overlap(call: Call, problem: tuple[int, int, int, int, int]) -> Overlap:
    _, stream, index, other_stream, other_index = problem

    def where(s: int, i: int) -> str:
        return f"{call.stream_names[s]} of {_checks.name_of(call.indices[i])}"

    return Overlap([call.params[index], call.params[other_index]],
                   f"its {where(stream, index)} overlaps the {where(other_stream, other_index)} in "
                   "memory, and the update writes one of them")
