"""pygd.accumulate_ and GradientAccumulator: k micro-batch gradients averaged in place give the
big-batch gradient, and one step on them equals one step on the big batch."""

import numpy as np
import pytest

import pygd
from cases import BACKENDS, ISAS
from pygd import optim


def least_squares_grads(w, x, y):
    """Gradient of mean((x @ w - y)**2) / 2 over the rows of x."""
    return [x.T @ (x @ w - y) / len(x)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accumulated_step_equals_the_big_batch_step(dtype, backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4097)).astype(dtype)
    y = rng.standard_normal(64).astype(dtype)
    w_big = (0.01 * rng.standard_normal(4097)).astype(dtype)
    w_acc = w_big.copy()
    big = optim.Adam([w_big], lr=1e-2, backend=backend)
    small = optim.Adam([w_acc], lr=1e-2, backend=backend)
    acc = pygd.GradientAccumulator([w_acc], micro_batches=4, backend=backend)
    for _ in range(3):
        big.step(least_squares_grads(w_big, x, y))
        ready = [acc.add(least_squares_grads(w_acc, x[i:i + 16], y[i:i + 16])) for i in range(0, 64, 16)]
        assert ready == [False, False, False, True]
        np.testing.assert_allclose(acc.grads[0], least_squares_grads(w_acc, x, y)[0],
                                   rtol=1e-4 if dtype == np.float32 else 1e-12,
                                   atol=1e-6 if dtype == np.float32 else 1e-14)
        small.step(acc.grads)
    # Adam divides by sqrt(v): rounding-level differences in the mean grad stay rounding-level.
    np.testing.assert_allclose(w_acc, w_big, rtol=1e-3 if dtype == np.float32 else 1e-10,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("isa", ISAS)
def test_accumulate_is_exact_where_arithmetic_is(runtime, isa):
    runtime(isa=isa)
    sums = [np.full(7, 5.0, np.float32), np.full(4097, 5.0, np.float32)]
    grads = [np.arange(7, dtype=np.float32), np.arange(4097, dtype=np.float32)]
    pygd.accumulate_(sums, grads, scale=0.5)
    np.testing.assert_array_equal(sums[1], 5.0 + 0.5 * grads[1])
    pygd.accumulate_(sums, grads, scale=2.0, overwrite=True)
    np.testing.assert_array_equal(sums[0], 2.0 * grads[0])


def test_finish_averages_a_partial_round():
    acc = pygd.GradientAccumulator([np.zeros(3)], micro_batches=4)
    acc.add([np.full(3, 1.0)])
    acc.add([np.full(3, 3.0)])
    assert not acc.ready
    np.testing.assert_array_equal(acc.finish()[0], np.full(3, 2.0))
    assert acc.ready
    acc.add([np.full(3, 8.0)])  # a new round overwrites
    assert acc.count == 1
    np.testing.assert_array_equal(acc.grads[0], np.full(3, 2.0))


def test_mixed_dtypes():
    params = [np.zeros(3, np.float32), np.zeros(2, np.float64)]
    acc = pygd.GradientAccumulator(params, micro_batches=2)
    acc.add([np.ones(3, np.float32), np.ones(2)])
    acc.add([np.full(3, 3, np.float32), np.full(2, 3.0)])
    assert acc.grads[0].dtype == np.float32
    np.testing.assert_array_equal(acc.grads[1], np.full(2, 2.0))


@pytest.mark.parametrize("make, error, message", [
    (lambda: pygd.GradientAccumulator([np.zeros(2)], micro_batches=0), ValueError, "micro_batches must be >= 1"),
    (lambda: pygd.GradientAccumulator([np.zeros(2)], micro_batches=2.0), TypeError, "micro_batches must be an integer"),
    (lambda: pygd.GradientAccumulator([np.zeros(2)], 2).add([np.zeros(3)]), ValueError,
     r"grads\[0\] has shape \(3,\) but sums\[0\] has shape \(2,\)"),
    (lambda: pygd.GradientAccumulator([np.zeros(2)], 2).add([]), ValueError, "grads has 0 arrays"),
    (lambda: pygd.GradientAccumulator([np.zeros(2)], 2).finish(), ValueError, "at least one add"),
    (lambda: pygd.accumulate_(np.zeros(2), np.zeros(2), scale="x"), TypeError, "scale must be a real"),
])
def test_bad_input(make, error, message):
    with pytest.raises(error, match=message):
        make()
