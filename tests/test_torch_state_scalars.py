"""pygd.torch's state scalars (NAdam's state["mu_product"], a 0-dim tensor per param as torch keeps
it): advanced with torch's own rounding, and, like every cached fact, re-checked at each step: edited
in place, replaced, different between params of a group, or of another dtype, pygd follows it as
torch does."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import pygd.torch as pygd_torch  # noqa: E402

SHAPES = [(7,), (33,), (4, 5)]
OPTIONS = dict(lr=1e-2, momentum_decay=0.05, weight_decay=0.01)


@pytest.fixture(autouse=True)
def _ieee_sqrt(monkeypatch):
    """torch's for-loop NAdam takes Tensor.sqrt, MKL's root (1 ulp off IEEE's for some inputs; see
    test_torch_bits.py): the IEEE root here, so that the runs compare bit for bit."""
    monkeypatch.setattr(torch.Tensor, "sqrt", lambda t: torch.from_numpy(np.sqrt(t.detach().numpy())))


def _pair(dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=dtype)) for s in SHAPES]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    return (ours, pygd_torch.NAdam(ours, **OPTIONS)), (theirs, torch.optim.NAdam(theirs, foreach=False, **OPTIONS))


def _step(runs, t):
    gen = torch.Generator().manual_seed(100 + t)
    grads = [torch.randn(s, generator=gen, dtype=runs[0][0][0].dtype) for s in SHAPES]
    for params, opt in runs:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()


def _assert_same(runs):
    (ours, opt), (theirs, ref) = runs
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    for a, b in zip(ours, theirs):
        assert torch.equal(opt.state[a]["mu_product"], ref.state[b]["mu_product"])
        assert opt.state[a]["mu_product"].dtype == ref.state[b]["mu_product"].dtype
    assert opt.pygd_routes.native == tuple(range(len(SHAPES)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mu_product_is_torch_s(dtype):
    runs = _pair(dtype)
    for t in range(1, 8):
        _step(runs, t)
    _assert_same(runs)


@pytest.mark.parametrize("edit", ["in_place", "replaced", "one_param", "float64"])
def test_an_edited_mu_product_is_followed(edit):
    runs = _pair()
    for t in range(1, 4):
        _step(runs, t)
    for params, opt in runs:
        entries = [opt.state[p] for p in params]
        if edit == "in_place":
            for e in entries:
                e["mu_product"].mul_(0.5)
        elif edit == "replaced":
            for e in entries:
                e["mu_product"] = torch.tensor(0.25)
        elif edit == "one_param":  # the group's params now differ: pygd splits its call
            entries[1]["mu_product"].fill_(0.125)
        else:  # as torch's load_state_dict leaves it for float64 params
            for e in entries:
                e["mu_product"] = e["mu_product"].to(torch.float64)
    for t in range(4, 8):
        _step(runs, t)
    _assert_same(runs)
