"""pygd.torch's state scalars (NAdam's state["mu_product"], ASGD's state["eta"] and state["mu"],
0-dim tensors per param as torch keeps them): advanced with torch's own rounding, and, like every
cached fact, re-checked at each step: edited in place, replaced, different between params of a
group, or of another dtype, pygd follows them as torch does."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import pygd.torch as pygd_torch  # noqa: E402

SHAPES = [(7,), (33,), (4, 5)]
OPTIMIZERS = {  # (options, the state scalars, the one the edits change)
    "NAdam": (dict(lr=1e-2, momentum_decay=0.05, weight_decay=0.01), ("mu_product",), "mu_product"),
    "ASGD": (dict(lr=0.05, lambd=0.01, t0=2.0, weight_decay=0.01), ("eta", "mu"), "eta"),
}


@pytest.fixture(autouse=True)
def _ieee_sqrt(monkeypatch):
    """torch's for-loop NAdam takes Tensor.sqrt, MKL's root (1 ulp off IEEE's for some inputs; see
    test_torch_bits.py): the IEEE root here, so that the runs compare bit for bit."""
    monkeypatch.setattr(torch.Tensor, "sqrt", lambda t: torch.from_numpy(np.sqrt(t.detach().numpy())))


def _pair(name, dtype=torch.float32):
    options = OPTIMIZERS[name][0]
    gen = torch.Generator().manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=dtype)) for s in SHAPES]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    return ((ours, getattr(pygd_torch, name)(ours, **options)),
            (theirs, getattr(torch.optim, name)(theirs, foreach=False, **options)))


def _step(runs, t):
    gen = torch.Generator().manual_seed(100 + t)
    grads = [torch.randn(s, generator=gen, dtype=runs[0][0][0].dtype) for s in SHAPES]
    for params, opt in runs:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()


def _assert_same(runs, name):
    (ours, opt), (theirs, ref) = runs
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    for a, b in zip(ours, theirs):
        for scalar in OPTIMIZERS[name][1]:
            assert torch.equal(opt.state[a][scalar], ref.state[b][scalar])
            assert opt.state[a][scalar].dtype == ref.state[b][scalar].dtype
    assert opt.pygd_routes.native == tuple(range(len(SHAPES)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_scalars_are_torch_s(name, dtype):
    runs = _pair(name, dtype)
    for t in range(1, 8):
        _step(runs, t)
    _assert_same(runs, name)


@pytest.mark.parametrize("edit", ["in_place", "replaced", "one_param", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_an_edited_state_scalar_is_followed(name, edit):
    scalar = OPTIMIZERS[name][2]
    runs = _pair(name)
    for t in range(1, 4):
        _step(runs, t)
    for params, opt in runs:
        entries = [opt.state[p] for p in params]
        if edit == "in_place":
            for e in entries:
                e[scalar].mul_(0.5)
        elif edit == "replaced":
            for e in entries:
                e[scalar] = torch.tensor(0.25)
        elif edit == "one_param":  # the group's params now differ: pygd splits its call
            entries[1][scalar].fill_(0.125)
        else:  # as torch's load_state_dict leaves it for float64 params
            for e in entries:
                e[scalar] = e[scalar].to(torch.float64)
    for t in range(4, 8):
        _step(runs, t)
    _assert_same(runs, name)
