"""How a param group steps: its kernel calls, built once and reused while nothing changes.

A plan splits a group's params into calls, one per dtype and step count (usually a single call for
the whole group). Each call owns a native PointerTable: the addresses of the params and of their state
tensors are set when the plan is built; at each step only the grads' addresses are gathered, which
one native loop over the params (PointerTable.gather_grads) that also checks that each param still
has the storage the table points to.

Each call's `step` tensors (torch keeps one 0-dim tensor per param, in state[p]["step"]) are views
into one 1-D tensor, so advancing all of them is a single add_ (torch's own _foreach_add_ over 2000
0-dim tensors costs ~9 ms on CPU). The host keeps the same count as an int, so no tensor is read per
step. A plan is rebuilt when the group, its params, their storage, the state dict or the set of params
with grads changes: state set through load_state_dict is picked up, and step counts that diverge
(a param whose grad was None is not advanced) split the call.
"""

import torch

from .. import _native
from . import _checks

PARAM, GRAD = 0, 1
# PointerTable.gather_grads's reason for leaving the fast path (csrc/bindings/pointer_table.h).
GRAD_NOT_CONTIGUOUS = 2


class Rebuild(Exception):
    """The plan no longer matches the group (a grad appeared or vanished, a param moved)."""


class Call:
    """One native call: params of one dtype with equal step counts, and their pointer table."""

    __slots__ = ("params", "indices", "table", "steps", "step")

    def __init__(self, params, indices, table, steps, step):
        self.params = params      # the params, in group order
        self.indices = indices    # their indices in the optimizer (for messages)
        self.table = table
        self.steps = steps        # 1-D tensor whose elements are the params' state["step"], or None
        self.step = step          # the step count before this step, as the host sees it


class Prepared:
    """A call checked and ready to run this step (grads gathered)."""

    __slots__ = ("call", "hparams", "copies")

    def __init__(self, call, hparams, copies):
        self.call = call
        self.hparams = hparams
        self.copies = copies      # (original grad, contiguous copy) pairs, or None


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
            by_key.setdefault((param.dtype, step), []).append((param, index, entry))
        return [self._make_call(members, dtype, step) for (dtype, step), members in by_key.items()]

    def _make_call(self, members, dtype, step):
        params = [p for p, _, _ in members]
        indices = [i for _, i, _ in members]
        table = _native.PointerTable(str(dtype).replace("torch.", ""), [p.numel() for p in params],
                                     2 + len(self.layout))
        table.set(PARAM, [p.data_ptr() for p in params])
        for k, name in enumerate(self.layout, start=2):
            table.set(k, None if name is None else [entry[name].data_ptr() for _, _, entry in members])
        steps = None
        if self.spec.has_step_state:
            # One tensor for the call's step counts; state[p]["step"] becomes a 0-dim view of it.
            first = members[0][2]["step"]
            steps = torch.full((len(params),), float(step), dtype=first.dtype, device=first.device)
            for i, (_, _, entry) in enumerate(members):
                entry["step"] = steps[i]
        return Call(params, indices, table, steps, step)

    def commit(self):
        """Puts the state made by the last build into the optimizer's state (once)."""
        for param, entry in self.pending:
            self.state[param].update(entry)
        self.pending = []

    # ------------------------------------------------------------------ each step

    def prepare(self, hparams, unscaling):
        """Gather this step's grads into the calls' tables and check them; raises Rebuild when the
        plan is stale, or the error for a bad grad. Writes nothing the user can see."""
        for param in self.absent:
            if param.grad is not None:
                raise Rebuild
        prepared = []
        for call in self.calls:
            copies = None
            failure = call.table.gather_grads(call.params, GRAD)
            if failure is not None:
                reason, _ = failure
                if reason != GRAD_NOT_CONTIGUOUS:
                    raise Rebuild   # a grad became None, or a param's storage was replaced
                addresses, copies = self._gather_slow(call, [p.grad for p in call.params])
                call.table.set(GRAD, addresses)
            problem = call.table.check(self.spec.written | (1 << GRAD if unscaling else 0),
                                       self.spec.optional)
            if problem is not None:
                raise self._overlap_error(call, problem)
            prepared.append(Prepared(call, hparams, copies))
        return prepared

    def _gather_slow(self, call, grads):
        """Grads that failed the fast test: an error for unusable ones, contiguous copies for
        non-contiguous dense ones (torch accepts any strides)."""
        addresses, copies = [], []
        for param, grad, index in zip(call.params, grads, call.indices):
            error = _checks.check_grad(param, grad, index)
            if error is not None:
                raise error
            if not grad.is_contiguous():
                copy = grad.contiguous()
                copies.append((grad, copy))
                grad = copy
            addresses.append(grad.data_ptr())
        return addresses, copies

    def _overlap_error(self, call, problem):
        _, stream, index, other_stream, other_index = problem
        names = ("param", "grad") + tuple(n or "" for n in self.layout)

        def where(s, i):
            return f"{names[s]} of {_checks.name_of(call.indices[i])}"

        return ValueError(f"{where(stream, index)} overlaps {where(other_stream, other_index)} in "
                          "memory, and the update writes one of them")
