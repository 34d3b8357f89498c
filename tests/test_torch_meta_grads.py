"""differentiable=True through pygd.torch: the step is torch's own (pygd routes it), so autograd
reaches through it to hyperparameters given as tensors that require grad (lr, betas), with
torch.optim's gradients, bit for bit, or torch's own autograd error where torch gives one (a state
tensor autograd saved that the second step rewrote in place). torch's own suite checks these with
gradcheck (test/optim/test_optim.py, docs/torch-test-suite.md); this is the fast guard."""

import warnings

import pytest

torch = pytest.importorskip("torch")
import pygd.torch as pygd_torch  # noqa: E402

CASES = [
    ("SGD", {"momentum": 0.9}, ("lr",)),
    ("Adam", {"amsgrad": True}, ("lr", "betas")),
    ("AdamW", {}, ("lr", "betas")),
]


def _meta_grads(module, name, options, hyper):
    """Two differentiable steps on a tiny problem, then the gradient of a loss of the params they
    reach with respect to the hyperparameters."""
    g = torch.Generator().manual_seed(0)
    start = torch.rand(6, generator=g, dtype=torch.float64, requires_grad=True)
    params = start.clone()  # not a leaf: the steps stay on autograd's tape
    values = {"lr": 0.01, "betas": (0.9, 0.99)}
    leaves, kwargs = [], dict(options, differentiable=True)
    for key in hyper:
        if key == "betas":
            betas = tuple(torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in values[key])
            leaves.extend(betas)
            kwargs[key] = betas
        else:
            kwargs[key] = torch.tensor(values[key], dtype=torch.float64, requires_grad=True)
            leaves.append(kwargs[key])
    opt = getattr(module, name)([params], **kwargs)
    for _ in range(2):
        loss = (params.sum() * 0.5 - 2.0) ** 2
        loss.backward(inputs=(params,), create_graph=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pygd_torch.TorchFallbackWarning)
            opt.step()
        opt.zero_grad()
    loss = ((params * params).sum() - 2.0) ** 2  # after two steps, each shaped by the hyperparameters
    return torch.autograd.grad(loss, leaves), opt


def _outcome(module, name, options, hyper):
    try:
        return "ok", *_meta_grads(module, name, options, hyper)
    except RuntimeError as exc:  # torch's autograd refusing a state it saved and the step rewrote
        return "raised", str(exc), None


@pytest.mark.parametrize("name, options, hyper", CASES, ids=[c[0] for c in CASES])
def test_hyperparameter_grads_flow_through_pygd_step_as_torch(name, options, hyper):
    got, want = _outcome(pygd_torch, name, options, hyper), _outcome(torch.optim, name, options, hyper)
    assert got[0] == want[0]
    if got[0] == "raised":  # torch's own error, the same
        assert got[1] == want[1]
        return
    for a, b in zip(got[1], want[1]):
        assert torch.equal(a, b)
    assert all(g.abs().sum() > 0 for g in got[1])
    assert got[2].pygd_routes.native == () and set(got[2].pygd_routes.torch) == {0}


def test_some_case_reaches_the_hyperparameters():
    """AdamW's two steps keep every tensor autograd saved: its gradients are computed, not refused."""
    assert _outcome(pygd_torch, *CASES[2])[0] == "ok"
