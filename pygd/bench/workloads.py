"""What `pygd bench` times: the optimizers, the sizes and dtypes, and how many buffer sets a size needs.

An optimizer here is one fixed, common configuration of a pygd function (Adam with its defaults,
SGD with momentum 0.9, ...), with the hyperparameters spelled the same for pygd and torch.optim so
every contender runs the same update.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from numpy.typing import NDArray

import pygd

from . import numpy_steps


def update_bytes_per_param(states: int, itemsize: int) -> int:
    """The traffic of an ideal fused update (docs/roofline.md): params and every state are read and
    written once, grads only read. fp32 Adam (2 states): 28 B, SGD with momentum (1 state): 20 B."""
    return itemsize * (2 * (1 + states) + 1)


@dataclass(frozen=True)
class Optimizer:
    """One optimizer as `pygd bench` times it: its pygd step, NumPy step and torch.optim class,
    with one common configuration."""

    key: str               # the command-line name
    label: str             # the name in the table
    pygd_step: Callable[..., None]  # pygd.<name>_
    takes_step: bool       # whether pygd_step takes step= (RMSprop has no step count)
    numpy_step: Callable[..., None]  # the obvious NumPy update of one tensor: (p, g, *states, t, **hparams)
    torch_class: Optional[str]  # torch.optim.<torch_class> (None: torch has none)
    states: int            # state arrays beside params and grads
    hparams: dict[str, Any] = field(default_factory=dict)  # accepted alike by pygd_step and torch_class
    # Arrays moved per param where the update cannot be one fused pass (None: the fused count). The
    # trust-ratio optimizers read each tensor twice (docs/roofline.md): LAMB 10 (pass 1 reads p, g,
    # m, v and writes m, v; pass 2 reads p, m, v and writes p), LARS 7 (p, g; then p, g, buf and
    # writes p, buf). Adafactor's tensors here are 1-D (its full-variance form): 8 (pass 2 reads p,
    # g, v and writes v; pass 3 reads p, g, v and writes p).
    passes_traffic: Optional[int] = None

    def bytes_per_param(self, itemsize: int) -> int:
        """Bytes an ideal step moves per parameter at this itemsize (fused, or its two passes)."""
        if self.passes_traffic is not None:
            return self.passes_traffic * itemsize
        return update_bytes_per_param(self.states, itemsize)


_ADAM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)


def _adafactor_vectors(params: Any, grads: Any, variances: Any, **options: Any) -> None:
    """pygd.adafactor_ over the bench's 1-D tensors: their state is the full variance alone."""
    pygd.adafactor_(params, grads, None, None, variances, **options)


OPTIMIZERS = {o.key: o for o in (
    Optimizer("adam", "Adam", pygd.adam_, True, numpy_steps.adam, "Adam", 2,
              dict(_ADAM, weight_decay=0.0)),
    Optimizer("adamw", "AdamW", pygd.adamw_, True, numpy_steps.adamw, "AdamW", 2,
              dict(_ADAM, weight_decay=1e-2)),
    Optimizer("sgd", "SGD-mom", pygd.sgd_, True, numpy_steps.sgd_momentum, "SGD", 1,
              dict(lr=1e-2, momentum=0.9)),
    Optimizer("rmsprop", "RMSprop", pygd.rmsprop_, False, numpy_steps.rmsprop, "RMSprop", 1,
              dict(lr=1e-2, alpha=0.99, eps=1e-8)),
    Optimizer("adagrad", "Adagrad", pygd.adagrad_, True, numpy_steps.adagrad, "Adagrad", 1,
              dict(lr=1e-2, lr_decay=0.0, eps=1e-10)),
    Optimizer("adamax", "Adamax", pygd.adamax_, True, numpy_steps.adamax, "Adamax", 2,
              dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8)),
    Optimizer("radam", "RAdam", pygd.radam_, True, numpy_steps.radam, "RAdam", 2,
              dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
    Optimizer("adadelta", "Adadelta", pygd.adadelta_, False, numpy_steps.adadelta, "Adadelta", 2,
              dict(lr=1.0, rho=0.9, eps=1e-6)),
    Optimizer("nadam", "NAdam", pygd.nadam_, True, numpy_steps.nadam, "NAdam", 2,
              dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8)),
    Optimizer("asgd", "ASGD", pygd.asgd_, False, numpy_steps.asgd, "ASGD", 1, dict(lambd=1e-4)),
    Optimizer("lion", "Lion", pygd.lion_, False, numpy_steps.lion, None, 1, dict(lr=1e-4, betas=(0.9, 0.99))),
    Optimizer("rprop", "Rprop", pygd.rprop_, False, numpy_steps.rprop, "Rprop", 2, dict(etas=(0.5, 1.2))),
    Optimizer("lamb", "LAMB", pygd.lamb_, True, numpy_steps.lamb, None, 2,
              dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01), passes_traffic=10),
    Optimizer("lars", "LARS", pygd.lars_, False, numpy_steps.lars, None, 1,
              dict(lr=1.0, momentum=0.9, weight_decay=1e-4, trust_coefficient=0.001), passes_traffic=7),
    Optimizer("adafactor", "Adafactor", _adafactor_vectors, True, numpy_steps.adafactor, "Adafactor", 1,
              dict(lr=1e-2), passes_traffic=8),
)}

# bfloat16 and float16: params, grads and states stored narrow (the (A) layout of
# docs/low-precision.md), beside torch's fused kernels on bfloat16/float16 tensors.
DTYPES = ("float32", "float64", "bfloat16", "float16")
NARROW_DTYPES = ("bfloat16", "float16")


def numpy_dtype(dtype: Any) -> np.dtype[Any]:
    """The NumPy dtype of a name in DTYPES (bfloat16: ml_dtypes', the bf16 extra)."""
    if str(dtype) == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise RuntimeError("bfloat16 needs ml_dtypes (pip install 'pygd[bf16]')") from None
        bfloat16: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)
        return bfloat16
    named: np.dtype[Any] = np.dtype(dtype)
    return named


def standard_normal(rng: np.random.Generator, n: Any, dtype: Any) -> Any:
    """N(0, 1) values in `dtype` (narrow ones drawn in float32 and rounded)."""
    dtype = numpy_dtype(dtype)
    if dtype.name in NARROW_DTYPES:
        return rng.standard_normal(n, dtype=np.float32).astype(dtype)
    return rng.standard_normal(n, dtype=dtype)

# The default run: one tensor in and beyond the last-level cache, and a model-like list of many
# small tensors. --quick keeps the two that tell most (cache-sized single tensor, multi-tensor list).
DEFAULT_SIZES = ("1M", "16M", "2000x4096")
QUICK_SIZES = ("1M", "2000x4096")
QUICK_OPTIMIZERS = ("adam", "adamw", "sgd")

# Buffer rotation: a contender whose arrays fit the cache would be timed on cache-hot data, which a
# training step (a forward and a backward pass in between) never sees. Such a contender cycles
# through enough copies of its arrays to cover ROTATION_CACHE_MULTIPLE times the last-level cache,
# so each copy is evicted before its turn comes again; at most MAX_BUFFER_SETS copies, which bounds
# the set-up time of tiny sizes (where the call overhead is what is measured anyway).
ROTATION_CACHE_MULTIPLE = 2
MAX_BUFFER_SETS = 64


@dataclass(frozen=True)
class Size:
    """A workload's tensors: one of so many elements, or a list of equal ones."""

    label: str    # as given: "16M", "2000x4096"
    shapes: tuple[int, ...]  # the length of each tensor of the list

    @property
    def elements(self) -> int:
        """Elements in all the tensors of this size."""
        return sum(self.shapes)


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_SIZE = re.compile(r"^(?:(\d+)x)?(\d+)([KMG]?)$", re.IGNORECASE)


def parse_size(text: str) -> Size:
    """'16M' -> one tensor of 16 Mi elements; '2000x4096' -> a list of 2000 tensors of 4096 each;
    '4K', '100000' likewise. ValueError for anything else or for zero."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a size such as 1M, 16M, 4096 or 2000x4096")
    count_text, length_text, unit = match.groups()
    count, length = int(count_text or 1), int(length_text) * _UNITS[unit.upper()]
    if count == 0 or length == 0:
        raise ValueError(f"size {text!r} has no elements")
    return Size(text.strip(), (length,) * count)


def buffer_sets(working_set_bytes: int, cache_bytes: Optional[int], cap_bytes: Optional[int] = None) -> int:
    """How many copies of its arrays a contender cycles through (see ROTATION_CACHE_MULTIPLE),
    spanning at most cap_bytes (but at least one copy)."""
    if not cache_bytes:
        return 1
    sets = min(MAX_BUFFER_SETS, math.ceil(ROTATION_CACHE_MULTIPLE * cache_bytes / working_set_bytes))
    if cap_bytes:
        sets = min(sets, cap_bytes // working_set_bytes)
    return max(1, sets)


@dataclass
class Workload:
    """One optimizer at one size and dtype: the shared random initial params and grads every
    contender copies, and the number of buffer sets each contender cycles through."""
    optimizer: Optimizer
    size: Size
    dtype: np.dtype[Any]
    params: list[NDArray[Any]]
    grads: list[NDArray[Any]]
    sets: int

    @property
    def bytes_per_step(self) -> int:
        """Bytes an ideal fused step moves over the whole workload."""
        return self.optimizer.bytes_per_param(self.dtype.itemsize) * self.size.elements

    @property
    def arrays_bytes(self) -> int:
        """The bytes of one buffer set: params, grads and states."""
        return (2 + self.optimizer.states) * self.dtype.itemsize * self.size.elements


def make_workload(optimizer: Optimizer, size: Size, dtype: Any, rng: np.random.Generator,
                  cache_bytes: Optional[int], cap_bytes: Optional[int] = None) -> Workload:
    """Params and grads ~ N(0, 1) in `dtype`: fresh random values, never zeros, so no contender
    meets the fast paths (or denormals) that constant data can take."""
    dtype = numpy_dtype(dtype)
    params = [standard_normal(rng, n, dtype) for n in size.shapes]
    grads = [standard_normal(rng, n, dtype) for n in size.shapes]
    working_set = (2 + optimizer.states) * dtype.itemsize * size.elements
    return Workload(optimizer, size, dtype, params, grads,
                    buffer_sets(working_set, cache_bytes, cap_bytes))
