"""How a param group steps: its kernel calls (_calls.py), built once and reused while nothing changes.

A plan splits a group's params into calls, one per device, dtype and step count: usually a single
call for the whole group. It is rebuilt when the group, its params, their storage, the state dict or
the set of params with grads changes: state set through load_state_dict is picked up, and step counts
that diverge (a param whose grad was None is not advanced) split the call.
"""

from . import _checks
from ._calls import Rebuild, make_call


class GroupPlan:
    def __init__(self, spec, optimizer, group, first_index):
        self.spec = spec
        self.group = group
        self.params = group["params"]
        self.state = optimizer.state
        self.first_index = first_index
        self.layout = spec.state_names(group)
        present = [p.grad is not None for p in self.params]
        self.absent = [p for p, has in zip(self.params, present) if not has]
        self.calls = self._build_calls(optimizer, present)

    def matches(self, optimizer, group, first_index):
        """Whether this plan still describes `group` (cheap: identities and the stream layout)."""
        return (self.group is group and self.params is group["params"] and self.state is optimizer.state
                and self.first_index == first_index and self.layout == self.spec.state_names(group))

    # ------------------------------------------------------------------ build

    def _build_calls(self, optimizer, present):
        """The calls, with each param's state as it will be after commit(): the state tensors made
        for new params and every step view wait in self.pending, so a step that fails its checks
        (in this group or a later one) leaves the optimizer's state as it was."""
        spec, state = self.spec, self.state
        # torch keeps no state at all for SGD without momentum: touch the state dict only if needed.
        keeps_state = spec.has_step_state or any(self.layout)
        self.pending = []
        by_key = {}
        for offset, (param, has_grad) in enumerate(zip(self.params, present)):
            if not has_grad:
                continue
            index = self.first_index + offset
            _checks.check_param(param, index)
            error = _checks.check_grad(param, param.grad, index)
            if error is not None:
                raise error
            entry = dict(state.get(param, ()))
            step = spec.init_state(optimizer, param, entry, self.group)
            for name in self.layout:
                if name is not None:
                    entry[name] = _checks.check_state(param, entry, name, index)
            if keeps_state:
                self.pending.append((param, entry))
            by_key.setdefault((param.device, param.dtype, step), []).append((param, index, entry))
        return [make_call(self.spec, self.layout, members, step, state)
                for (_, _, step), members in by_key.items()]

    def commit(self):
        """Puts the state made by the last build into the optimizer's state (once)."""
        for param, entry in self.pending:
            self.state[param].update(entry)
        self.pending = []

    # ------------------------------------------------------------------ each step

    def prepare(self, unscaling):
        """Gathers this step's grads into the calls and checks them; raises Rebuild when the plan
        is stale, or the error for a bad grad. Writes nothing the user can see."""
        for param in self.absent:
            if param.grad is not None:
                raise Rebuild
        for call in self.calls:
            call.gather(unscaling)
        return self.calls
