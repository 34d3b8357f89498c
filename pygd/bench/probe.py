"""This machine's in-place streaming bandwidth, measured with pygd's native probe.

native.probe((target, source, extra1, extra2), scale) does target += scale * source, and extra1,
extra2 likewise, in one multi-threaded pass: the memory traffic of a fused optimizer update (params
and states read and written, grads only read) with trivial arithmetic. Over arrays far larger than
the last-level cache, its GB/s is the ceiling an update of the same streams can reach: the
roofline of docs/roofline.md, against which `pygd bench` reports "% probe".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

import numpy as np
from numpy.typing import NDArray

from .. import _backends
from . import timing
from .workloads import NARROW_DTYPES, numpy_dtype, update_bytes_per_param

# The probe's arrays together span this many times the last-level cache, so nearly every byte
# comes from memory.
PROBE_CACHE_MULTIPLE = 8
# Where the cache size cannot be read: at least the last-level cache (per core complex) of common CPUs.
ASSUMED_CACHE_BYTES = 64 << 20
# The probe's extra streams (states) it can carry.
MAX_STATES = 2
# Small enough that the arrays' values barely move over thousands of calls.
SCALE = 1e-7


def unavailable() -> Optional[str]:
    """Why the probe cannot run here, or None."""
    if _backends.native is None:
        return f"the bandwidth probe needs pygd's native extension: {_backends.native_error}"
    return None


def random_array(rng: np.random.Generator, elements: int, dtype: Any) -> NDArray[Any]:
    """Random values in [0.5, 1.5): never zero, never near the denormals."""
    dtype = numpy_dtype(dtype)
    if dtype.name in NARROW_DTYPES:  # bfloat16, float16: stored narrow, the probe's math in float32
        return (rng.random(elements, dtype=np.float32) + np.float32(0.5)).astype(dtype)
    a = rng.random(elements, dtype=dtype)
    a += 0.5
    return a


def step(streams: Sequence[Union[NDArray[Any], list[NDArray[Any]]]]) -> Callable[[], object]:
    """The probe over (target, source, extra1[, extra2]), each an array or a list of arrays."""
    call = tuple(streams) + (None,) * (2 + MAX_STATES - len(streams))
    native = _backends.native
    assert native is not None, "probe.unavailable() says why"
    return lambda: native.probe(call, SCALE)


def probe_elements(streams: int, dtype: Any, cache_bytes: Optional[int],
                   cap_bytes: Optional[int] = None) -> int:
    """Elements per stream: the streams together span PROBE_CACHE_MULTIPLE caches, or cap_bytes."""
    span = PROBE_CACHE_MULTIPLE * (cache_bytes or ASSUMED_CACHE_BYTES)
    if cap_bytes:
        span = min(span, cap_bytes)
    itemsize: int = numpy_dtype(dtype).itemsize
    return math.ceil(span / (streams * itemsize))


def measure(states: int, dtype: Any, plan: timing.Plan, cache_bytes: Optional[int],
            rng: np.random.Generator,
            on_round: Optional[Callable[[int, int], None]] = None) -> dict[str, Any]:
    """The probe over 2 + `states` streams of `dtype`: its samples, their summary and GB/s."""
    if not 1 <= states <= MAX_STATES:
        raise ValueError(f"the probe carries 1 to {MAX_STATES} states, not {states}")
    dtype = numpy_dtype(dtype)
    streams = 2 + states
    elements = probe_elements(streams, dtype, cache_bytes, plan.probe_cap_bytes)
    arrays = [random_array(rng, elements, dtype) for _ in range(streams)]
    samples = timing.measure({"probe": step(arrays)}, plan, on_round=on_round)["probe"]
    bytes_per_step = update_bytes_per_param(states, dtype.itemsize) * elements
    summary = timing.summarize(samples)
    return {"states": states, "dtype": dtype.name, "elements": elements,
            "bytes_per_step": bytes_per_step, "samples_ns": samples, **summary,
            "gbps": bytes_per_step / summary["median_ns"]}
