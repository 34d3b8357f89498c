"""pygd.clip_grad_norm_ / clip_grad_value_ / grad_norm: against a float64 NumPy oracle and
torch.nn.utils, on every backend, ISA and thread count; bit-identical norms across thread counts;
the scaling pass only when clipping is needed; bad input leaves every array untouched."""

import math

import numpy as np
import pytest

import pygd
from cases import BACKENDS, ISAS

SHAPES = [(1,), (7,), (4097,), (3, 5), (0,), (70_001,)]
NORMS = [2.0, 1.0, math.inf, 3.0, 0.5]


def make_grads(dtype, shapes=SHAPES, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal(s)).astype(dtype) for s in shapes]


def oracle_norm(grads, p):
    flat = np.concatenate([g.astype(np.float64).ravel() for g in grads])
    if p == math.inf:
        return float(np.max(np.abs(flat))) if flat.size else 0.0
    return float(np.sum(np.abs(flat) ** p) ** (1.0 / p))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", NORMS)
def test_grad_norm_matches_the_oracle(p, dtype, backend):
    grads = make_grads(dtype)
    assert math.isclose(pygd.grad_norm(grads, p, backend=backend), oracle_norm(grads, p),
                        rel_tol=1e-12)  # both accumulate in float64


@pytest.mark.parametrize("p", [2.0, 1.0, math.inf])
def test_norm_is_bit_identical_for_any_thread_count(runtime, small_grain, p):
    grads = make_grads(np.float32, [(4097,), (70_001,), (3,), (100_000,)])
    for isa in ISAS:
        norms = set()
        for threads in (1, 2, 3):
            runtime(isa=isa, threads=threads)
            norms.add(pygd.grad_norm(grads, p).hex())
        assert len(norms) == 1, (isa, norms)


@pytest.mark.parametrize("isa", ISAS)
def test_every_isa_agrees_with_the_oracle(runtime, isa):
    runtime(isa=isa)
    grads = make_grads(np.float32)
    for p in NORMS:
        assert math.isclose(pygd.grad_norm(grads, p), oracle_norm(grads, p), rel_tol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", NORMS)
def test_clip_grad_norm_scales_to_max_norm(p, dtype, backend):
    grads = make_grads(dtype)
    before = [g.copy() for g in grads]
    total = oracle_norm(grads, p)
    returned = pygd.clip_grad_norm_(grads, 0.5, p, backend=backend)
    assert math.isclose(returned, total, rel_tol=1e-12)
    scale = dtype(0.5 / (returned + 1e-6))
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b * scale)  # one rounding: the multiply in the dtype
    assert oracle_norm(grads, p) <= 0.5 * (1 + 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_write_when_the_norm_is_within_bounds(backend):
    grads = make_grads(np.float32)
    for g in grads:
        g.setflags(write=False)  # would raise if written
    total = pygd.grad_norm(grads, backend=backend)
    for g in grads:
        g.setflags(write=True)
    before = [g.copy() for g in grads]
    assert pygd.clip_grad_norm_(grads, total * 2, backend=backend) == total
    for g, b in zip(grads, before):
        assert g.tobytes() == b.tobytes()


def test_nonfinite_norms_follow_torch():
    grads = [np.array([1.0, np.inf, 2.0], np.float32)]
    assert pygd.clip_grad_norm_(grads, 1.0) == math.inf
    assert np.isnan(grads[0][1]) and grads[0][0] == 0 and grads[0][2] == 0  # scaled by 0, as torch
    grads = [np.array([1.0, np.nan], np.float32), np.array([5.0], np.float32)]
    assert math.isnan(pygd.clip_grad_norm_(grads, 1.0, math.inf))
    assert np.isnan(grads[1][0])
    grads = [np.array([1.0, np.nan])]
    with pytest.raises(RuntimeError, match="non-finite"):
        pygd.clip_grad_norm_(grads, 1.0, error_if_nonfinite=True)
    assert grads[0][0] == 1.0


def test_mixed_dtypes_and_empty_lists():
    grads = make_grads(np.float32, [(10,), (3,)]) + make_grads(np.float64, [(5,)], seed=1)
    total = oracle_norm(grads, 2.0)
    assert math.isclose(pygd.clip_grad_norm_(grads, 0.1), total, rel_tol=1e-12)
    assert math.isclose(oracle_norm(grads, 2.0), 0.1, rel_tol=1e-5)
    assert pygd.clip_grad_norm_([], 1.0) == 0.0
    assert pygd.grad_norm(np.array([3.0, 4.0])) == 5.0  # a bare array


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value(dtype, backend):
    grads = make_grads(dtype, scale=2.0) + [np.array([np.nan, np.inf, -np.inf, -0.0], dtype)]
    want = [np.clip(g, -0.75, 0.75) for g in grads]
    pygd.clip_grad_value_(grads, 0.75, backend=backend)
    for g, w in zip(grads, want):
        np.testing.assert_array_equal(g, w)
    assert np.signbit(grads[-1][3])


@pytest.mark.parametrize("call, error, message", [
    (lambda g: pygd.clip_grad_norm_(g, -1.0), ValueError, "max_norm must be >= 0"),
    (lambda g: pygd.clip_grad_norm_(g, 1.0, norm_type=0), ValueError, "norm_type must be > 0"),
    (lambda g: pygd.clip_grad_norm_(g, 1.0, norm_type="two"), TypeError, "norm_type must be a real"),
    (lambda g: pygd.clip_grad_value_(g, -1.0), ValueError, "clip_value must be >= 0"),
    (lambda g: pygd.clip_grad_norm_(g[:2] + [g[2].astype(np.int32)], 1.0), TypeError, r"grads\[2\] has dtype"),
    (lambda g: pygd.clip_grad_norm_(g[:2] + [g[2][::2]], 1.0), ValueError, r"grads\[2\] is not C-contiguous"),
    (lambda g: pygd.clip_grad_norm_(g + [g[0]], 1.0), ValueError, "share memory"),
])
def test_bad_input_names_the_argument_and_writes_nothing(call, error, message):
    grads = make_grads(np.float32, [(5,), (6,), (8,)], scale=10.0)
    before = [g.copy() for g in grads]
    with pytest.raises(error, match=message):
        call(grads)
    for g, b in zip(grads, before):
        assert g.tobytes() == b.tobytes()


def test_read_only_grads_cannot_be_clipped():
    g = np.ones(4)
    g.setflags(write=False)
    with pytest.raises(ValueError, match="grads is read-only"):
        pygd.clip_grad_norm_(g, 1.0)


class TestAgainstTorch:
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("p", [2.0, 1.0, math.inf, 3.0])
    def test_clip_grad_norm(self, p, dtype):
        torch = pytest.importorskip("torch")
        grads = make_grads(dtype, [s for s in SHAPES if s != (0,)], scale=3.0)  # torch: no inf-norm of []
        params = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype)) for g in grads]
        for param, g in zip(params, grads):
            param.grad = torch.from_numpy(g.copy())
        want = float(torch.nn.utils.clip_grad_norm_(params, 1.5, norm_type=p))
        got = pygd.clip_grad_norm_(grads, 1.5, norm_type=p)
        tol = 1e-5 if dtype == np.float32 else 1e-12  # torch sums in the grads' dtype
        assert math.isclose(got, want, rel_tol=tol)
        for param, g in zip(params, grads):
            np.testing.assert_allclose(g, param.grad.numpy(), rtol=2 * tol, atol=1e-30)

    def test_clip_grad_value(self):
        torch = pytest.importorskip("torch")
        grads = make_grads(np.float32, scale=3.0)
        params = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
        for param, g in zip(params, grads):
            param.grad = torch.from_numpy(g.copy())
        torch.nn.utils.clip_grad_value_(params, 0.3)
        pygd.clip_grad_value_(grads, 0.3)
        for param, g in zip(params, grads):
            np.testing.assert_array_equal(g, param.grad.numpy())


def test_the_named_backend_runs_the_tools(monkeypatch):
    """backend= means the same for the gradient tools as for the steps: numba runs Numba's loops
    (it once ran native silently), and a backend without tools says so."""
    if "numba" not in BACKENDS:
        pytest.skip("numba not installed")
    from pygd import _backends
    numba_backend = _backends.get("numba")
    called = []
    monkeypatch.setattr(numba_backend, "grad_norm",
                        lambda *args, _run=numba_backend.grad_norm: called.append(1) or _run(*args))
    pygd.clip_grad_norm_([np.ones(5, np.float32)], 1.0, backend="numba")
    assert called == [1]
    with pytest.raises(ValueError, match="backend 'cuda' has no gradient tools"):
        pygd.clip_grad_norm_([np.ones(5, np.float32)], 1.0, backend="cuda")
    with pytest.raises(ValueError, match="backend must be one of"):
        pygd.accumulate_(np.zeros(3), np.ones(3), backend="gpu")
