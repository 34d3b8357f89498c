"""Parity of every case of the table (cases.py) with the float64 oracle, on every ISA level and
thread count; and the bitwise promises: thread count, multi-tensor vs one call per tensor, reruns.

Tolerances: see "tolerances" in cases.py (rtol = 8·steps·u·(|ref| + rms(ref)), u the dtype's unit
roundoff: fp32 9.5e-6, fp64 1.8e-14 over 20 steps; fp32 rounding of each step's ~8 operations,
FMA vs unfused across ISAs, accumulating linearly over the steps).
"""

import tracemalloc

import numpy as np
import pytest

from cases import (
    CASES,
    DTYPES,
    HEAVY,
    ISAS,
    assert_bitwise,
    assert_run_close,
    grads_at,
    initial_params,
    reference,
    run,
)

STEPS = 20
SMALL = [(0,), (1,), (7,), (4097,)]
LARGE = (1_000_003,)
# For the bitwise tests: a 2- or 3-way split of these lands mid-vector (4099 // 2 = 2049; the list
# holds 5241 elements, halved inside the 4099 tensor at offset 2482), and in tiny or empty tensors.
SPLIT = [(4099,), (7,), (1,), (130,), (3,), (0,), (1001,)]

case_param = pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
heavy_param = pytest.mark.parametrize("case", HEAVY, ids=lambda c: c.id)
dtype_param = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
isa_param = pytest.mark.parametrize("isa", ISAS)


@pytest.mark.parametrize("threads", [1, 2])
@isa_param
@dtype_param
@case_param
def test_native_matches_float64_reference(case, dtype, isa, threads, runtime, small_grain):
    runtime(isa, threads)
    ref = reference(case, SMALL, dtype, STEPS)
    assert_run_close(case, run(case, SMALL, dtype, STEPS, multi=False), ref, dtype, STEPS)
    assert_run_close(case, run(case, SMALL, dtype, STEPS, multi=True), ref, dtype, STEPS)


@dtype_param
@heavy_param
def test_native_matches_float64_reference_large(case, dtype, runtime):
    """1,000,003 elements (odd: a SIMD tail on the last thread): one case per optimizer, 2 threads
    at the default grain, every ISA; the oracle is computed once and checked for each ISA."""
    shapes = SMALL + [LARGE]
    ref = reference(case, shapes, dtype, STEPS, cached=False)
    large_ref = (ref[0][-1:], {k: v[-1:] for k, v in ref[1].items()})
    for isa in ISAS:
        runtime(isa, threads=2)
        assert_run_close(case, run(case, [LARGE], dtype, STEPS, multi=False), large_ref, dtype, STEPS)
        assert_run_close(case, run(case, shapes, dtype, STEPS, multi=True), ref, dtype, STEPS)


@dtype_param
@case_param
def test_reference_backend_matches_float64_reference(case, dtype):
    ref = reference(case, SMALL, dtype, STEPS)
    for multi in (False, True):
        got = run(case, SMALL, dtype, STEPS, backend="reference", multi=multi)
        assert_run_close(case, got, ref, dtype, STEPS)


BITWISE_STEPS = 5


@isa_param
@dtype_param
@case_param
def test_thread_count_is_bitwise_invisible(case, dtype, isa, runtime, small_grain):
    results = {}
    for threads in (1, 2, 3):
        runtime(isa, threads)
        results[threads] = [run(case, SPLIT, dtype, BITWISE_STEPS, multi=multi) for multi in (False, True)]
    for threads in (2, 3):
        for multi in (0, 1):
            assert_bitwise(results[1][multi], results[threads][multi], f"{threads} threads, multi={multi}")


@isa_param
@dtype_param
@case_param
def test_multi_tensor_call_equals_single_calls_bitwise(case, dtype, isa, runtime, small_grain):
    runtime(isa, threads=2)
    assert_bitwise(run(case, SPLIT, dtype, BITWISE_STEPS, multi=True),
                   run(case, SPLIT, dtype, BITWISE_STEPS, multi=False), "multi vs single")


@isa_param
@dtype_param
@case_param
def test_repeated_runs_are_bitwise_equal(case, dtype, isa, runtime, small_grain):
    runtime(isa, threads=2)
    first = run(case, SPLIT, dtype, BITWISE_STEPS)
    for _ in range(2):
        assert_bitwise(first, run(case, SPLIT, dtype, BITWISE_STEPS), "rerun")


@case_param
def test_step_allocates_nothing_proportional_to_the_parameters(case, native):
    """A native step over 1M parameters allocates no temporary arrays: tracemalloc sees every NumPy
    allocation (and every Python one); the native driver's own buffers scale with the tensor count."""
    shapes = [(1 << 20,), (7,)]
    params = [initial_params(s, np.float32) for s in shapes]
    grads = [grads_at(s, np.float32, 1) for s in shapes]
    states = case.new_states(shapes, np.float32)
    case.call(params, grads, states, 1, "native")  # warm up: first-call caches
    tracemalloc.start()
    try:
        case.call(params, grads, states, 2, "native")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024, f"a step over 1M params allocated {peak} bytes at its peak"
