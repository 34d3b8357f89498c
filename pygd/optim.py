"""Optimizer classes for NumPy training loops: torch.optim's constructors, param groups and state.

    opt = pygd.optim.Adam([w, b], lr=1e-3)             # or a list of param-group dicts
    for x, y in data:
        opt.step(grads(w, b, x, y))                      # grads aligned with the params

Each class only gathers arrays: `step` makes one functional call (pygd.functional) per param group,
which is one native multi-tensor call. What it keeps between steps:

- `param_groups`: a list of dicts, one per group, holding "params" and the hyperparameters under
  torch.optim's names. Edit them freely (a new "lr" applies at the next step).
- `state`: {param index: {"step": int, <state name>: ndarray}}, the index counting params across
  groups in order, as torch.optim's state_dict does. States use torch's names ("exp_avg",
  "momentum_buffer", "sum", ...), are allocated at a param's first step and updated in place.
- `steps`: the number of step() calls made, which attached LR schedules read
  (pygd.schedules.attach).

`state_dict()` / `load_state_dict()` use plain dicts of ndarrays and Python scalars (pickle them, or
`np.savez(f, **to_arrays(sd))` and `from_arrays(np.load(f))`), and a resumed run continues
bit-identically.

A grad may be None: that param is skipped this step (no state change), as torch skips params
without a .grad.
"""

import abc
import json
import math
import operator

import numpy as np

from . import _backends, _validate, functional

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "to_arrays", "from_arrays"]

# Stands for a state list the optimizer will provide, when a functional validator is run on
# hyperparameters alone (its required-state checks must pass).
_PROVIDED = object()
# Keys torch.optim keeps in param groups that mean nothing for NumPy arrays: ignored when loading a
# state_dict that came from torch.
_TORCH_ONLY_KEYS = frozenset({"foreach", "fused", "capturable", "differentiable", "initial_lr"})
_NoneType = type(None)


class _Call:
    """One functional call of a step: params of one group that share a dtype and a step count."""
    __slots__ = ("group", "indices", "start", "stop", "params", "states", "step_states")

    def __init__(self, group, indices, params, states, step_states):
        self.group = group
        self.indices = indices  # global param indices, ascending
        contiguous = indices == list(range(indices[0], indices[0] + len(indices)))
        self.start, self.stop = (indices[0], indices[-1] + 1) if contiguous else (None, None)
        self.params = params
        self.states = states  # {state name: [array per param]}
        self.step_states = step_states  # the params' state dicts, whose "step" the call advances

    def grads(self, grads):
        if self.start is not None:
            return grads[self.start:self.stop]
        return [grads[i] for i in self.indices]


class Optimizer(abc.ABC):
    """The base class: param groups, per-param state, state_dict, and the step loop.

    A subclass names its functional counterpart's kernel (`_kernel`), its state arrays in the
    kernel's stream order (`_state_streams`), and provides `_check_group`, `_needed_states` and
    `_update`.
    """

    _kernel = None          # key of _validate.STREAMS
    _state_streams = ()     # torch's state names, in the kernel's stream order after (params, grads)

    def __init__(self, params, defaults, backend="auto"):
        _backends.get(backend)  # an unknown or unavailable backend fails here, not at the first step
        self.backend = backend
        self.defaults = defaults
        self._check_group(dict(defaults), where="")
        self.param_groups = []
        self.state = {}
        self.steps = 0
        self._plan = None
        self._plan_key = None
        self._count = 0
        self._lr_schedule = None  # set by pygd.schedules.attach
        if isinstance(params, np.ndarray):
            raise TypeError("params must be a list of arrays or of param-group dicts, got a single "
                            "ndarray; pass [array]")
        try:
            params = list(params)
        except TypeError:
            raise TypeError(f"params must be a list of arrays or of param-group dicts, got "
                            f"{type(params).__name__}") from None
        if not params:
            raise ValueError("params is empty: the optimizer needs at least one array")
        if all(isinstance(p, dict) for p in params):
            groups = params
        elif any(isinstance(p, dict) for p in params):
            raise TypeError("params must be all arrays or all param-group dicts, not a mix")
        else:
            groups = [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])

    # ------------------------------------------------------------------------- groups

    @property
    def params(self):
        """Every param, in index order (the order of state and of the grads step() takes)."""
        return [p for group in self.param_groups for p in group["params"]]

    def add_param_group(self, param_group):
        """Adds a group: a dict with "params" and any hyperparameters (the rest from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a param group needs a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, np.ndarray) else list(params)
        if not group["params"]:
            raise ValueError(f"param_groups[{len(self.param_groups)}] has no params")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        where = f"param_groups[{len(self.param_groups)}]: "
        self._check_group(group, where=where)
        existing = self.params
        for i, p in enumerate(group["params"]):
            _check_param(p, f"params[{len(existing) + i}]")
        _check_disjoint(existing + group["params"])
        self.param_groups.append(group)
        self._plan = None

    # ------------------------------------------------------------------------- stepping

    def step(self, grads):
        """One update of every param from `grads` (a list aligned with `params`, an array allowed
        when there is one param). Validates everything before any array is written."""
        # What the cached plan was built for: each group's identity, params list and length, and
        # the states its options need. Compared whole each step (cheap), rebuilt on any change.
        key = [(id(g), id(g["params"]), len(g["params"]), self._needed_states(g))
               for g in self.param_groups]
        if key != self._plan_key:
            self._plan, self._plan_key = None, key
            self._count = sum(k[2] for k in key)
        count = self._count
        if type(grads) is not list:
            if isinstance(grads, np.ndarray) and count == 1:
                grads = [grads]
            elif not isinstance(grads, (list, tuple)):
                raise TypeError(f"grads must be a list of arrays aligned with the params, got "
                                f"{type(grads).__name__}")
        if len(grads) != count:
            raise ValueError(f"grads has {len(grads)} arrays but the optimizer has {count} params")
        if self._lr_schedule is not None:
            self._lr_schedule(self)
        if _NoneType in map(type, grads):
            # Skips params without a grad, whose step counts then fall behind: the cached plan (one
            # call per shared step count) no longer holds.
            plan = self._make_plan(grads)
            self._plan = None
        else:
            if self._plan is None or not self._plan_holds(self._plan):
                self._plan = self._make_plan(grads)
            plan = self._plan
        if len(plan) != 1 or plan[0].start != 0 or plan[0].stop != count:
            # Several calls (or params skipped): every call is checked before the first one writes,
            # and a problem is reported with the param's index in the optimizer.
            self._check_plan(plan, grads)
        for call in plan:
            step = call.step_states[0]["step"] + 1
            self._update(call.params, grads[call.start:call.stop] if call.start is not None
                         else call.grads(grads), call.states, step, call.group)
            for state in call.step_states:
                state["step"] = step
        self.steps += 1

    def _make_plan(self, grads):
        """The calls of one step, allocating the state of params that step for the first time."""
        plan = []
        index = 0
        for group in self.param_groups:
            needed = self._needed_states(group)
            runs = {}  # (dtype, step count) -> [(index, param)]: one call each
            for p in group["params"]:
                if grads[index] is not None:
                    state = self.state.setdefault(index, {"step": 0})
                    for name in needed:
                        if name not in state:
                            state[name] = self._initial_state(name, p, group)
                    runs.setdefault((p.dtype, state["step"]), []).append((index, p))
                index += 1
            for members in runs.values():
                indices = [i for i, _ in members]
                states = [self.state[i] for i in indices]
                arrays = {name: [s[name] for s in states] for name in needed}
                plan.append(_Call(group, indices, [p for _, p in members], arrays, states))
        return plan

    def _plan_holds(self, plan):
        """Whether a cached plan still names what the optimizer holds (the plan key has checked the
        groups, their params lists' identities and lengths, and the states their options need):
        each call's params are still in their groups' lists, each param's state dict and state
        arrays are still the ones in self.state (a user may put new arrays there, or replace a whole
        entry), and the call's params are still at one step count. What the arrays are (memory,
        shape, dtype) is checked again by the functional call itself."""
        params, state = self.params, self.state
        for call in plan:
            if not _same(call.params, params[call.start:call.stop] if call.start is not None
                         else [params[i] for i in call.indices]):
                return False
            entries = [state.get(i) for i in call.indices]
            if not _same(entries, call.step_states):
                return False
            for name, arrays in call.states.items():
                if not _same([entry.get(name) for entry in entries], arrays):
                    return False
            step = entries[0]["step"]
            if any(entry["step"] != step for entry in entries):
                return False
        return True

    def _check_plan(self, plan, grads):
        backend = _backends.get(self.backend)
        check = getattr(backend, "check", None) or _validate.check_streams
        for g, group in enumerate(self.param_groups):
            self._check_group(group, where=f"param_groups[{g}]: ")
        for call in plan:
            streams = (call.params, call.grads(grads), *(call.states.get(n) for n in self._state_streams))
            problem = check(self._kernel, streams)
            if problem is not None:
                raise self._global_error(problem, call, grads)

    def _global_error(self, problem, call, grads):
        """The exception for `problem` in `call`, naming arrays by their index in the optimizer."""
        code, k, i, k2, i2 = problem
        remap = lambda index: call.indices[index] if index >= 0 else -1  # noqa: E731
        count = len(grads)
        streams = [self.params, grads]
        for name in self._state_streams:
            streams.append([self.state.get(j, {}).get(name) for j in range(count)])
        return _validate.buffer_error((code, k, remap(i), k2, remap(i2)), self._kernel, streams)

    def _initial_state(self, name, param, group):
        return np.zeros_like(param)

    # ------------------------------------------------------------------------- state_dict

    def state_dict(self):
        """{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}], "steps": int}.

        As torch's, the state arrays are the optimizer's own (not copies): a checkpoint that must
        not follow later steps is saved or deep-copied before the next step."""
        groups, index = [], 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = list(range(index, index + len(group["params"])))
            index += len(group["params"])
            groups.append(packed)
        state = {i: dict(s) for i, s in self.state.items()}
        return {"state": state, "param_groups": groups, "steps": self.steps}

    def load_state_dict(self, state_dict):
        """Restores hyperparameters and state from state_dict(), copying the arrays in.

        Raises ValueError (TypeError for a malformed dict) and changes nothing when the dict is for
        another optimizer type or for params of other counts or shapes."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise TypeError("state_dict must be a dict with 'state' and 'param_groups', as "
                            "state_dict() returns")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(saved_groups)} param groups but the optimizer "
                             f"has {len(self.param_groups)}")
        expected = set(self.defaults)
        groups, index_map = [], {}
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            keys = set(saved) - {"params"} - _TORCH_ONLY_KEYS
            if not expected <= keys:
                raise ValueError(
                    f"state_dict is not for {type(self).__name__}: param_groups[{g}] has "
                    f"{sorted(keys)}, missing {sorted(expected - keys)}")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"state_dict's param_groups[{g}] has {len(saved['params'])} params "
                                 f"but the optimizer's has {len(group['params'])}")
            new = {k: v for k, v in saved.items() if k not in _TORCH_ONLY_KEYS}
            if "betas" in new:
                new["betas"] = tuple(new["betas"])
            new["params"] = group["params"]
            self._check_group(new, where=f"state_dict's param_groups[{g}]: ")
            groups.append(new)
            base = len(index_map)
            for offset, saved_index in enumerate(saved["params"]):
                index_map[_as_index(saved_index)] = base + offset
        state = {}
        params = self.params
        allowed = set(self._state_streams) | {"step"}
        for saved_index, saved_state in state_dict["state"].items():
            key = _as_index(saved_index)
            if key not in index_map:
                raise ValueError(f"state_dict has state for param {saved_index!r}, which no group lists")
            i = index_map[key]
            unknown = set(saved_state) - allowed
            if unknown:
                raise ValueError(f"state_dict is not for {type(self).__name__}: state[{saved_index}] "
                                 f"has {sorted(unknown)}; expected names among {sorted(allowed)}")
            state[i] = self._restored_state(saved_state, params[i], f"state[{saved_index}]")
        for g, group in enumerate(self.param_groups):  # all checks passed: commit
            group.clear()
            group.update(groups[g])
        self.state = state
        self.steps = _as_count(state_dict.get("steps", max((s["step"] for s in state.values()), default=0)),
                               "steps")
        self._plan = None

    def _restored_state(self, saved, param, where):
        restored = {"step": _as_count(saved.get("step", 0), f"{where}['step']")}
        for name, value in saved.items():
            if name == "step":
                continue
            array = np.asarray(value)
            if array.shape != param.shape:
                raise ValueError(f"{where}[{name!r}] has shape {array.shape} but its param has "
                                 f"shape {param.shape}")
            restored[name] = np.array(array, dtype=param.dtype, order="C", copy=True)
        if "step" not in saved and len(restored) > 1:
            # torch.optim.SGD keeps no step count: a momentum buffer means a step was taken.
            restored["step"] = 1
        return restored

    # ------------------------------------------------------------------------- per optimizer

    @abc.abstractmethod
    def _check_group(self, group, where):
        """Validates a group's hyperparameters (ValueError/TypeError prefixed with `where`)."""

    @abc.abstractmethod
    def _needed_states(self, group):
        """The state names a step with this group's options uses, in stream order."""

    @abc.abstractmethod
    def _update(self, params, grads, states, step, group):
        """The functional call for one group's params."""


def _validated(where, check, *args):
    try:
        return check(*args)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}{exc}") from None


def _same(a, b):
    """Whether two lists hold the same objects, in order (identity)."""
    return len(a) == len(b) and all(map(operator.is_, a, b))


def _check_param(p, where):
    if not isinstance(p, np.ndarray):
        raise TypeError(f"{where} must be a numpy.ndarray, got {type(p).__name__}")
    if p.dtype not in (np.float32, np.float64) or not p.dtype.isnative:
        raise TypeError(f"{where} has dtype {p.dtype}; pygd updates native-endian float32 and "
                        "float64 arrays")
    if not p.flags.c_contiguous:
        raise ValueError(f"{where} is not C-contiguous")
    if not p.flags.writeable:
        raise ValueError(f"{where} is read-only, but the optimizer updates it in place")
    if not p.flags.aligned:
        raise ValueError(f"{where} is not aligned to its dtype's size")


def _check_disjoint(params):
    spans = []
    for i, p in enumerate(params):
        if p.size:
            start = p.__array_interface__["data"][0]
            spans.append((start, start + p.nbytes, 0, i, True))
    problem = _validate._find_overlap(spans)
    if problem is not None:
        raise ValueError(f"params[{problem[2]}] and params[{problem[4]}] share memory (an array "
                         "listed twice, or two views of one array); each param must appear once")


def _as_index(key):
    try:
        return int(key)
    except (TypeError, ValueError):
        raise TypeError(f"state_dict param index must be an integer, got {key!r}") from None


def _as_count(value, where):
    number = float(np.asarray(value))  # a torch step tensor arrives as a float array
    if not (number >= 0 and number == math.floor(number)):
        raise ValueError(f"{where} must be a non-negative integer, got {value!r}")
    return int(number)


# ----------------------------------------------------------------------------- the optimizers

class SGD(Optimizer):
    """torch.optim.SGD: momentum, dampening, Nesterov, (coupled) weight decay, maximize."""
    _kernel = "sgd"
    _state_streams = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, backend="auto"):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize), backend)

    def _check_group(self, g, where):
        _validated(where, _validate.sgd, 1, g["lr"], g["momentum"], g["dampening"], g["nesterov"],
                   g["weight_decay"], _PROVIDED)

    def _needed_states(self, g):
        return ("momentum_buffer",) if g["momentum"] != 0 else ()

    def _update(self, params, grads, states, step, g):
        functional.sgd_(params, grads, states.get("momentum_buffer"), step=step, lr=g["lr"],
                        momentum=g["momentum"], dampening=g["dampening"], nesterov=g["nesterov"],
                        weight_decay=g["weight_decay"], maximize=g["maximize"], backend=self.backend)


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected moments, (coupled) weight decay, AMSGrad, maximize;
    decoupled_weight_decay=True makes it AdamW."""
    _kernel = "adam"
    _state_streams = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False, backend="auto"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay), backend)

    def _check_group(self, g, where):
        _validated(where, _validate.adam, 1, g["lr"], g["betas"], g["eps"], g["weight_decay"],
                   g["amsgrad"], _PROVIDED)

    def _needed_states(self, g):
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if g["amsgrad"] else ("exp_avg", "exp_avg_sq")

    def _update(self, params, grads, states, step, g):
        adam = functional.adamw_ if g["decoupled_weight_decay"] else functional.adam_
        adam(params, grads, states["exp_avg"], states["exp_avg_sq"], step=step, lr=g["lr"],
             betas=g["betas"], eps=g["eps"], weight_decay=g["weight_decay"], amsgrad=g["amsgrad"],
             max_exp_avg_sqs=states.get("max_exp_avg_sq"), maximize=g["maximize"],
             backend=self.backend)


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (default 1e-2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, backend="auto"):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, backend=backend)


class RMSprop(Optimizer):
    """torch.optim.RMSprop: optionally centered, with momentum, (coupled) weight decay, maximize."""
    _kernel = "rmsprop"
    _state_streams = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False, backend="auto"):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize),
                         backend)

    def _check_group(self, g, where):
        _validated(where, _validate.rmsprop, g["lr"], g["alpha"], g["eps"], g["weight_decay"],
                   g["momentum"], g["centered"], _PROVIDED, _PROVIDED)

    def _needed_states(self, g):
        return (("square_avg",) + (("momentum_buffer",) if g["momentum"] > 0 else ())
                + (("grad_avg",) if g["centered"] else ()))

    def _update(self, params, grads, states, step, g):
        functional.rmsprop_(params, grads, states["square_avg"], lr=g["lr"], alpha=g["alpha"],
                            eps=g["eps"], weight_decay=g["weight_decay"], momentum=g["momentum"],
                            centered=g["centered"], momentum_buffers=states.get("momentum_buffer"),
                            grad_avgs=states.get("grad_avg"), maximize=g["maximize"],
                            backend=self.backend)


class Adagrad(Optimizer):
    """torch.optim.Adagrad: learning-rate decay, (coupled) weight decay, initial accumulator, maximize."""
    _kernel = "adagrad"
    _state_streams = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, maximize=False, backend="auto"):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize), backend)

    def _check_group(self, g, where):
        _validated(where, _validate.adagrad, 1, g["lr"], g["lr_decay"], g["weight_decay"], g["eps"])
        _validated(where, _validate.non_negative, "initial_accumulator_value",
                   g["initial_accumulator_value"])

    def _needed_states(self, g):
        return ("sum",)

    def _initial_state(self, name, param, group):
        return np.full_like(param, group["initial_accumulator_value"])

    def _update(self, params, grads, states, step, g):
        functional.adagrad_(params, grads, states["sum"], step=step, lr=g["lr"], lr_decay=g["lr_decay"],
                            weight_decay=g["weight_decay"], eps=g["eps"], maximize=g["maximize"],
                            backend=self.backend)


# ----------------------------------------------------------------------------- saving

def to_arrays(state_dict):
    """A state_dict as {name: ndarray}, for np.savez: no pickling needed to load it back.

    State arrays keep their dtype ("state/<index>/<name>"), counts become int64 scalars, and the
    param groups travel as JSON text (Python's float repr round-trips exactly)."""
    arrays = {}
    for index, state in state_dict["state"].items():
        for name, value in state.items():
            arrays[f"state/{int(index)}/{name}"] = (np.int64(value) if name == "step"
                                                    else np.asarray(value))
    try:
        arrays["param_groups"] = np.array(json.dumps(state_dict["param_groups"]))
    except TypeError as exc:
        raise TypeError(f"param_groups must hold only JSON-representable values to be saved as "
                        f"arrays ({exc}); pickle the state_dict instead") from None
    arrays["steps"] = np.int64(state_dict.get("steps", 0))
    return arrays


def from_arrays(arrays):
    """The state_dict that to_arrays() flattened (e.g. np.load of an .npz file)."""
    state = {}
    for key in arrays.keys():
        if key.startswith("state/"):
            _, index, name = key.split("/", 2)
            value = arrays[key]
            state.setdefault(int(index), {})[name] = int(value) if name == "step" else np.array(value)
    return {"state": state, "param_groups": json.loads(str(arrays["param_groups"])),
            "steps": int(arrays["steps"])}
