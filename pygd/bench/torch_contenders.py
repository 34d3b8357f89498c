"""Optimizers that step torch tensors, for timing `optimizer.step()` itself: pygd.torch, torch.optim
(fused, foreach) and DeepSpeedCPUAdam, plus pygd's bandwidth probe over the same element counts.

Each contender is made from a list of tensor shapes and one set of initial values: it gets its own
copies of the params, in those shapes, with each .grad set once (step() only reads it), and its own
optimizer. With several buffer sets (see workloads.buffer_sets) it keeps one optimizer per set and
steps them in turn, so that tensors that fit the cache are not timed cache-hot.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from numpy.typing import NDArray

from . import probe
from .contenders import Step, import_module
from .workloads import Optimizer

# One tensor's shape and initial values (flat): what initial_values() makes.
Values = list[tuple[tuple[int, ...], NDArray[Any], NDArray[Any]]]
Make = Callable[[Optimizer, Values, int], Step]


class Unsupported(Exception):
    """This contender has no implementation of this optimizer (e.g. DeepSpeed has no SGD)."""


@dataclass(frozen=True)
class TorchContender:
    """One optimizer step on torch tensors that benchmarks/torch_step.py times: how to make it, and
    why it cannot run here (None where it can)."""

    name: str
    description: str
    make: Make                                # (optimizer, initial_values(...), buffer sets)
    unavailable: Callable[[], Optional[str]]  # why it cannot run on this installation, or None


def initial_values(rng: np.random.Generator, shapes: Sequence[tuple[int, ...]], dtype: Any) -> Values:
    """[(shape, param, grad)]: flat NumPy arrays ~ N(0, 1) (never zeros, so no contender meets the
    fast paths or denormals of constant data), shared by every contender as the values to copy."""
    return [(shape, rng.standard_normal(math.prod(shape), dtype=dtype),
             rng.standard_normal(math.prod(shape), dtype=dtype)) for shape in shapes]


def torch_params(values: Values) -> list[Any]:
    """Leaf tensors of the given shapes holding copies of the values, each with its .grad set."""
    import torch
    params = []
    for shape, param, grad in values:
        tensor = torch.from_numpy(param.reshape(shape).copy()).requires_grad_()
        tensor.grad = torch.from_numpy(grad.reshape(shape).copy())
        params.append(tensor)
    return params


def _cycle(steps: Sequence[Step]) -> Step:
    """One step() that runs the buffer sets' steps in turn."""
    if len(steps) == 1:
        return steps[0]
    turn = itertools.cycle(steps)
    return lambda: next(turn)()


def _optimizer_class(module: str, **implementation: bool) -> Make:
    """Steps of `module`.<the optimizer's torch class>(params, hparams, **implementation)."""
    def make(optimizer: Optimizer, values: Values, sets: int) -> Step:
        cls = getattr(import_module(module)[0], optimizer.torch_class or "", None)
        if cls is None:
            raise Unsupported(f"{module} has no {optimizer.torch_class}")
        return _cycle([cls(torch_params(values), **optimizer.hparams, **implementation).step
                       for _ in range(sets)])
    return make


def _make_deepspeed(optimizer: Optimizer, values: Values, sets: int) -> Step:
    if optimizer.key not in ("adam", "adamw"):
        raise Unsupported("DeepSpeedCPUAdam implements Adam and AdamW only")
    cpu_adam = getattr(import_module("deepspeed.ops.adam")[0], "DeepSpeedCPUAdam")
    return _cycle([cpu_adam(torch_params(values), adamw_mode=optimizer.key == "adamw",
                            **optimizer.hparams).step for _ in range(sets)])


def _make_probe(optimizer: Optimizer, values: Values, sets: int) -> Step:
    """The probe over params, grads and each state, as arrays of the tensors' element counts: the
    same memory traffic as the update with trivial math, i.e. the update's memory floor, timed in
    the same rounds under the same noise."""
    rng = np.random.default_rng(0)  # any non-zero data: the probe's work does not depend on it

    def one_set() -> Step:
        streams = [[probe.random_array(rng, param.size, param.dtype) for _, param, _ in values]
                   for _ in range(2 + optimizer.states)]
        return probe.step([arrays[0] if len(arrays) == 1 else arrays for arrays in streams])
    return _cycle([one_set() for _ in range(sets)])


def _torch_missing() -> Optional[str]:
    return import_module("torch")[1]


CONTENDERS = {c.name: c for c in (
    TorchContender("pygd.torch", "pygd.torch's optimizer class: one native multi-tensor call",
                   _optimizer_class("pygd.torch"), lambda: import_module("pygd.torch")[1]),
    TorchContender("torch-fused", "torch.optim, fused=True",
                   _optimizer_class("torch.optim", fused=True), _torch_missing),
    TorchContender("torch-foreach", "torch.optim, foreach=True",
                   _optimizer_class("torch.optim", foreach=True), _torch_missing),
    TorchContender("deepspeed", "DeepSpeedCPUAdam (Adam and AdamW)", _make_deepspeed,
                   lambda: import_module("deepspeed.ops.adam")[1]),
    TorchContender("probe", "pygd's native bandwidth probe over the same element counts: the "
                   "memory floor that % probe divides by", _make_probe, probe.unavailable),
)}

# The contender measured and the ones its times are divided by.
SUBJECT = "pygd.torch"
BASELINE = "torch-fused"
FLOOR = "probe"
