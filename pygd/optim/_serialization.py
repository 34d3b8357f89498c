"""An optimizer's state_dict and back, and its flat form for np.savez (to_arrays/from_arrays)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
from numpy.typing import NDArray

from .. import _validate

if TYPE_CHECKING:
    from ._base import Optimizer

# Keys torch.optim keeps in param groups that mean nothing for NumPy arrays: ignored when loading a
# state_dict that came from torch.
_TORCH_ONLY_KEYS = frozenset({"foreach", "fused", "capturable", "differentiable", "initial_lr"})


def state_dict(opt: Optimizer) -> dict[str, Any]:
    """Optimizer.state_dict: see there."""
    groups, index = [], 0
    for group in opt.param_groups:
        packed = {k: v for k, v in group.items() if k != "params"}
        packed["params"] = list(range(index, index + len(group["params"])))
        index += len(group["params"])
        groups.append(packed)
    state = {i: dict(s) for i, s in opt.state.items()}
    return {"state": state, "param_groups": groups, "steps": opt.steps}


def load_state_dict(opt: Optimizer, state_dict: dict[str, Any]) -> None:
    """Optimizer.load_state_dict: see there. Every check runs before anything is changed."""
    if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
        raise TypeError("state_dict must be a dict with 'state' and 'param_groups', as "
                        "state_dict() returns")
    saved_groups = state_dict["param_groups"]
    if len(saved_groups) != len(opt.param_groups):
        raise ValueError(f"state_dict has {len(saved_groups)} param groups but the optimizer "
                         f"has {len(opt.param_groups)}")
    expected = set(opt.defaults)
    groups: list[dict[str, Any]] = []
    index_map: dict[int, int] = {}
    for g, (saved, group) in enumerate(zip(saved_groups, opt.param_groups)):
        keys = set(saved) - {"params"} - _TORCH_ONLY_KEYS
        if not expected <= keys:
            raise ValueError(
                f"state_dict is not for {type(opt).__name__}: param_groups[{g}] has "
                f"{sorted(keys)}, missing {sorted(expected - keys)}")
        if len(saved["params"]) != len(group["params"]):
            raise ValueError(f"state_dict's param_groups[{g}] has {len(saved['params'])} params "
                             f"but the optimizer's has {len(group['params'])}")
        new = {k: v for k, v in saved.items() if k not in _TORCH_ONLY_KEYS}
        for pair in opt._pair_options:  # saved as lists by some formats (JSON)
            if pair in new:
                new[pair] = tuple(new[pair])
        new["params"] = group["params"]
        opt._check_group(new, where=f"state_dict's param_groups[{g}]: ")
        groups.append(new)
        base = len(index_map)
        for offset, saved_index in enumerate(saved["params"]):
            index_map[_as_index(saved_index)] = base + offset
    state: dict[int, dict[str, Any]] = {}
    params = opt.params
    scalars = tuple(name for name, _ in opt._state_scalars)  # NAdam's mu_product: floats
    allowed = set(opt._state_streams) | {"step", *scalars}
    for saved_index, saved_state in state_dict["state"].items():
        key = _as_index(saved_index)
        if key not in index_map:
            raise ValueError(f"state_dict has state for param {saved_index!r}, which no group lists")
        i = index_map[key]
        unknown = set(saved_state) - allowed
        if unknown:
            raise ValueError(f"state_dict is not for {type(opt).__name__}: state[{saved_index}] "
                             f"has {sorted(unknown)}; expected names among {sorted(allowed)}")
        state[i] = _restored_state(saved_state, params[i], f"state[{saved_index}]", scalars, opt._state_shapes)
    for g, group in enumerate(opt.param_groups):  # all checks passed: commit
        group.clear()
        group.update(groups[g])
    opt.state = state
    opt.steps = _as_count(state_dict.get("steps", max((s["step"] for s in state.values()), default=0)),
                           "steps")
    opt._plan = None


def _restored_state(saved: dict[str, Any], param: Any, where: str, scalars: tuple[str, ...],
                    shapes: dict[str, Optional[str]]) -> dict[str, Any]:
    restored: dict[str, Any] = {"step": _as_count(saved.get("step", 0), f"{where}['step']")}
    for name, value in saved.items():
        if name == "step":
            continue
        if name in scalars:  # a torch 0-dim tensor or a float
            restored[name] = _validate.non_negative(f"{where}[{name!r}]", float(np.asarray(value)))
            continue
        array = np.asarray(value)
        expected = _validate.factor_shape(param.shape, shapes.get(name))
        if expected is None:
            raise ValueError(f"{where}[{name!r}] is not a state of a param of shape {param.shape}")
        if array.shape != expected:
            raise ValueError(f"{where}[{name!r}] has shape {array.shape} but its param has "
                             f"shape {param.shape}" + ("" if expected == param.shape
                                                       else f", so it must have shape {expected}"))
        restored[name] = np.array(array, dtype=param.dtype, order="C", copy=True)
    if "step" not in saved and len(restored) > 1:
        # torch.optim.SGD keeps no step count: a momentum buffer means a step was taken.
        restored["step"] = 1
    return restored


def _as_index(key: Any) -> int:
    try:
        return int(key)
    except (TypeError, ValueError):
        raise TypeError(f"state_dict param index must be an integer, got {key!r}") from None


def _as_count(value: object, where: str) -> int:
    number = float(np.asarray(value))  # a torch step tensor arrives as a float array
    if not (number >= 0 and number == math.floor(number)):
        raise ValueError(f"{where} must be a non-negative integer, got {value!r}")
    return int(number)


def to_arrays(state_dict: dict[str, Any]) -> dict[str, Union[NDArray[Any], np.int64]]:
    """A state_dict as {name: ndarray}, for np.savez: no pickling needed to load it back.

    State arrays keep their dtype ("state/<index>/<name>"), counts become int64 scalars, and the
    param groups travel as JSON text (Python's float repr round-trips exactly)."""
    arrays: dict[str, Union[NDArray[Any], np.int64]] = {}
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


def from_arrays(arrays: Mapping[str, Any]) -> dict[str, Any]:
    """The state_dict that to_arrays() flattened (e.g. np.load of an .npz file)."""
    state: dict[int, dict[str, Any]] = {}
    for key in arrays.keys():
        if key.startswith("state/"):
            _, index, name = key.split("/", 2)
            value = arrays[key]
            state.setdefault(int(index), {})[name] = int(value) if name == "step" else np.array(value)
    return {"state": state, "param_groups": json.loads(str(arrays["param_groups"])),
            "steps": int(arrays["steps"])}
