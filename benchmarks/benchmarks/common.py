"""The workloads the asv suite times, and the arrays behind them.

Defined here rather than imported from pygd.bench on purpose: asv runs this directory's suite against
the pygd built from each commit it measures, so what a benchmark does must not change with the code
under test, and the suite must run on commits that predate pygd.bench. Only pygd's public functions
(pygd.<optimizer>_ with backend=) and the native bandwidth probe are used.
"""

import importlib.util
import itertools
import math
import os
import time

import numpy as np

import pygd
from pygd import _backends

# One common configuration per optimizer, as `pygd bench` times it: hyperparameters, state arrays
# beside params and grads, and whether the function takes a step count.
OPTIMIZERS = {
    "adam": ("adam_", 2, True, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
    "adamw": ("adamw_", 2, True, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)),
    "sgd": ("sgd_", 1, True, dict(lr=1e-2, momentum=0.9)),
    "rmsprop": ("rmsprop_", 1, False, dict(lr=1e-2, alpha=0.99, eps=1e-8)),
    "adagrad": ("adagrad_", 1, True, dict(lr=1e-2, eps=1e-10)),
    # The sizes' tensors are 1-D: Adafactor's full-variance form (row_vars and col_vars unread).
    "adafactor": ("adafactor_", 1, True, dict(lr=1e-2)),
}
# Arguments before the states that a 1-D workload leaves None (Adafactor's factors), and the arrays
# moved per param where the update is not one fused pass (docs/roofline.md).
UNREAD_BEFORE_STATES = {"adafactor": 2}
PASSES_TRAFFIC = {"adafactor": 8}
DTYPES = ("float32", "float64")
# One tensor in the last-level cache, one well beyond it, and a model-like list of small tensors.
SIZES = {"1M": (1 << 20,), "16M": (16 << 20,), "2000x4096": (4096,) * 2000}
BACKENDS = ("native", "numba", "reference")
# The NumPy reference is readable, not fast: timing it at the large sizes costs minutes and says
# nothing new.
REFERENCE_SIZES = ("1M",)

# Buffer rotation: a step on arrays that fit the cache would be timed cache-hot, which a training
# step never is; such a workload cycles through copies covering twice the last-level cache.
ROTATION_CACHE_MULTIPLE = 2
MAX_BUFFER_SETS = 64
WARMUP_CALLS_PER_SET = 3  # fills the states (and compiles a JIT backend) before anything is timed
PROBE_SCALE = 1e-7


def last_level_cache_bytes():
    """cpu0's largest data or unified cache from Linux sysfs; None where unknown."""
    root, sizes = "/sys/devices/system/cpu/cpu0/cache", []
    try:
        for index in (d for d in os.listdir(root) if d.startswith("index")):
            with open(os.path.join(root, index, "type")) as f:
                if f.read().strip() == "Instruction":
                    continue
            with open(os.path.join(root, index, "size")) as f:
                text = f.read().strip()
            unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1])
            sizes.append(int(text[:-1]) * unit if unit else int(text))
    except (OSError, ValueError):
        return None
    return max(sizes, default=None)


def unavailable(backend, size):
    """Why this backend is not timed at this size, or None."""
    if backend == "reference" and size not in REFERENCE_SIZES:
        return "the reference backend is timed at small sizes only"
    if backend not in getattr(_backends, "NAMES", ()):
        return f"this pygd has no {backend!r} backend"
    if backend == "native" and _backends.native is None:
        return "pygd's native extension is not built"
    if backend == "numba" and importlib.util.find_spec("numba") is None:
        return "numba is not installed"
    return None


def buffer_sets(arrays_bytes):
    cache = last_level_cache_bytes()
    if not cache:
        return 1
    return max(1, min(MAX_BUFFER_SETS, math.ceil(ROTATION_CACHE_MULTIPLE * cache / arrays_bytes)))


def _random(rng, shapes, dtype):
    """One array per tensor, ~N(0, 1): random, never zeros."""
    return [rng.standard_normal(n, dtype=dtype) for n in shapes]


def _one_or_list(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


class _Rotation:
    """step(): the next buffer set's step, in turn."""

    def __init__(self, steps):
        self._steps, self._turn = steps, 0

    def step(self):
        self._steps[self._turn]()
        self._turn = (self._turn + 1) % len(self._steps)


class Workload(_Rotation):
    """The arrays of one optimizer x dtype x size, in as many buffer sets as the cache asks for, and
    step(): one optimizer step on the next set. Raises NotImplementedError (asv's skip) where the
    backend is not timed. Setup allocates and warms up; step() only steps."""

    def __init__(self, optimizer, dtype, size, backend):
        reason = unavailable(backend, size)
        if reason:
            raise NotImplementedError(reason)
        name, self.states, takes_step, hparams = OPTIMIZERS[optimizer]
        self.traffic = PASSES_TRAFFIC.get(optimizer, 2 * (1 + self.states) + 1)  # arrays per param
        self.shapes, self.dtype = SIZES[size], np.dtype(dtype)
        self.elements = sum(self.shapes)
        self.sets = buffer_sets((2 + self.states) * self.dtype.itemsize * self.elements)
        # Each set draws its own params and grads, so nothing but the sets stays allocated (peakmem
        # reads the arrays plus what a step allocates); states start at zero, as an optimizer's do.
        rng = np.random.default_rng(0)
        fn = getattr(pygd, name)
        steps = []
        for _ in range(self.sets):
            params = _random(rng, self.shapes, self.dtype)
            arrays = [_one_or_list(params), _one_or_list(_random(rng, self.shapes, self.dtype))]
            arrays += [None] * UNREAD_BEFORE_STATES.get(optimizer, 0)
            arrays += [_one_or_list([np.zeros_like(a) for a in params]) for _ in range(self.states)]
            steps.append(_stepper(fn, arrays, takes_step, backend, hparams))
        super().__init__(steps)
        for _ in range(WARMUP_CALLS_PER_SET * self.sets):
            self.step()

    @property
    def bytes_per_step(self):
        """The traffic of an ideal fused update (docs/roofline.md): params and states read and written,
        grads read (fp32 Adam: 28 B per param), or of a multi-pass update's passes (Adafactor)."""
        return self.dtype.itemsize * self.traffic * self.elements


class Probe(_Rotation):
    """The native bandwidth probe over arrays shaped as a workload's (same tensors, same buffer
    sets): target += scale * source and each state likewise, i.e. the same memory traffic with
    trivial math. Its time is the memory floor of that update."""

    def __init__(self, workload):
        if getattr(_backends, "native", None) is None or not hasattr(_backends.native, "probe"):
            raise NotImplementedError("the bandwidth probe needs pygd's native extension")
        rng, probe = np.random.default_rng(1), _backends.native.probe
        steps = []
        for _ in range(workload.sets):
            streams = [_one_or_list(_random(rng, workload.shapes, workload.dtype))
                       for _ in range(2 + workload.states)]
            call = tuple(streams) + (None,) * (2 - workload.states)
            steps.append(lambda call=call: probe(call, PROBE_SCALE))
        super().__init__(steps)
        for _ in range(WARMUP_CALLS_PER_SET * workload.sets):
            self.step()


def median_ns(steps, rounds):
    """The median time (ns) of each step(), timed one call each per round, interleaved so the
    machine's noise hits them alike."""
    samples = [[] for _ in steps]
    for _ in range(rounds):
        for step, times in zip(steps, samples):
            t0 = time.perf_counter_ns()
            step()
            times.append(time.perf_counter_ns() - t0)
    return [float(np.median(times)) for times in samples]


def _stepper(fn, arrays, takes_step, backend, hparams):
    if not takes_step:
        return lambda: fn(*arrays, backend=backend, **hparams)
    counter = itertools.count(1)
    return lambda: fn(*arrays, step=next(counter), backend=backend, **hparams)
