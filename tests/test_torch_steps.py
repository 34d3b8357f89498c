"""The import switch is total: every torch.optim optimizer has a pygd.torch namesake. Those pygd has
no kernel for (or reuses torch's implementation for by design) are torch's own step: the same
results, state and state_dict, with pygd_routes saying so, and a warning where a kernel is pending."""

import inspect
import warnings

import pytest

torch = pytest.importorskip("torch")
import pygd.torch as pygd_torch  # noqa: E402
from pygd.torch import TorchFallbackWarning  # noqa: E402

TORCH_OPTIMIZERS = sorted(n for n, c in vars(torch.optim).items()
                          if inspect.isclass(c) and issubclass(c, torch.optim.Optimizer)
                          and c is not torch.optim.Optimizer)
TORCH_STEPS = {  # the classes that run torch's step, with options and whether a kernel is pending
    "NAdam": (dict(lr=0.01, weight_decay=0.01, momentum_decay=0.01), True),
    "ASGD": (dict(lr=0.01, lambd=1e-3, t0=2), True),
    "LBFGS": (dict(lr=0.5, max_iter=3, history_size=4), False),
    "SparseAdam": (dict(lr=0.01), False),
    "Muon": (dict(lr=0.01), False),
}
TORCH_STEPS = {n: v for n, v in TORCH_STEPS.items() if hasattr(pygd_torch, n) and
               not hasattr(getattr(pygd_torch, n), "kernel")}


@pytest.mark.parametrize("name", TORCH_OPTIMIZERS)
def test_every_torch_optimizer_has_a_pygd_namesake(name):
    cls = getattr(pygd_torch, name)
    assert issubclass(cls, getattr(torch.optim, name)) and name in pygd_torch.__all__
    assert inspect.signature(cls.__init__) == inspect.signature(getattr(torch.optim, name).__init__)
    assert cls.__doc__ and "pygd" in cls.__doc__


def _params(name, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(6, 5), (7,)] if name != "Muon" else [(6, 5), (8, 3)]  # Muon takes matrices only
    return [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]


def _run(module, name, options, steps=4):
    params = _params(name)
    opt = getattr(module, name)(params, **options)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        grads = [torch.randn(p.shape, generator=gen) for p in params]
        if name == "SparseAdam":
            grads = [g.to_sparse() for g in grads]

        def closure(params=params, grads=grads):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            return sum(float((p * g).sum()) for p, g in zip(params, grads))
        closure()
        opt.step(closure) if name == "LBFGS" else opt.step()
    return params, opt


@pytest.mark.parametrize("name", sorted(TORCH_STEPS))
def test_torch_step_classes_are_torch_s_bits_and_say_so(name):
    options, pending = TORCH_STEPS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got, opt = _run(pygd_torch, name, options)
    want, torch_opt = _run(torch.optim, name, options)
    for g, w in zip(got, want):
        assert torch.equal(g, w)
    assert str(opt.state_dict()) == str(torch_opt.state_dict())
    fallbacks = [w for w in caught if issubclass(w.category, TorchFallbackWarning)]
    assert len(fallbacks) == (1 if pending else 0)  # once, at the first step
    routes = opt.pygd_routes
    assert routes.native == () and sorted(routes.torch) == [0, 1] and routes.skipped == ()
    assert len(set(routes.torch.values())) == 1


def test_torch_step_routes_skip_params_without_grads():
    params = _params("LBFGS")
    opt = pygd_torch.LBFGS(params)
    assert opt.pygd_routes.skipped == (0, 1) and opt.pygd_routes.torch == {}
