"""What the tests of pygd.torch as a drop-in replacement for torch.optim share (test_torch_api_*.py:
construction, the step, state_dict, LR schedulers, clipping and AMP, errors).

Every behavioural test runs the same script on pygd.torch and on torch.optim and compares: torch is
the specification. `PYGD_TORCH_TEST_TARGET=torch.optim pytest tests/test_torch_api_*.py` runs
the suites with torch.optim itself in pygd.torch's place, which checks the expectations against
torch; the tests of what only pygd does (NotImplementedError flags, dtype and device errors,
validate-before-write across param groups) skip there.

Numbers. Grads are set by hand, or come from a linear loss sum_i <p_i, G_i> whose gradient is
exactly G_i whatever the params: so the two runs see the same grads at every step, no error feeds
back through a model, and cases.py's bound applies as it does to the functional parity tests (both
sides are dtype approximations of the same exact sequence: rtol = 8 * steps * u * 2 relative to
|ref| + rms(ref), e.g. 9.5e-6 for 10 float32 steps). Where both runs are pygd on the same inputs,
they must agree bit for bit.
"""

import importlib
import inspect
import os

import pytest

from cases import TORCH_NAMES, TORCH_OPTIONS, assert_close

torch = pytest.importorskip("torch")
lrs = torch.optim.lr_scheduler
from torch.optim.optimizer import (  # noqa: E402, F401  (after the importorskip; for the step tests)
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

TARGET = os.environ.get("PYGD_TORCH_TEST_TARGET", "pygd.torch")
pygd_torch = importlib.import_module(TARGET)
pygd_only = pytest.mark.skipif(TARGET != "pygd.torch", reason=f"pygd.torch behaviour; testing {TARGET}")

NAMES = TORCH_NAMES
# torch.optim's classes with a fused implementation (SGD, Adam, AdamW, Adagrad in torch 2.13): those
# whose constructor takes `fused`.
TORCH_FUSED = {n for n in NAMES if "fused" in inspect.signature(getattr(torch.optim, n)).parameters}
SPARSE_ACCEPTED = {"SGD", "Adagrad"}  # the torch.optim classes whose step takes sparse grads
SPARSE_REFUSED = tuple(n for n in NAMES if n not in SPARSE_ACCEPTED)
# Every state tensor and option path switched on, so that every state is created and compared.
HEAVY = TORCH_OPTIONS
# Several tensor sizes: SIMD bodies and tails, a scalar, a 3-d tensor.
SHAPES = ((5, 3), (33,), (2, 2, 4), (1,))
DTYPES = (torch.float32, torch.float64)


def _pygd_cuda_usable():
    """Whether pygd's CUDA kernels can run here: the module built and a device it can use."""
    import pygd
    info = pygd.info()
    return info["cuda_built"] and info["cuda_devices"] > 0


def dtype_id(dtype):
    return str(dtype).removeprefix("torch.")

def make_params(dtype=torch.float32, shapes=SHAPES, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=g, dtype=torch.float64).to(dtype)) for s in shapes]


def clone(params):
    return [torch.nn.Parameter(p.detach().clone(), requires_grad=p.requires_grad) for p in params]


def grad_for(p, t, i, seed=0):
    """The grad of param i at step t: N(0, 1), the same for a given (p's shape, t, i, seed)."""
    g = torch.Generator().manual_seed(1_000_003 * seed + 1009 * t + i)
    return torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype)


def set_grads(params, t, seed=0):
    for i, p in enumerate(params):
        p.grad = grad_for(p, t, i, seed)


def linear_loss(params, t, seed=0):
    """sum_i <p_i, G_i>: its gradient is exactly grad_for(p_i, t, i)."""
    return sum((p * grad_for(p, t, i, seed)).sum() for i, p in enumerate(params))


def train(opt, params, steps, start=1):
    for t in range(start, start + steps):
        set_grads(params, t)
        opt.step()


def step_counts(opt, params):
    """Each param's state["step"] as a float; None where it has none (torch's SGD keeps no count)."""
    return [float(opt.state[p]["step"]) if "step" in opt.state.get(p, {}) else None for p in params]


def numpy(t):
    return t.detach().numpy()


def snapshot(opt, params):
    """Copies of the params and of every state tensor, to check later that nothing changed."""
    return ([p.detach().clone() for p in params],
            [{k: v.clone() for k, v in opt.state[p].items()} if p in opt.state else None for p in params])


def assert_unchanged(before, opt, params, what=""):
    old_params, old_states = before
    for i, (p, old) in enumerate(zip(params, old_params)):
        assert torch.equal(p.detach(), old), f"{what}: param {i} changed"
    for i, (p, old) in enumerate(zip(params, old_states)):
        if old is None:
            assert p not in opt.state or not opt.state[p], f"{what}: param {i} got state"
            continue
        assert opt.state[p].keys() == old.keys(), f"{what}: param {i} state keys changed"
        for k, v in old.items():
            assert torch.equal(opt.state[p][k], v), f"{what}: param {i} state {k!r} changed"


def assert_same_run(got_opt, got_params, want_opt, want_params, steps, what=""):
    """Params and every state tensor within cases.py's bound (per tensor dtype); step counts equal."""
    assert len(got_params) == len(want_params)
    for i, (g, w) in enumerate(zip(got_params, want_params)):
        dtype = w.detach().numpy().dtype
        assert g.dtype == w.dtype, f"{what} param {i}: dtype {g.dtype} != {w.dtype}"
        assert_close([numpy(g)], [numpy(w)], dtype, steps, f"{what} param {i}", sources=2)
        got_state, want_state = got_opt.state.get(g, {}), want_opt.state.get(w, {})
        assert got_state.keys() == want_state.keys(), f"{what} param {i}: state keys"
        for k, v in want_state.items():
            if k == "step":
                assert float(got_state[k]) == float(v), f"{what} param {i}: step {got_state[k]} != {v}"
            else:
                assert_close([numpy(got_state[k])], [numpy(v)], dtype, steps, f"{what} param {i} {k}",
                             sources=2)


def run_pair(name, kwargs, script, params=None, groups=list, torch_kwargs=None):
    """script(opt, params) on pygd.torch and on torch.optim, from equal params (default:
    make_params()), each optimizer built on groups(params) with kwargs (torch's also with
    torch_kwargs: on CPU tensors torch's default is its for-loop implementation).
    Returns (opt, params, script's result) for each."""
    got_params = make_params() if params is None else params
    want_params = clone(got_params)
    got = getattr(pygd_torch, name)(groups(got_params), **kwargs)
    want = getattr(torch.optim, name)(groups(want_params), **dict(kwargs, **(torch_kwargs or {})))
    got_out, want_out = script(got, got_params), script(want, want_params)
    return (got, got_params, got_out), (want, want_params, want_out)


def raised(factory):
    """(type, message) of what factory() raises; fails if it raises nothing."""
    with pytest.raises(Exception) as info:
        factory()
    return type(info.value), str(info.value)
