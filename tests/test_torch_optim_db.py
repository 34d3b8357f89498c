"""torch's own optimizer test inputs (torch.testing._internal.common_optimizers.optim_db, with the
flags torch's test suite adds to each: fused, maximize, differentiable, ...) through every
pygd.torch class, beside the torch.optim class: 20 steps, float32 and float64, the same params,
state and errors. Needs torch's test helpers' `expecttest` (the test extra has it)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch.testing._internal imports it
import numpy as np  # noqa: E402
from torch.testing._internal import common_optimizers  # noqa: E402

import pygd.torch as pygd_torch  # noqa: E402

STEPS = 20
OPTIM_DB = {info.optim_cls.__name__: info for info in common_optimizers.optim_db}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _inputs(name):
    """torch's inputs with its suite's flags, less differentiable=True (torch checks that with
    gradcheck on non-leaf params, not by stepping; pygd.torch routes it to torch's own step)."""
    info = OPTIM_DB[name]
    return [i for i in common_optimizers._get_optim_inputs_including_global_cliquey_kwargs("cpu", None, info)
            if not i.kwargs.get("differentiable")]


CASES = [(name, k) for name in sorted(OPTIM_DB) for k in range(len(_inputs(name)))]


@pytest.fixture(autouse=True)
def _ieee_sqrt(monkeypatch):
    """torch's for-loops take Tensor.sqrt, MKL's root (1 ulp off IEEE's for some inputs; see
    test_torch_bits.py): IEEE's here, so that pygd's kernels and torch's for-loops agree bit for bit."""
    def sqrt(t):
        return torch.from_numpy(np.asarray(np.sqrt(t.detach().numpy()))) if not t.requires_grad else torch.sqrt(t)
    monkeypatch.setattr(torch.Tensor, "sqrt", sqrt)


def _params(name, dtype):
    gen = torch.Generator().manual_seed(0)
    shapes = [(5, 4), (3, 6)] if name == "Muon" else [(5, 4), (5,), (33,), (2, 3, 4)]  # Muon: matrices
    return [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=dtype)) for s in shapes]


def _run(module, name, optimizer_input, dtype):
    params = _params(name, dtype)
    kwargs = dict(optimizer_input.kwargs)
    if isinstance(kwargs.get("lr"), torch.Tensor):  # each optimizer gets its own tensor
        kwargs["lr"] = kwargs["lr"].clone()
    opt = getattr(module, name)(params, **kwargs)
    gen = torch.Generator().manual_seed(1)
    sparse = OPTIM_DB[name].only_supports_sparse_grads
    for _ in range(STEPS):
        grads = [torch.randn(p.shape, generator=gen, dtype=dtype) for p in params]

        def closure(grads=grads):
            opt.zero_grad()
            for p, g in zip(params, grads):
                p.grad = g.to_sparse() if sparse else g.clone()
            return sum(float((p.detach() * g).sum()) for p, g in zip(params, grads))
        closure()
        if OPTIM_DB[name].step_requires_closure:
            opt.step(closure)
        else:
            opt.step()
    return params, opt


# pygd's kernels give torch's for-loop or fused bits in the vectorized body (test_torch_bits.py);
# torch's scalar tail and its foreach forms round a few operations differently.
TOLERANCE = {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, k", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_optim_db_inputs_match_torch(name, k, dtype):
    optimizer_input = _inputs(name)[k]
    got, opt = _run(pygd_torch, name, optimizer_input, DTYPES[dtype])
    want, ref = _run(torch.optim, name, optimizer_input, DTYPES[dtype])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, **TOLERANCE[dtype], equal_nan=True,
                                   msg=lambda m: f"{optimizer_input.desc}: {m}")
    for g, w in zip(got, want):
        for key, value in ref.state[w].items():
            other = opt.state[g][key]
            if isinstance(value, (torch.Tensor, list, tuple)):  # LBFGS keeps lists of tensors
                torch.testing.assert_close(other, value, **TOLERANCE[dtype], equal_nan=True)
            else:
                assert other == value or (other != other and value != value)  # NaN: LBFGS diverged


ERROR_CASES = [(name, k) for name in sorted(OPTIM_DB)
               for k in range(len(OPTIM_DB[name].optim_error_inputs_func(device="cpu", dtype=torch.float32)))]


@pytest.mark.parametrize("name, k", ERROR_CASES, ids=[f"{n}-{k}" for n, k in ERROR_CASES])
def test_optim_db_error_inputs_raise_torch_s_errors(name, k):
    """torch's own bad inputs (its test suite's optim_error_inputs_func): pygd.torch raises what
    torch.optim raises, at construction or at the step."""
    error = OPTIM_DB[name].optim_error_inputs_func(device="cpu", dtype=torch.float32)[k]
    inp = error.optimizer_error_input
    outcomes = []
    for module in (torch.optim, pygd_torch):
        params = inp.params
        if params is None:  # as torch's suite: a default param
            params = [torch.nn.Parameter(torch.randn(2, 3, generator=torch.Generator().manual_seed(0)))]
        if isinstance(params, list):  # fresh copies for each module (a param listed twice, twice)
            copies = {}
            params = [copies.setdefault(id(p), p.detach().clone().requires_grad_(p.requires_grad))
                      if isinstance(p, torch.Tensor) else p for p in params]
            for p in params:
                if isinstance(p, torch.Tensor) and p.requires_grad and p.grad is None:
                    p.grad = torch.ones_like(p)
        outcomes.append(_outcome(module, name, params, inp.kwargs, error))
    # torch's outcome is the expected one, and pygd's is torch's (where torch's suite sets its
    # inputs up otherwise and torch does not raise here, pygd must not either).
    assert outcomes[1] == outcomes[0]
    if outcomes[0] is not None:
        assert outcomes[0][0] is error.error_type or issubclass(outcomes[0][0], error.error_type)


def _outcome(module, name, params, kwargs, error):
    """(type, message) of what constructing (or stepping) raised or warned, or None."""
    import re
    import warnings
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            opt = getattr(module, name)(params, **kwargs)
            if error.error_on != common_optimizers.OptimizerErrorEnum.CONSTRUCTION_ERROR:
                opt.step()
    except Exception as exc:  # noqa: BLE001 - compared with torch's own
        return type(exc), str(exc)
    for w in caught:
        if issubclass(w.category, error.error_type) and re.search(error.error_regex, str(w.message)):
            return w.category, str(w.message)
    return None
