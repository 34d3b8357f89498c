"""Adafactor's factored driver (csrc/cpu/factored.*, csrc/include/pygd/adafactor.h): odd shapes
(0-dim, vectors, single rows and columns, a batch of matrices, a row wider than a strip), torch's
for-loop, the independent float64 oracle, the same bits at every ISA level, thread count and call
split, bad input rejected before any write, and torch's state in pygd.optim and pygd.torch."""

import warnings

import numpy as np
import pytest

import float64_reference
import pygd
import pygd.optim
from cases import BACKENDS, ISAS, NATIVE, grads_at, initial_params

# 0-dim and vectors (full variance), (1, 1) and (7, 5) matrices, a row of more than one 512-column
# strip, a batch of matrices, and a matrix of several norm blocks (16k elements) with a ragged one.
SHAPES = [(), (1,), (7,), (1, 1), (7, 5), (3, 4097), (2, 3, 5), (130, 257)]
BACKENDS = tuple(b for b in BACKENDS if b != "numba")  # pygd.numba has no Adafactor (it refuses)
OPTIONS = {
    "default": {},
    "wd-maximize": dict(lr=0.05, weight_decay=0.1, maximize=True),
    "eps1-given": dict(lr=0.02, eps=(1e-20, 1e-2), beta2_decay=-0.5, d=1.5),
}
STEPS = 20


def _states(shapes, dtype):
    def factor(s, dim):
        if len(s) <= 1:
            return None
        shape = list(s)
        shape[dim] = 1
        return np.zeros(shape, dtype)
    return {"row_vars": [factor(s, -1) for s in shapes], "col_vars": [factor(s, -2) for s in shapes],
            "variances": [np.zeros(s, dtype) if len(s) <= 1 else None for s in shapes]}


def _run(shapes, dtype, steps, backend="native", split=False, **options):
    params = [initial_params(s, dtype) for s in shapes]
    states = _states(shapes, dtype)
    for t in range(1, steps + 1):
        grads = [grads_at(s, dtype, t) for s in shapes]
        if split:  # one call per tensor
            for i in range(len(shapes)):
                pygd.adafactor_([params[i]], [grads[i]], *([states[k][i]] for k in states), step=t,
                                backend=backend, **options)
        else:
            pygd.adafactor_(params, grads, *states.values(), step=t, backend=backend, **options)
    return params, states


def _arrays(result):
    params, states = result
    return [*params, *(a for arrays in states.values() for a in arrays if a is not None)]


def _assert_bitwise(a, b, what):
    for i, (x, y) in enumerate(zip(_arrays(a), _arrays(b))):
        assert x.tobytes() == y.tobytes(), f"{what}: array {i} differs bitwise"


# torch's for-loop rounds its reductions (norms, row/column means, the mean of row_var) in the
# element type, in an order of its own; pygd sums in double in a fixed order. Those are a few ulps
# of a tensor's scalars, which 20 steps carry into every element: float32 within 2e-5 relative
# (1e-6 absolute, for elements near 0), float64 within 1e-12. (Vectors and 0-dim params have only
# the two norms in double: they are torch's bits but for those.)
TORCH_TOLERANCE = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
# The float64 oracle against pygd's float64: rounding alone. Against float32: float32's rounding of
# the data and of each step, carried through 20 steps.
ORACLE_TOLERANCE = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-11, atol=1e-13)}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("options", OPTIONS, ids=list(OPTIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_matches_the_float64_oracle(dtype, options, backend):
    got, got_states = _run(SHAPES, dtype, STEPS, backend=backend, **OPTIONS[options])
    for i, s in enumerate(SHAPES):
        p = initial_params(s, dtype).astype(np.float64)
        state = {k: None if v[0] is None else np.zeros(v[0].shape) for k, v in _states([s], dtype).items()}
        for t in range(1, STEPS + 1):
            float64_reference.adafactor(p, grads_at(s, dtype, t).astype(np.float64), state, t, dtype=dtype,
                                        **OPTIONS[options])
        np.testing.assert_allclose(got[i], p, **ORACLE_TOLERANCE[dtype], err_msg=f"params[{i}] {s}")
        for name, value in state.items():
            if value is not None:
                np.testing.assert_allclose(got_states[name][i], value, **ORACLE_TOLERANCE[dtype],
                                           err_msg=f"{name}[{i}] {s}")


@pytest.mark.skipif(not NATIVE, reason="needs the native extension")
@pytest.mark.parametrize("options", OPTIONS, ids=list(OPTIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_matches_torch_s_for_loop(dtype, options):
    torch = pytest.importorskip("torch")
    got, _ = _run(SHAPES, dtype, STEPS, **OPTIONS[options])
    params = [torch.tensor(initial_params(s, dtype), requires_grad=True) for s in SHAPES]
    opt = torch.optim.Adafactor(params, foreach=False, **OPTIONS[options])
    for t in range(1, STEPS + 1):
        for p, s in zip(params, SHAPES):
            p.grad = torch.from_numpy(grads_at(s, dtype, t))
        opt.step()
    for i, (g, p) in enumerate(zip(got, params)):
        np.testing.assert_allclose(g, p.detach().numpy(), **TORCH_TOLERANCE[dtype], err_msg=f"params[{i}]")


@pytest.mark.skipif(not NATIVE, reason="needs the native extension")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_the_same_bits_at_every_isa_thread_count_and_call_split(dtype, runtime, small_grain):
    options = OPTIONS["wd-maximize"]
    runtime(isa="scalar", threads=1)
    want = _run(SHAPES, dtype, 3, **options)
    for isa in ISAS:
        for threads in (1, 2):
            runtime(isa=isa, threads=threads)
            _assert_bitwise(_run(SHAPES, dtype, 3, **options), want, f"{isa}, {threads} threads")
    _assert_bitwise(_run(SHAPES, dtype, 3, split=True, **options), want, "one call per tensor")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_eps1_none_is_the_dtype_s_epsilon(backend, dtype):
    """eps1=None floors with finfo(dtype).eps: on grads so small that the floors decide the step,
    the same bits as eps=(finfo(dtype).eps, eps2), and not those of a smaller floor."""
    shapes = [(4, 3), (5,)]

    def step(eps1):
        params = [initial_params(s, dtype) for s in shapes]
        grads = [grads_at(s, dtype, 1) * dtype(np.finfo(dtype).eps ** 2) for s in shapes]
        pygd.adafactor_(params, grads, *_states(shapes, dtype).values(), step=1, eps=(eps1, 1e-3),
                        backend=backend)
        return params

    none, given, smaller = step(None), step(float(np.finfo(dtype).eps)), step(0.0)
    for a, b, c in zip(none, given, smaller):
        assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def _bad_cases(dtype):
    """(streams editor, error, match): each breaks the last tensor of a valid call."""
    def factor_shape(streams):
        streams[2][-1] = np.zeros((3, 5), dtype)
    def read_only(streams):
        streams[3][-1] = streams[3][-1].copy()
        streams[3][-1].flags.writeable = False
    def missing_variance(streams):
        streams[4][1] = None
    def mixed_dtype(streams):
        streams[4][1] = streams[4][1].astype(np.float32 if dtype == np.float64 else np.float64)
    return [(factor_shape, ValueError, r"row_vars\[2\] has shape \(3, 5\) .* must have shape \(2, 3, 1\)"),
            (read_only, ValueError, r"col_vars\[2\] is read-only"),
            (missing_variance, TypeError, r"variances\[1\] must be a numpy.ndarray, got NoneType"),
            (mixed_dtype, TypeError, r"variances\[1\] has dtype"),
            (lambda streams: streams[1].pop(), ValueError, r"grads has 2 arrays but params has 3")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", range(5))
def test_bad_input_is_rejected_before_any_write(backend, k):
    dtype = np.float32
    shapes = [(4, 3), (5,), (2, 3, 5)]
    edit, error, match = _bad_cases(dtype)[k]
    params = [initial_params(s, dtype) for s in shapes]
    states = _states(shapes, dtype)
    streams = [params, [grads_at(s, dtype, 1) for s in shapes], *states.values()]
    edit(streams)
    before = [a.copy() for arrays in streams for a in arrays if a is not None]
    with pytest.raises(error, match=match):
        pygd.adafactor_(*streams, step=1, backend=backend)
    after = [a for arrays in streams for a in arrays if a is not None]
    assert all(x.tobytes() == y.tobytes() for x, y in zip(before, after))


def test_options_are_checked_as_torch_checks_them():
    p, g = np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)
    r, c = np.zeros((2, 1), np.float32), np.zeros((1, 2), np.float32)
    for kwargs, match in [(dict(lr=-1.0), "lr must be >= 0"), (dict(beta2_decay=0.5), "beta2_decay must be <= 0"),
                          (dict(eps=(-1.0, 1e-3)), r"eps\[0\] must be >= 0"),
                          (dict(eps=(None, float("nan"))), r"eps\[1\] must be >= 0"),
                          (dict(d=0.5), "d must be >= 1"), (dict(weight_decay=-0.1), "weight_decay must be >= 0")]:
        with pytest.raises(ValueError, match=match):
            pygd.adafactor_(p, g, r, c, None, step=1, **kwargs)


def test_pygd_optim_state_dict_interchanges_with_torch():
    torch = pytest.importorskip("torch")
    shapes = [(4, 3), (5,), (), (2, 3, 5)]
    params = [initial_params(s, np.float32) for s in shapes]
    opt = pygd.optim.Adafactor(params, lr=0.05, weight_decay=0.1)
    tparams = [torch.tensor(initial_params(s, np.float32), requires_grad=True) for s in shapes]
    topt = torch.optim.Adafactor(tparams, lr=0.05, weight_decay=0.1)
    for t in range(1, 4):
        grads = [grads_at(s, np.float32, t) for s in shapes]
        opt.step(grads)
        for p, g in zip(tparams, grads):
            p.grad = torch.from_numpy(g)
        topt.step()
    ours, theirs = opt.state_dict()["state"], topt.state_dict()["state"]
    assert {i: sorted(s) for i, s in ours.items()} == {i: sorted(s) for i, s in theirs.items()}
    for i in ours:
        for name, value in theirs[i].items():
            np.testing.assert_allclose(np.asarray(ours[i][name]), value.numpy(), rtol=1e-5, atol=1e-7)
    fresh = pygd.optim.Adafactor([initial_params(s, np.float32) for s in shapes], lr=0.05, weight_decay=0.1)
    fresh.load_state_dict(topt.state_dict())  # torch's tensors and step tensors, in
    assert fresh.state[0]["step"] == 3 and fresh.state[0]["row_var"].shape == (4, 1)
    bad = topt.state_dict()
    bad["state"][0]["row_var"] = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"must have shape \(4, 1\)"):
        fresh.load_state_dict(bad)


@pytest.mark.skipif(not NATIVE, reason="needs the native extension")
def test_pygd_torch_is_native_and_interchanges_state_with_torch():
    torch = pytest.importorskip("torch")
    import pygd.torch as pygd_torch

    shapes = [(4, 3), (5,), (), (2, 3, 5)]

    def make(module):
        params = [torch.nn.Parameter(torch.from_numpy(initial_params(s, np.float64))) for s in shapes]
        return params, getattr(module, "Adafactor")(params, lr=0.05, weight_decay=0.1)

    def train(params, opt, steps, first):
        for t in range(first, first + steps):
            for p, s in zip(params, shapes):
                p.grad = torch.from_numpy(grads_at(s, np.float64, t))
            opt.step()

    ours, opt = make(pygd_torch)
    theirs, topt = make(torch.optim)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no TorchFallbackWarning: every param is native
        train(ours, opt, 3, 1)
    train(theirs, topt, 3, 1)
    assert opt.pygd_routes.native == (0, 1, 2, 3)
    assert str(opt.state_dict()["state"].keys()) == str(topt.state_dict()["state"].keys())
    # Each continues from the other's state_dict: torch's into pygd, pygd's into torch.
    a, a_opt = make(pygd_torch)
    b, b_opt = make(torch.optim)
    with torch.no_grad():
        for x, y, u, v in zip(a, b, theirs, ours):
            x.copy_(u)
            y.copy_(v)
    a_opt.load_state_dict(topt.state_dict())
    b_opt.load_state_dict(opt.state_dict())
    train(a, a_opt, 3, 4)
    train(b, b_opt, 3, 4)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)
    for s, ts in zip(a_opt.state_dict()["state"].values(), b_opt.state_dict()["state"].values()):
        assert {k: (v.dtype, tuple(v.shape)) for k, v in s.items()} == \
            {k: (v.dtype, tuple(v.shape)) for k, v in ts.items()}


@pytest.mark.skipif(not NATIVE, reason="needs the native extension")
def test_pygd_torch_routes_what_it_cannot_run_to_torch_visibly():
    torch = pytest.importorskip("torch")
    import pygd.torch as pygd_torch

    real = torch.nn.Parameter(torch.randn(3, 4))
    strided = torch.nn.Parameter(torch.randn(4, 3).t())  # not row-major
    unused = torch.nn.Parameter(torch.randn(2))
    opt = pygd_torch.Adafactor([real, strided, unused])
    twin = [torch.nn.Parameter(p.detach().clone()) for p in (real, strided)]
    topt = torch.optim.Adafactor(twin)
    real.grad, strided.grad = torch.ones(3, 4), torch.ones(3, 4)
    twin[0].grad, twin[1].grad = torch.ones(3, 4), torch.ones(3, 4)
    with pytest.warns(pygd_torch.TorchFallbackWarning, match=r"params\[1\] is not row-major"):
        opt.step()
    topt.step()
    routes = opt.pygd_routes
    assert routes.native == (0,) and list(routes.torch) == [1] and routes.skipped == (2,)
    torch.testing.assert_close(strided, twin[1], rtol=0, atol=0)  # torch's own bits
    lr_tensor = pygd_torch.Adafactor([real], lr=torch.tensor(0.01))
    with pytest.warns(pygd_torch.TorchFallbackWarning, match="lr is a tensor"):
        lr_tensor.step()


def test_numba_and_cuda_refuse_it_by_name():
    """pygd.numba and the CUDA backend have no Adafactor kernel: they say so, naming it (the CUDA
    backend after refusing host arrays as it does for every kernel)."""
    from pygd._backends import cuda

    p = np.zeros((2, 2), np.float32)
    streams = (p, p.copy(), np.zeros((2, 1), np.float32), np.zeros((1, 2), np.float32), None)
    with pytest.raises(NotImplementedError, match="no CUDA kernel for adafactor"):  # (host arrays: worded first)
        cuda.steps["adafactor"](([],) * 5, 1, pygd._specs.SPECS["adafactor"].pack(
            lr=0.01, beta2_decay=-0.8, eps1=-1.0, eps2=1e-3, d=1.0, weight_decay=0.0, maximize=False))
    pytest.importorskip("numba")
    with pytest.raises(NotImplementedError, match="backend='numba' has no adafactor kernel"):
        pygd.adafactor_(*streams, step=1, backend="numba")
    assert p.tobytes() == np.zeros((2, 2), np.float32).tobytes()
