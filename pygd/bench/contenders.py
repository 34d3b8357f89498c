"""The contenders `pygd bench` times: pygd itself and each comparator that is installed here.

A contender turns a Workload into a step(): a closure over its own copies of the workload's params
and grads (and its own states), which runs one optimizer step per call. With several buffer sets
(see workloads.buffer_sets) it keeps one independent optimizer per set and steps them in turn.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Optional, Union

import numpy as np

from .. import _backends
from .._specs import SPECS
from .._state_scalars import kernel_values
from . import probe
from .workloads import NARROW_DTYPES, Workload

Step = Callable[[], object]  # one optimizer step per call


class Unsupported(Exception):
    """This contender has no implementation of this workload (e.g. torch has no fused RMSprop)."""


@dataclass(frozen=True)
class Contender:
    """One implementation that `pygd bench` times: how to make its step for a workload, and why
    it cannot run here (None where it can)."""

    name: str
    description: str
    make: Callable[[Workload], Step]
    unavailable: Callable[[], Optional[str]]  # why it cannot run on this installation, or None


def _cycle(steps: Sequence[Step]) -> Step:
    """One step() that runs the buffer sets' steps in turn."""
    if len(steps) == 1:
        return steps[0]
    turn = itertools.cycle(steps)
    return lambda: next(turn)()


def _numpy_copies(work: Workload) -> tuple[list[Any], list[Any], list[list[Any]]]:
    """Own copies of params and grads, and the states zeroed as each optimizer starts them."""
    params = [a.copy() for a in work.params]
    grads = [a.copy() for a in work.grads]
    states = [[np.zeros_like(a) for a in work.params] for _ in range(work.optimizer.states)]
    return params, grads, states


# --------------------------------------------------------------------------------------- pygd

def _pygd(backend: str) -> Callable[[Workload], Step]:
    def make(work: Workload) -> Step:
        opt = work.optimizer
        if work.dtype.name in NARROW_DTYPES and backend != "auto":
            raise Unsupported(f"backend={backend!r} updates float32 and float64 arrays only")

        def one_set() -> Step:
            params, grads, states = _numpy_copies(work)
            # A list of one array is passed as the array itself: pygd's single-tensor call.
            args = [x[0] if len(x) == 1 else x for x in (params, grads, *states)]
            # The state scalars (NAdam's mu_product, ASGD's eta and mu) as the first step reads
            # them: ASGD's mu is 1 until t0, as for torch's, whose average is then a copy.
            spec = SPECS[opt.key]
            group = {**spec.defaults, **opt.hparams}
            hparams = {**opt.hparams,
                       **kernel_values(tuple(o.name for o in spec.state_scalars), 1, group)}
            if not opt.takes_step:
                return lambda: opt.pygd_step(*args, backend=backend, **hparams)
            steps = itertools.count(1)
            return lambda: opt.pygd_step(*args, step=next(steps), backend=backend, **hparams)
        return _cycle([one_set() for _ in range(work.sets)])
    return make


def _backend_missing(name: str) -> Callable[[], Optional[str]]:
    """For an optional backend that needs a library of the same name (numba)."""
    def unavailable() -> Optional[str]:
        if name not in _backends.NAMES:
            return f"this pygd has no {name!r} backend"
        return import_module(name)[1]  # the backend's own library
    return unavailable


def _make_probe(work: Workload) -> Step:
    """The bandwidth probe over arrays shaped as this workload's: params, grads and states (random,
    never zero) in the same tensors. Timed beside the others, it is the memory floor of this very
    update under the same noise: the "% probe" column divides by it."""
    rng = np.random.default_rng(0)  # any non-zero data will do: the probe's work does not depend on it

    def one_set() -> Step:
        streams = [[probe.random_array(rng, n, work.dtype) for n in work.size.shapes]
                   for _ in range(2 + work.optimizer.states)]
        return probe.step([arrays[0] if len(arrays) == 1 else arrays for arrays in streams])
    return _cycle([one_set() for _ in range(work.sets)])


# --------------------------------------------------------------------------------------- NumPy

def _make_numpy(work: Workload) -> Step:
    opt = work.optimizer
    if work.dtype.name in NARROW_DTYPES:
        raise Unsupported("the NumPy steps are written for float32 and float64")

    def one_set() -> Step:
        params, grads, states = _numpy_copies(work)
        tensors, steps = list(zip(params, grads, *states)), itertools.count(1)

        def step() -> None:
            t = next(steps)
            for arrays in tensors:
                opt.numpy_step(*arrays, t, **opt.hparams)
        return step
    return _cycle([one_set() for _ in range(work.sets)])


# --------------------------------------------------------------------------------------- torch

def import_module(module: str) -> Union[tuple[ModuleType, None], tuple[None, str]]:
    """(the module, None), or (None, why it does not import)."""
    try:
        return importlib.import_module(module), None
    except ImportError as error:
        top = module.split(".")[0]
        if error.name == top:
            return None, f"{top} is not installed"
        return None, f"{module} does not import: {error}"
    except Exception as error:  # an installed package that fails to load
        return None, f"{module} does not import: {type(error).__name__}: {error}"


def _torch_tensor(torch: Any, a: Any) -> Any:
    """A torch tensor of NumPy array `a`'s values and dtype (bfloat16 through its bits: torch
    cannot read ml_dtypes' arrays)."""
    if a.dtype.name == "bfloat16":
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(a.copy())


def _torch_tensors(torch: Any, work: Workload) -> list[Any]:
    """Leaf tensors of own copies of the params, each with its .grad set."""
    params = [_torch_tensor(torch, a).requires_grad_() for a in work.params]
    for param, grad in zip(params, work.grads):
        param.grad = _torch_tensor(torch, grad)
    return params


def _torch_optim(**implementation: bool) -> Callable[[Workload], Step]:
    """torch.optim's class, with foreach=False (the for-loop), foreach=True, or fused=True."""
    def make(work: Workload) -> Step:
        torch: Any = import_module("torch")[0]
        if work.optimizer.torch_class is None:
            raise Unsupported(f"torch.optim has no {work.optimizer.label}")
        cls = getattr(torch.optim, work.optimizer.torch_class)
        missing = set(implementation) - set(inspect.signature(cls).parameters)
        if missing:
            raise Unsupported(f"torch.optim.{cls.__name__} takes no {', '.join(sorted(missing))}")
        return _cycle([cls(_torch_tensors(torch, work), **work.optimizer.hparams, **implementation).step
                       for _ in range(work.sets)])
    return make


def _deepspeed_missing() -> Optional[str]:
    return import_module("deepspeed.ops.adam")[1]


def _make_deepspeed(work: Workload) -> Step:
    if work.optimizer.key not in ("adam", "adamw"):
        raise Unsupported("DeepSpeedCPUAdam implements Adam and AdamW only")
    torch: Any = import_module("torch")[0]
    cpu_adam = getattr(import_module("deepspeed.ops.adam")[0], "DeepSpeedCPUAdam")
    return _cycle([cpu_adam(_torch_tensors(torch, work), adamw_mode=work.optimizer.key == "adamw",
                            **work.optimizer.hparams).step
                   for _ in range(work.sets)])


# --------------------------------------------------------------------------------------- the table

CONTENDERS = {c.name: c for c in (
    Contender("pygd", "pygd's default backend (the native kernels where built): one call per step",
              _pygd("auto"), lambda: None),
    Contender("probe", "pygd's native bandwidth probe over the same arrays: the memory floor that "
              "% probe divides by", _make_probe, probe.unavailable),
    Contender("pygd-numba", "pygd with backend='numba'", _pygd("numba"), _backend_missing("numba")),
    Contender("pygd-reference", "pygd with backend='reference' (plain NumPy, per tensor)",
              _pygd("reference"), lambda: None),
    Contender("numpy", "the update written the obvious way in NumPy, one tensor at a time",
              _make_numpy, lambda: None),
    Contender("torch-loop", "torch.optim, foreach=False (its for-loop)", _torch_optim(foreach=False),
              lambda: import_module("torch")[1]),
    Contender("torch-foreach", "torch.optim, foreach=True", _torch_optim(foreach=True),
              lambda: import_module("torch")[1]),
    Contender("torch-fused", "torch.optim, fused=True", _torch_optim(fused=True),
              lambda: import_module("torch")[1]),
    Contender("deepspeed", "DeepSpeedCPUAdam (Adam and AdamW)", _make_deepspeed, _deepspeed_missing),
)}

# What runs unless --contenders says otherwise: pygd as installed, the probe and every comparator.
DEFAULT_CONTENDERS = ("pygd", "probe", "numpy", "torch-loop", "torch-foreach", "torch-fused",
                      "deepspeed")
# The contenders that the "vs fused" and "% probe" columns divide by.
BASELINE = "torch-fused"
FLOOR = "probe"
