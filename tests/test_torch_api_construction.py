"""pygd.torch against torch.optim: constructors, signatures and flags, as torch.optim's (shared
set-up: torch_api.py)."""

import inspect

import pytest

from torch_api import (
    HEAVY,
    NAMES,
    assert_same_run,
    make_params,
    pygd_torch,
    raised,
    run_pair,
    torch,
    train,
)


@pytest.mark.parametrize("name", NAMES)
def test_constructor_parameters_match_torch(name):
    """Names, kinds (keyword-only or not) and defaults: what a caller can pass, and what it gets."""
    def describe(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]
    assert describe(getattr(pygd_torch, name)) == describe(getattr(torch.optim, name))


@pytest.mark.parametrize("name", NAMES)
def test_constructor_signature_equals_torch(name):
    """The whole signature, annotations included: what help() and IDEs show."""
    assert inspect.signature(getattr(pygd_torch, name)) == inspect.signature(getattr(torch.optim, name))


@pytest.mark.parametrize("name", NAMES)
def test_is_a_torch_optimizer(name):
    cls = getattr(pygd_torch, name)
    assert issubclass(cls, getattr(torch.optim, name))
    opt = cls(make_params())
    assert isinstance(opt, getattr(torch.optim, name)) and isinstance(opt, torch.optim.Optimizer)


@pytest.mark.parametrize("flags", [{"foreach": False}, {"foreach": True}, {"fused": True}, {"fused": False}],
                         ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
@pytest.mark.parametrize("name", NAMES)
def test_torch_implementation_flags_are_accepted(name, flags):
    """foreach/fused pick among torch's implementations; pygd takes them and runs its own kernel."""
    if "fused" in flags and "fused" not in inspect.signature(getattr(torch.optim, name)).parameters:
        pytest.skip(f"torch.optim.{name} has no fused flag")
    (got, gp, _), (want, wp, _) = run_pair(name, dict(HEAVY[name], **flags), lambda o, p: train(o, p, 5))
    assert got.param_groups[0][next(iter(flags))] == next(iter(flags.values()))
    assert_same_run(got, gp, want, wp, 5, name)


def _leaf():
    return torch.nn.Parameter(torch.randn(3))


# (optimizer, constructor arguments): each must raise the exception torch raises, same type and
# message. An empty parameter list (the issue names it), a non-leaf tensor, and the argument checks.
INVALID_ARGUMENTS = [
    *[(n, {"params": []}) for n in NAMES],
    *[(n, {"params": [torch.randn(3, requires_grad=True) * 2]}) for n in NAMES],
    *[(n, {"lr": -1.0}) for n in NAMES],
    *[(n, {"weight_decay": -0.1}) for n in NAMES],
    ("SGD", {"momentum": -0.5}),
    ("SGD", {"nesterov": True}),                                   # nesterov without momentum
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("SGD", {"foreach": True, "fused": True}),
    ("Adam", {"eps": -1e-8}),
    ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (0.9, -0.5)}),
    ("AdamW", {"betas": (-0.1, 0.999)}),
    ("AdamW", {"foreach": True, "fused": True}),
    ("RMSprop", {"alpha": -0.1}),
    ("RMSprop", {"eps": -1.0}),
    ("RMSprop", {"momentum": -0.1}),
    ("Adagrad", {"lr_decay": -0.1}),
    ("Adagrad", {"initial_accumulator_value": -1.0}),
    ("Adagrad", {"eps": -1.0}),
]


@pytest.mark.parametrize("name, kwargs", INVALID_ARGUMENTS,
                         ids=[f"{n}-{','.join(k)}-{i}" for i, (n, k) in enumerate(INVALID_ARGUMENTS)])
def test_invalid_arguments_raise_like_torch(name, kwargs):
    kwargs = dict(kwargs)
    params = kwargs.pop("params", None)
    got = raised(lambda: getattr(pygd_torch, name)(params if params is not None else [_leaf()], **kwargs))
    want = raised(lambda: getattr(torch.optim, name)(params if params is not None else [_leaf()], **kwargs))
    assert got == want
