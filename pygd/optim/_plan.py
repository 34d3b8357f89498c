"""How an optimizer steps: its plan, one functional call per param group, dtype and step count,
built once and reused while what it names still holds (every fact re-checked each step)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from .. import _backends, _validate
from .._state_scalars import SCALARS
from .._typing import FloatArray, ParamGroup
from .._validate import Problem

if TYPE_CHECKING:
    from ._base import Optimizer


class Call:
    """One functional call of a step: params of one group that share a dtype, a step count and
    the state scalars (NAdam's mu_product)."""
    __slots__ = ("group", "indices", "start", "stop", "params", "states", "step_states")

    def __init__(self, group: ParamGroup, indices: list[int], params: list[FloatArray],
                 states: dict[str, list[FloatArray]], step_states: list[dict[str, Any]]) -> None:
        self.group = group
        self.indices = indices  # global param indices, ascending
        contiguous = indices == list(range(indices[0], indices[0] + len(indices)))
        self.start: Optional[int]
        self.stop: Optional[int]
        self.start, self.stop = (indices[0], indices[-1] + 1) if contiguous else (None, None)
        self.params = params
        self.states = states  # {state name: [array per param]}
        self.step_states = step_states  # the params' state dicts, whose "step" the call advances

    def grads(self, grads: Sequence[Any]) -> list[Any]:
        """This call's grads, picked from the step's (aligned with the optimizer's params)."""
        if self.start is not None:
            return grads[self.start:self.stop]  # type: ignore[return-value]  # a list's slice: a list
        return [grads[i] for i in self.indices]


def make_plan(opt: Optimizer, grads: Sequence[Any]) -> list[Call]:
    """The calls of one step, allocating the state of params that step for the first time."""
    plan: list[Call] = []
    index = 0
    for group in opt.param_groups:
        needed = opt._needed_states(group)
        # (dtype, step count, state scalars) -> [(index, param)]: one call each
        runs: dict[tuple[Any, ...], list[tuple[int, FloatArray]]] = {}
        for p in group["params"]:
            if grads[index] is not None:
                state = opt.state.setdefault(index, {"step": 0})
                for name in needed:
                    if name not in state:
                        initial = opt._initial_state(name, p, group)
                        if initial is not None:  # None: a state of the other form (Adafactor's)
                            state[name] = initial
                for name, _ in opt._state_scalars:
                    state.setdefault(name, SCALARS[name].initial(group))
                key = (p.dtype, state["step"], *(state[name] for name, _ in opt._state_scalars))
                runs.setdefault(key, []).append((index, p))
            index += 1
        for members in runs.values():
            indices = [i for i, _ in members]
            states = [opt.state[i] for i in indices]
            # None for a state of the other form (Adafactor's), which its kernel does not read
            arrays: dict[str, list[Any]] = {name: [s.get(name) for s in states] for name in needed}
            plan.append(Call(group, indices, [p for _, p in members], arrays, states))
    return plan


def plan_holds(opt: Optimizer, plan: list[Call]) -> bool:
    """Whether a cached plan still names what the optimizer holds (the plan key has checked the
    groups, their params lists' identities and lengths, and the states their options need):
    each call's params are still in their groups' lists, each param's state dict and state
    arrays are still the ones in opt.state (a user may put new arrays there, or replace a whole
    entry), and the call's params are still at one step count. What the arrays are (memory,
    shape, dtype) is checked again by the functional call itopt."""
    params, state = opt.params, opt.state
    for call in plan:
        if not same_objects(call.params, params[call.start:call.stop] if call.start is not None
                     else [params[i] for i in call.indices]):
            return False
        # Each the call's own state dict once same_objects below holds (None: not).
        entries: list[Any] = [state.get(i) for i in call.indices]
        if not same_objects(entries, call.step_states):
            return False
        for name, arrays in call.states.items():
            if not same_objects([entry.get(name) for entry in entries], arrays):
                return False
        for name in ("step", *(name for name, _ in opt._state_scalars)):
            value = entries[0].get(name)
            if any(entry.get(name) != value for entry in entries):
                return False
    return True


def check_plan(opt: Optimizer, plan: list[Call], grads: Sequence[Any]) -> None:
    backend = _backends.get(opt.backend)
    check = getattr(backend, "check", None) or _validate.check_streams
    for g, group in enumerate(opt.param_groups):
        opt._check_group(group, where=f"param_groups[{g}]: ")
    for call in plan:
        streams = (call.params, call.grads(grads), *(call.states.get(n) for n in opt._state_streams))
        problem = check(opt._kernel, streams)
        if problem is not None:
            raise _global_error(opt, problem, call, grads)


def _global_error(opt: Optimizer, problem: Problem, call: Call, grads: Sequence[Any]) -> Exception:
    """The exception for `problem` in `call`, naming arrays by their index in the optimizer."""
    code, k, i, k2, i2 = problem
    remap: Any = lambda index: call.indices[index] if index >= 0 else -1  # noqa: E731
    count = len(grads)
    streams: list[Any] = [opt.params, grads]
    for name in opt._state_streams:
        streams.append([opt.state.get(j, {}).get(name) for j in range(count)])
    return _validate.buffer_error((code, k, remap(i), k2, remap(i2)), opt._kernel, streams)


def same_objects(a: Sequence[object], b: Sequence[object]) -> bool:
    """Whether two lists hold the same objects, in order (identity)."""
    return len(a) == len(b) and all(map(operator.is_, a, b))
