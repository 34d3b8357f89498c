"""The base class of pygd.optim's optimizers: param groups, per-param state, the step loop.
Its plan lives in _plan.py, its state_dict in _serialization.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Union

import numpy as np

from .. import _backends, _steps, _validate
from .._specs import PAIR_CHECKS, OptimizerSpec
from .._state_scalars import SCALARS
from .._typing import Backend, FloatArray, G, OptionalArrays, ParamGroup
from . import _params, _plan, _serialization

_NoneType = type(None)


class Optimizer:
    """The base class: param groups, per-param state, state_dict, and the step loop.

    A subclass names its optimizer's spec (_specs.py): `class SGD(Optimizer, spec=SPECS["sgd"])`.
    From it the class takes its constructor (torch.optim's arguments and defaults), the checks of
    its groups, the states its options need, and its kernel.
    """

    # Set by __init_subclass__ from the spec (None, "" and () on the base, which makes no steps).
    _spec: ClassVar[OptimizerSpec] = None  # type: ignore[assignment]  # the optimizer's spec
    _kernel: ClassVar[str] = None  # type: ignore[assignment]  # its kernel (a key of _validate.STREAMS)
    _state_streams: ClassVar[tuple[str, ...]] = ()  # torch's state names, in the kernel's stream
    # order after (params, grads)
    _initial_options: ClassVar[dict[Optional[str], Optional[str]]]
    # Each state's shape rule (_specs.Stream.shape: None, the param's; Adafactor's factors).
    _state_shapes: ClassVar[dict[str, Optional[str]]] = {}
    _pair_options: ClassVar[tuple[str, ...]] = ()  # options that are pairs (betas, etas, ...)
    # The state scalars (NAdam's mu_product), each with its slot in the kernel's hyperparameters.
    _state_scalars: ClassVar[tuple[tuple[str, int], ...]] = ()

    if TYPE_CHECKING:
        @staticmethod
        def _read_group(group: ParamGroup) -> tuple[Any, ...]:
            """The group's options checked, as the kernel's hyperparameter tuple (_steps.group_reader)."""

    def __init_subclass__(cls, spec: Optional[OptimizerSpec] = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if spec is None:
            return
        cls._spec, cls._kernel = spec, spec.kernel
        cls._state_streams = tuple(spec.torch_states.values())
        cls._initial_options = {s.torch_state: s.initial for s in spec.streams if s.initial}
        cls._state_shapes = {s.torch_state: s.shape for s in spec.streams if s.torch_state}
        cls._pair_options = tuple(o.name for o in spec.options if o.check in PAIR_CHECKS)
        cls._state_scalars = tuple((o.name, spec.hyperparameters.index(o.name)) for o in spec.state_scalars)
        cls._read_group = staticmethod(_steps.group_reader(spec))  # type: ignore[method-assign,assignment]
        init = _steps.optimizer_constructor(spec, Optimizer)
        cls.__init__ = init  # type: ignore[method-assign]  # its signature: optim/_classes.pyi
        cls.__init__.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__.__module__ = cls.__module__

    def __init__(self, params: Union[Iterable[FloatArray], Iterable[ParamGroup]],
                 defaults: dict[str, Any], backend: Backend = "auto", state_dtype: Optional[str] = None) -> None:
        """Param groups from `params` (arrays, or param-group dicts), each completed from
        `defaults` (every hyperparameter the optimizer takes); a subclass's constructor passes its
        arguments as the defaults. `state_dtype`: None, states in each param's dtype; "float32",
        the states of bfloat16/float16 params in float32 (mode B of docs/low-precision.md; pygd's
        extension, not torch's)."""
        _backends.get(backend)  # an unknown or unavailable backend fails here, not at the first step
        if state_dtype is not None and str(np.dtype(state_dtype)) != "float32":
            raise ValueError(f"state_dtype must be None or 'float32', got {state_dtype!r}")
        self.state_dtype = None if state_dtype is None else np.dtype(np.float32)
        self.backend = backend
        self.defaults = defaults
        self._check_group(dict(defaults), where="")
        self.param_groups: list[ParamGroup] = []
        self.state: dict[int, dict[str, Any]] = {}
        self.steps = 0
        self._plan: Optional[list[_plan.Call]] = None
        self._plan_key: Optional[list[tuple[int, int, int, tuple[str, ...]]]] = None
        self._count = 0
        self._lr_schedule: Optional[Callable[[Optimizer], None]] = None  # set by schedules.attach
        if isinstance(params, np.ndarray):
            raise TypeError("params must be a list of arrays or of param-group dicts, got a single "
                            "ndarray; pass [array]")
        try:
            items: list[Any] = list(params)
        except TypeError:
            raise TypeError(f"params must be a list of arrays or of param-group dicts, got "
                            f"{type(params).__name__}") from None
        if not items:
            raise ValueError("params is empty: the optimizer needs at least one array")
        if all(isinstance(p, dict) for p in items):
            groups = items
        elif any(isinstance(p, dict) for p in items):
            raise TypeError("params must be all arrays or all param-group dicts, not a mix")
        else:
            groups = [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])

    # ------------------------------------------------------------------------- groups

    @property
    def params(self) -> list[FloatArray]:
        """Every param, in index order (the order of state and of the grads step() takes)."""
        return [p for group in self.param_groups for p in group["params"]]

    def add_param_group(self, param_group: ParamGroup) -> None:
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
        _params.check_params(self.params + group["params"])
        self.param_groups.append(group)
        self._plan = None

    # ------------------------------------------------------------------------- stepping

    def step(self, grads: OptionalArrays[G]) -> None:
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
                grads = [grads]  # type: ignore[list-item]  # one array: a list of one
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
            plan = _plan.make_plan(self, grads)
            self._plan = None
        else:
            if self._plan is None or not _plan.plan_holds(self, self._plan):
                self._plan = _plan.make_plan(self, grads)
            plan = self._plan
        if len(plan) != 1 or plan[0].start != 0 or plan[0].stop != count:
            # Several calls (or params skipped): every call is checked before the first one writes,
            # and a problem is reported with the param's index in the optimizer.
            _plan.check_plan(self, plan, grads)
        for call in plan:
            first = call.step_states[0]
            step = first["step"] + 1
            # The state scalars after this step, and the values its kernel reads (after or before).
            after = {name: SCALARS[name].after(first[name], step, call.group) for name, _ in self._state_scalars}
            read = {name: after[name] if SCALARS[name].read_after else first[name] for name in after}
            self._update(call.params, grads[call.start:call.stop] if call.start is not None
                         else call.grads(grads), call.states, step, call.group, read)
            for state in call.step_states:
                state["step"] = step
                state.update(after)
        self.steps += 1

    def _initial_state(self, name: str, param: FloatArray, group: ParamGroup) -> Optional[FloatArray]:
        """A new state array: zeros, or the value of the option its stream names (Adagrad's
        initial_accumulator_value), from the param's group; of its stream's shape for the param
        (Stream.shape), or None where the param's form has no such state (Adafactor's)."""
        shape = _validate.factor_shape(param.shape, self._state_shapes.get(name))
        if shape is None:
            return None
        option = self._initial_options.get(name)
        narrow = param.dtype.name in ("bfloat16", "float16")
        dtype = self.state_dtype if narrow and self.state_dtype is not None else param.dtype
        if shape != param.shape:  # a factored optimizer's row or column state
            return np.zeros(shape, dtype=dtype)
        state: FloatArray = (np.zeros_like(param, dtype) if option is None  # type: ignore[assignment]
                             else np.full_like(param, group[option], dtype))
        return state

    def _update(self, params: list[FloatArray], grads: Sequence[Any], states: dict[str, list[FloatArray]],
                step: int, group: ParamGroup, scalars: dict[str, float]) -> None:
        """One kernel call over one group's params that share a dtype, a step count and state
        scalars (their values through this step)."""
        hparams = self._read_group(group)  # checked at every step: a group may have been edited
        if scalars:
            values = list(hparams)
            for name, slot in self._state_scalars:
                values[slot] = scalars[name]
            hparams = tuple(values)
        streams = (params, grads, *(states.get(n) for n in self._state_streams))
        problem = _backends.for_call(self.backend, params).steps[self._kernel](
            streams, step if self._spec.takes_step else 1, hparams)
        if problem is not None:
            raise _validate.buffer_error(problem, self._kernel, streams)

    def _check_group(self, group: ParamGroup, where: str) -> None:
        """Checks a group's options as the functional step does (ValueError/TypeError prefixed with
        `where`)."""
        try:
            self._read_group(group)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}{exc}") from None

    def _needed_states(self, group: ParamGroup) -> tuple[str, ...]:
        """The state names a step with this group's options uses, in stream order."""
        return self._spec.needed_states(group)

    # ------------------------------------------------------------------------- state_dict

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}], "steps": int}.

        As torch's, the state arrays are the optimizer's own (not copies): a checkpoint that must
        not follow later steps is saved or deep-copied before the next step."""
        return _serialization.state_dict(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores hyperparameters and state from state_dict(), copying the arrays in.

        Raises ValueError (TypeError for a malformed dict) and changes nothing when the dict is for
        another optimizer type or for params of other counts or shapes."""
        _serialization.load_state_dict(self, state_dict)
