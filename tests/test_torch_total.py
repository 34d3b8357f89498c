"""pygd.torch never refuses what torch.optim accepts: params its kernels cannot update
run through torch.optim's own implementation in the same step, with torch's results (bit for bit:
it is torch's code) and torch's errors, a TorchFallbackWarning naming them once, and
`optimizer.pygd_routes` saying which param ran where. Complex params run natively."""

import warnings

import numpy as np
import pytest

from cases import assert_close
from torch_api import SPARSE_REFUSED  # imports torch, or skips the module
from torch_cases import HEAVY as OPTIONS
from torch_cases import NAMES

torch = pytest.importorskip("torch")
import pygd.torch as pygd_torch  # noqa: E402


def dense(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=g)) for s in ((5, 3), (33,))]


def grad_like(p, t, i):
    g = torch.Generator().manual_seed(1009 * t + i)
    if p.is_complex():
        return torch.randn(p.shape, generator=g, dtype=p.dtype)
    return torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype)


def run(module, name, make, steps=4, options=None, set_grads=None):
    params = make()
    opt = getattr(module, name)(params, **(OPTIONS[name] if options is None else options))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for t in range(1, steps + 1):
            if set_grads is None:
                for i, p in enumerate(params):
                    p.grad = grad_like(p, t, i)
            else:
                set_grads(params, t)
            opt.step()
    return opt, params, [w for w in caught if issubclass(w.category, pygd_torch.TorchFallbackWarning)]


def assert_equal_runs(got, want, bitwise, steps=4):
    (gopt, gp, _), (wopt, wp, _) = got, want
    for i, (g, w) in enumerate(zip(gp, wp)):
        tensors = [(g, w)] + [(gopt.state[g][k], v) for k, v in wopt.state[w].items()
                              if isinstance(v, torch.Tensor)]
        assert gopt.state[g].keys() == wopt.state[w].keys()
        for a, b in tensors:
            a, b = (t.to_dense() if t.is_sparse else t for t in (a, b))  # torch's sparse SGD buffers
            if bitwise[i]:
                assert torch.equal(a, b), f"param {i} differs from torch's own step"
            else:
                real = lambda t: (torch.view_as_real(t) if t.is_complex() else t).detach().double().numpy()  # noqa: E731
                dtype = np.float32 if b.dtype in (torch.float32, torch.complex64) else np.float64
                assert_close([real(a)], [real(b)], dtype, steps, f"param {i}", sources=2)


LOW_PRECISION = [torch.float16, torch.bfloat16]
# The factored driver stores float32 and float64 only: its half-precision params go to torch.
NARROW_ROUTED = ("Adafactor",)


@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
@pytest.mark.parametrize("name", NARROW_ROUTED)
def test_half_precision_params_of_a_float_only_kernel_run_through_torch(name, dtype):
    """A regression: pygd.torch.Adafactor once handed float16/bfloat16 params to its float32
    kernel, which wrote 4 bytes per 2-byte element (heap corruption). They now run torch's step,
    visibly, with torch's bits, beside the float32 params that stay native."""
    def make():
        return dense() + [torch.nn.Parameter(torch.randn(9, 4, generator=torch.Generator().manual_seed(3)).to(dtype))]
    got, want = run(pygd_torch, name, make), run(torch.optim, name, make)
    opt, params, caught = got
    assert opt.pygd_routes.native == (0, 1) and list(opt.pygd_routes.torch) == [2] and caught
    assert "float32 and float64" in opt.pygd_routes.torch[2]
    (gopt, gp, _), (wopt, wp, _) = got, want
    assert_equal_runs((gopt, gp[2:], []), (wopt, wp[2:], []), bitwise=[True])


@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
@pytest.mark.parametrize("name", [n for n in NAMES if n not in NARROW_ROUTED])
def test_half_precision_cpu_params_run_natively(name, dtype):
    """float16/bfloat16 CPU params run natively (float32 math, states in the param's dtype, rounded
    once per stored value: the layouts of docs/low-precision.md), with no fallback warning. torch's
    for-loop rounds after every operation, so it is only close; tests/test_lowp.py holds the bits to
    torch's fused kernels."""
    def make():
        return dense() + [torch.nn.Parameter(torch.randn(9, generator=torch.Generator().manual_seed(3)).to(dtype))]
    got, want = run(pygd_torch, name, make), run(torch.optim, name, make)
    opt, params, caught = got
    assert opt.pygd_routes.native == (0, 1, 2) and not opt.pygd_routes.torch and not caught
    assert params[2].dtype == dtype and all(v.dtype == dtype for v in opt.state[params[2]].values()
                                            if isinstance(v, torch.Tensor) and v.dim() > 0)
    (gopt, gp, _), (wopt, wp, _) = got, want
    assert_equal_runs((gopt, gp[:2], []), (wopt, wp[:2], []), bitwise=[False, False])
    # Loosely: a few of the narrow type's units in the last place, as the two round differently.
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(gp[2].detach().float(), wp[2].detach().float(), rtol=8 * eps, atol=8 * eps)


@pytest.mark.parametrize("name", NAMES)
def test_params_with_gaps_run_through_torch(name):
    def make():
        return dense() + [torch.nn.Parameter(torch.randn(20, generator=torch.Generator().manual_seed(4)))]

    def set_grads(params, t):
        for i, p in enumerate(params):
            p.grad = grad_like(p, t, i)

    def make_strided():
        params = make()
        params[2] = torch.nn.Parameter(params[2].detach()[::2])  # every other element: gaps
        return params
    got, want = run(pygd_torch, name, make_strided), run(torch.optim, name, make_strided)
    assert_equal_runs(got, want, bitwise=[False, False, True])
    assert "gaps" in got[0].pygd_routes.torch[2]


@pytest.mark.parametrize("flag", ["differentiable", "capturable"])
@pytest.mark.parametrize("name", NAMES)
def test_flags_pygd_does_not_implement_run_through_torch(name, flag):
    import inspect
    if flag not in inspect.signature(getattr(torch.optim, name)).parameters:
        pytest.skip(f"torch.optim.{name} has no {flag}")
    options = dict(OPTIONS[name], **{flag: True})
    outcomes = []
    for module in (pygd_torch, torch.optim):
        try:
            outcomes.append(("ok", run(module, name, dense, options=options)))
        except Exception as exc:  # noqa: BLE001 - compared with torch's
            outcomes.append(("raised", type(exc), str(exc)))
    assert outcomes[0][0] == outcomes[1][0]
    if outcomes[0][0] == "raised":
        assert outcomes[0][1:] == outcomes[1][1:]
    else:
        assert_equal_runs(outcomes[0][1], outcomes[1][1], bitwise=[True, True])
        assert outcomes[0][1][0].pygd_routes.native == ()


@pytest.mark.parametrize("name", NAMES)
def test_sparse_grads_run_through_torch(name):
    def make():
        torch.manual_seed(0)
        return dense() + [torch.nn.Embedding(10, 3, sparse=True).weight]

    def set_grads(params, t):
        for i, p in enumerate(params[:2]):
            p.grad = grad_like(p, t, i)
        params[2].grad = None
        torch.nn.functional.embedding(torch.tensor([1, 4, t]), params[2], sparse=True).sum().backward()

    options = dict(OPTIONS[name], weight_decay=0)  # torch's sparse SGD/Adagrad take no weight decay
    outcomes = []
    for module in (pygd_torch, torch.optim):
        try:
            outcomes.append(("ok", run(module, name, make, options=options, set_grads=set_grads)))
        except Exception as exc:  # noqa: BLE001
            outcomes.append(("raised", type(exc), str(exc)))
    assert [o[0] for o in outcomes] == ["raised" if name in SPARSE_REFUSED else "ok"] * 2
    if outcomes[0][0] == "raised":
        assert outcomes[0][1:] == outcomes[1][1:]  # torch's own error
    else:
        assert_equal_runs(outcomes[0][1], outcomes[1][1], bitwise=[False, False, True])


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128], ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_complex_params_run_natively_like_torch(name, dtype):
    if name == "Adafactor":
        pytest.skip("torch.optim.Adafactor refuses complex params (pygd.torch routes them to it)")
    def make():
        g = torch.Generator().manual_seed(5)
        return dense() + [torch.nn.Parameter(torch.randn(7, 2, generator=g, dtype=dtype))]
    got, want = run(pygd_torch, name, make), run(torch.optim, name, make)
    (gopt, gp, _), (wopt, wp, _) = got, want
    assert_equal_runs((gopt, gp[:2], []), (wopt, wp[:2], []), bitwise=[False, False])
    # Loosely: a few of the narrow type's units in the last place, as the two round differently.
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(gp[2].detach().float(), wp[2].detach().float(), rtol=8 * eps, atol=8 * eps)
    assert got[0].pygd_routes.native == (0, 1, 2) and not got[2]


@pytest.mark.parametrize("name", NAMES)
def test_a_param_listed_twice_in_a_group_steps_as_in_torch(name):
    def make():
        params = dense()
        return params + [params[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's own duplicate-param warning
        got, want = run(pygd_torch, name, make), run(torch.optim, name, make)
    assert_equal_runs(got, want, bitwise=[True, False, True])
    assert list(got[0].pygd_routes.torch) == [0, 2]


@pytest.mark.parametrize("name", NAMES)
def test_a_grad_sharing_memory_with_its_param_steps_as_in_torch(name):
    def set_grads(params, t):
        params[0].grad = grad_like(params[0], t, 0)
        params[1].grad = params[1].detach()  # the grad is the param itself
    got = run(pygd_torch, name, dense, set_grads=set_grads)
    want = run(torch.optim, name, dense, set_grads=set_grads)
    assert_equal_runs(got, want, bitwise=[False, True])
    assert "overlaps" in got[0].pygd_routes.torch[1]


@pytest.mark.parametrize("name", NAMES)
def test_meta_params_step_as_in_torch(name):
    def make():
        return [torch.nn.Parameter(torch.empty(4, 3, device="meta"))]

    def set_grads(params, t):
        params[0].grad = torch.empty(4, 3, device="meta")
    outcomes = []
    for module in (pygd_torch, torch.optim):
        try:
            opt, params, _ = run(module, name, make, set_grads=set_grads)
            outcomes.append(("ok", params[0].shape))
        except Exception as exc:  # noqa: BLE001
            outcomes.append(("raised", type(exc)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_with_torch_routed_params_loads_into_torch(name):
    def make():
        return dense() + [torch.nn.Parameter(torch.randn(6).half())]
    opt, params, _ = run(pygd_torch, name, make)
    sd = opt.state_dict()
    other = getattr(torch.optim, name)(make(), **OPTIONS[name])
    other.load_state_dict(sd)
    assert other.state_dict()["state"].keys() == sd["state"].keys()


def test_routes_before_any_step_are_empty():
    opt = pygd_torch.Adam(dense())
    assert opt.pygd_routes == pygd_torch.Routes()
