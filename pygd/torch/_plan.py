"""How a param group steps: its native kernel calls (_calls.py), and the params torch's own step
updates (_fallback.py), planned once and reused while nothing changes.

A plan routes each param with a grad: natively, or through torch with a reason (_checks.py). The
native ones are split into calls, one per device, dtype and step count: usually a single call for
the whole group. What a plan relies on, and where each fact is re-checked at every step:
- the group: the same dict, its "params" the same list holding the same tensors in the same order
  (`matches`, by identity of each item), and the same stream layout and flags (`Kernel.signature`);
- the optimizer's state dict: the same object (`matches`);
- which params have grads, and for params routed by their grad, the grad's reason (`prepare`);
- each native param's memory, state entries, step count and grad: the native gather
  (csrc/bindings/pointer_table.cpp; CudaCall.gather in Python).
Any change makes the plan rebuild from what the group holds now: state set through load_state_dict is
picked up, and step counts that diverge (a param whose grad was None is not advanced, a count edited
in place) split the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Union

import torch

from .._backends.native import same_objects
from . import _checks
from ._calls import CpuCall, CudaCall, Overlap, Rebuild, make_call

# A param routed natively: (param, index in the optimizer, its state entry, its step count).
_Member = tuple[torch.Tensor, int, dict[str, Any], int]

if TYPE_CHECKING:
    from ._kernels import Kernel

NO_GRAD = "has no grad"


class GroupPlan:
    """How one param group steps: its native calls, and the params torch's own step updates."""

    def __init__(self, spec: Kernel, optimizer: torch.optim.Optimizer, group: dict[str, Any],
                 first_index: int, forced: Optional[dict[torch.Tensor, str]] = None) -> None:
        self.spec = spec
        self.group = group
        self.params = group["params"]
        self.snapshot = list(self.params)
        self.state = optimizer.state
        self.first_index = first_index
        self.signature = spec.signature(group)
        self.layout = self.signature[0]
        # Params torch's own step must update although nothing about them says so up front: their
        # buffers overlapped where the update writes (found by a gather). Kept across rebuilds.
        self.forced = dict(forced or {})
        self.native: list[int] = []    # optimizer indices of the params the calls update
        self.to_torch: list[tuple[torch.Tensor, int, str]] = []  # (param, optimizer index, reason), in group order
        self.skipped: list[int] = []   # optimizer indices of params without a grad
        # (param, reason) for params routed by their grad: re-checked each step.
        self.unsettled: list[tuple[torch.Tensor, Optional[str]]] = []
        self.calls = self._build_calls(optimizer)

    def matches(self, optimizer: torch.optim.Optimizer, group: dict[str, Any], first_index: int) -> bool:
        """Whether this plan still describes `group`: identities, the params list's contents, the
        stream layout and flags."""
        return (self.group is group and self.params is group["params"]
                and same_objects(self.params, self.snapshot) and self.state is optimizer.state
                and self.first_index == first_index and self.signature == self.spec.signature(group))

    # ------------------------------------------------------------------ build

    def _route(self, param: torch.Tensor, occurrences: dict[int, int], whole_group: Optional[str]
               ) -> tuple[Optional[str], bool]:
        """(reason torch's own step updates `param`, or None) and whether the reason is its grad's."""
        reason = whole_group or self.forced.get(param)
        if reason is None and occurrences[id(param)] > 1:
            reason = f"appears {occurrences[id(param)]} times in its param group"
        if reason is None:
            reason = _checks.param_reason(param)
        if reason is not None:
            return reason, False
        reason = _checks.grad_reason(param, param.grad)  # type: ignore[arg-type]  # has a grad
        return reason, reason is not None

    def _build_calls(self, optimizer: torch.optim.Optimizer) -> list[Union[CpuCall, CudaCall]]:
        """The calls, with each param's state as it will be after commit(): the state tensors made
        for new params wait in self.pending, so a step that fails its checks (in this group or a
        later one) leaves the optimizer's state as it was."""
        spec, state, group = self.spec, self.state, self.group
        # torch keeps no state at all for SGD without momentum: touch the state dict only if needed.
        keeps_state = spec.has_step_state or any(self.layout)
        whole_group = spec.group_reason(group)
        occurrences: dict[int, int] = {}
        for param in self.params:
            occurrences[id(param)] = occurrences.get(id(param), 0) + 1
        self.pending: list[tuple[torch.Tensor, dict[str, Any]]] = []
        candidates: list[_Member] = []
        for offset, param in enumerate(self.params):
            index = self.first_index + offset
            if param.grad is None:
                self.skipped.append(index)
                self.unsettled.append((param, NO_GRAD))
                continue
            reason, by_grad = self._route(param, occurrences, whole_group)
            if reason is None:
                entry = dict(state.get(param, ()))
                created = spec.init_state(optimizer, param, entry, group)
                count = entry.get("step")
                on_gpu = param.device.type != "cpu"
                if on_gpu and isinstance(count, torch.Tensor) and count.device.type == "cpu":
                    # A count from a for-loop checkpoint: the CUDA kernels read it on the device, as
                    # torch's fused optimizers do after load_state_dict.
                    entry["step"] = count.to(device=param.device, dtype=torch.float32)
                reason = self._state_reason(param, entry) or spec.scalar_reason(param, entry)
                if reason is None:
                    step, reason = spec.count(param, entry, created)
            if reason is not None:
                if by_grad:
                    self.unsettled.append((param, reason))
                self.to_torch.append((param, index, reason))
                continue
            for name in self.layout:
                if name is not None:  # state loaded in another layout is copied into the param's
                    entry[name] = _checks.in_layout_of(param, entry[name])
            candidates.append((param, index, entry, step))  # type: ignore[arg-type]  # a count
        members = self._with_own_step_tensors(candidates)
        # One call per device, dtype, step count and state scalars' values (NAdam's mu_product).
        by_key: dict[tuple[Any, ...], list[tuple[torch.Tensor, int, dict[str, Any]]]] = {}
        for param, index, entry, step in members:
            if keeps_state:
                self.pending.append((param, entry))
            self.native.append(index)
            key = (param.device, param.dtype, step, *spec.scalar_values(entry))
            by_key.setdefault(key, []).append((param, index, entry))
        return [make_call(spec, self.layout, group_members, key[2], state, group, key[3:])
                for key, group_members in by_key.items()]

    def _state_reason(self, param: torch.Tensor, entry: dict[str, Any]) -> Optional[str]:
        for name in self.layout:
            if name is not None:
                reason = _checks.state_reason(param, entry, name)
                if reason is not None:
                    return reason
        return None

    def _with_own_step_tensors(self, candidates: list[_Member]) -> list[_Member]:
        """`candidates` less the params that share a step tensor (torch would count each share once
        per param): those go through torch's own step."""
        if not self.spec.has_step_state:
            return candidates
        owners: dict[int, list[int]] = {}
        for param, index, entry, _ in candidates:
            owners.setdefault(entry["step"].data_ptr(), []).append(index)
        shared = {i for indices in owners.values() if len(indices) > 1 for i in indices}
        if not shared:
            return candidates
        kept = []
        for member in candidates:
            param, index = member[0], member[1]
            if index in shared:
                self.to_torch.append((param, index, "shares its state['step'] tensor with another param"))
            else:
                kept.append(member)
        self.to_torch.sort(key=lambda route: route[1])
        return kept

    def commit(self) -> None:
        """Puts the state made by the last build into the optimizer's state (once)."""
        for param, entry in self.pending:
            self.state[param].update(entry)
        self.pending = []

    # ------------------------------------------------------------------ each step

    def prepare(self, unscaling: bool) -> list[Union[CpuCall, CudaCall]]:
        """Gathers this step's grads into the calls and checks everything they rely on; raises
        Rebuild when the plan is stale, Overlap when buffers overlap. Writes nothing the user can
        see."""
        for param, reason in self.unsettled:
            grad = param.grad
            now = NO_GRAD if grad is None else _checks.grad_reason(param, grad)
            if now != reason:
                raise Rebuild
        for call in self.calls:
            call.gather(unscaling)
        return self.calls

    def torch_params(self) -> list[torch.Tensor]:
        """The params torch's own step updates this step, in group order."""
        return [param for param, _, _ in self.to_torch]


def plan_group(spec: Kernel, optimizer: torch.optim.Optimizer, group: dict[str, Any], first_index: int,
               plan: Optional[GroupPlan], unscaling: bool) -> tuple[GroupPlan, list[Union[CpuCall, CudaCall]]]:
    """(plan, calls) for this step of `group`: `plan` reused if it still matches, else a new one;
    the calls gathered and checked."""
    if plan is None or not plan.matches(optimizer, group, first_index):
        plan = GroupPlan(spec, optimizer, group, first_index)
    # A fresh plan gathers what it was built from; only overlaps (each sending params to torch)
    # can make it start over, so this ends within len(params) + 1 rounds.
    for _ in range(len(group["params"]) + 2):
        try:
            return plan, plan.prepare(unscaling)
        except Rebuild:
            plan = GroupPlan(spec, optimizer, group, first_index, plan.forced)
        except Overlap as overlap:
            forced = dict(plan.forced)
            forced.update((p, str(overlap)) for p in overlap.params)
            plan = GroupPlan(spec, optimizer, group, first_index, forced)
    raise RuntimeError("pygd.torch: a param group could not be planned (a pygd bug)")

