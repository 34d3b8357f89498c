"""pygd.torch as a drop-in replacement for torch.optim: the Optimizer API, state_dict, schedulers,
gradient clipping, GradScaler, and the errors.

Every behavioural test runs the same script on pygd.torch and on torch.optim and compares: torch is
the specification. `PYGD_TORCH_TEST_TARGET=torch.optim pytest tests/test_torch_optimizers.py` runs
the suite with torch.optim itself in pygd.torch's place, which checks the expectations against
torch; the tests of what only pygd does (NotImplementedError flags, dtype and device errors,
validate-before-write across param groups) skip there.

Numbers. Grads are set by hand, or come from a linear loss sum_i <p_i, G_i> whose gradient is
exactly G_i whatever the params: so the two runs see the same grads at every step, no error feeds
back through a model, and cases.py's bound applies as it does to the functional parity tests (both
sides are dtype approximations of the same exact sequence: rtol = 8 * steps * u * 2 relative to
|ref| + rms(ref), e.g. 9.5e-6 for 10 float32 steps). Where both runs are pygd on the same inputs,
they must agree bit for bit.
"""

import collections
import copy
import importlib
import inspect
import io
import os
import warnings

import pytest

from cases import assert_close

torch = pytest.importorskip("torch")
lrs = torch.optim.lr_scheduler
from torch.optim.optimizer import (  # noqa: E402  (after the importorskip)
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

TARGET = os.environ.get("PYGD_TORCH_TEST_TARGET", "pygd.torch")
pygd_torch = importlib.import_module(TARGET)
pygd_only = pytest.mark.skipif(TARGET != "pygd.torch", reason=f"pygd.torch behaviour; testing {TARGET}")

NAMES = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")
TORCH_FUSED = {"SGD", "Adam", "AdamW", "Adagrad"}  # torch.optim's fused CPU implementations
SPARSE_REFUSED = ("Adam", "AdamW", "RMSprop")  # torch.optim's SGD and Adagrad take sparse grads
# Every state tensor and option path switched on, so that every state is created and compared.
HEAVY = {
    "SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam": dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.01),
    "AdamW": dict(lr=0.01, amsgrad=True, weight_decay=0.1),
    "RMSprop": dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.01),
    "Adagrad": dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01),
}
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


# ----------------------------------------------------------------------------- helpers

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


# ----------------------------------------------------------------------------- construction

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


# ----------------------------------------------------------------------------- the step

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("name", NAMES)
def test_training_matches_torch(name, dtype):
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], lambda o, p: train(o, p, 10),
                                           make_params(dtype))
    assert_same_run(got, gp, want, wp, 10, f"{name} {dtype}")


@pytest.mark.parametrize("name", NAMES)
def test_closure_is_called_once_with_grad_enabled_and_its_loss_returned(name):
    def script(opt, params):
        calls, losses = [], []
        for t in (1, 2, 3):
            def closure():
                calls.append(torch.is_grad_enabled())
                opt.zero_grad()
                loss = linear_loss(params, t)
                loss.backward()
                losses.append(loss)
                return loss
            with torch.no_grad():  # the step must turn grad on for the closure, as torch does
                returned = opt.step(closure)
            assert returned is losses[-1]
        return calls
    (got, gp, calls), (want, wp, _) = run_pair(name, HEAVY[name], script)
    assert calls == [True, True, True]
    assert_same_run(got, gp, want, wp, 3, name)


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_zero_grad(name, set_to_none):
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    train(opt, params, 2)
    grads = [p.grad for p in params]
    opt.zero_grad(set_to_none=set_to_none)
    for p, g in zip(params, grads):
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad is g and not p.grad.any()


@pytest.mark.parametrize("name", NAMES)
def test_step_leaves_grads_untouched(name):
    """Without a GradScaler the grads are inputs only (maximize and weight decay must not leak into
    .grad), and they stay the same tensors."""
    kwargs = dict(HEAVY[name], maximize=True)
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **kwargs)
    for t in (1, 2, 3):
        set_grads(params, t)
        grads = [p.grad for p in params]
        copies = [g.clone() for g in grads]
        opt.step()
        for p, g, c in zip(params, grads, copies):
            assert p.grad is g and torch.equal(g, c)


@pytest.mark.parametrize("name", NAMES)
def test_params_and_state_are_updated_in_place(name):
    """The step writes into the tensors' own memory: no param or state tensor is replaced."""
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    train(opt, params, 1)
    ptrs = [(p.data_ptr(), {k: v.data_ptr() for k, v in opt.state[p].items() if k != "step"}) for p in params]
    before = [p.detach().clone() for p in params]
    train(opt, params, 3, start=2)
    assert ptrs == [(p.data_ptr(), {k: v.data_ptr() for k, v in opt.state[p].items() if k != "step"})
                    for p in params]
    assert all(not torch.equal(p.detach(), b) for p, b in zip(params, before))


@pytest.mark.parametrize("name", NAMES)
def test_param_group_added_mid_run_gets_state_and_trains(name):
    extra_kwargs = {"lr": HEAVY[name]["lr"] / 2, "weight_decay": 0.0}

    def script(opt, params):
        first, added = params[:2], params[2:]
        for t in (1, 2, 3):
            set_grads(first, t)
            opt.step()
        opt.add_param_group({"params": added, **extra_kwargs})
        for t in (4, 5, 6):
            set_grads(params, t)
            opt.step()
        return step_counts(opt, params)

    (got, gp, steps), (want, wp, want_steps) = run_pair(name, HEAVY[name], script, groups=lambda p: p[:2])
    assert steps == want_steps == ([None] * 4 if name == "SGD" else [6, 6, 3, 3])
    assert ({k: v for k, v in got.param_groups[1].items() if k != "params"}
            == {k: v for k, v in want.param_groups[1].items() if k != "params"})
    assert_same_run(got, gp, want, wp, 6, name)


@pytest.mark.parametrize("name", NAMES)
def test_params_whose_grad_is_none_are_skipped(name):
    """Param 1 has no grad at steps 3-4: it and its state (step count included) stay as they were,
    while the others advance. Param 3 never has a grad: it keeps the state torch gives it (none;
    Adagrad's from construction: step 0 and the initial accumulator)."""
    def script(opt, params):
        snapshots = {}
        for t in range(1, 7):
            set_grads(params, t)
            params[3].grad = None
            if t in (3, 4):
                params[1].grad = None
            if t == 3:
                snapshots["before"] = snapshot(opt, params[1:2])
            opt.step()
            if t == 4:
                assert_unchanged(snapshots["before"], opt, params[1:2], f"grad-less param after step {t}")
        return step_counts(opt, params)

    (got, gp, steps), (want, wp, want_steps) = run_pair(name, HEAVY[name], script)
    assert steps == want_steps == {"SGD": [None] * 4, "Adagrad": [6, 4, 6, 0]}.get(name, [6, 4, 6, None])
    assert_same_run(got, gp, want, wp, 6, name)
    # What a checkpoint holds: the per-param step counts, as torch's.
    got_sd, want_sd = got.state_dict()["state"], want.state_dict()["state"]
    assert got_sd.keys() == want_sd.keys()
    def counts(sd):  # -1: no count (SGD)
        return [float(s.get("step", -1)) for s in sd.values()]
    assert counts(got_sd) == counts(want_sd)


@pytest.mark.parametrize("name", NAMES)
def test_frozen_params_are_untouched(name):
    """A layer with requires_grad=False, still in the optimizer (a common fine-tuning set-up)."""
    def script(opt, params):
        for t in (1, 2, 3):
            opt.zero_grad()
            linear_loss([p for p in params if p.requires_grad], t).backward()
            opt.step()

    params = make_params()
    params[1].requires_grad_(False)
    frozen = params[1].detach().clone()
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], script, params)
    assert gp[1].grad is None and torch.equal(gp[1].detach(), frozen)
    assert step_counts(got, gp[1:2]) == step_counts(want, wp[1:2]) == [0.0 if name == "Adagrad" else None]
    assert_same_run(got, gp, want, wp, 3, name)


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_with_their_own_hyperparameters(name):
    group_options = {
        "SGD": [dict(lr=0.05, momentum=0.5, dampening=0.2), dict(nesterov=False, weight_decay=0.0)],
        "Adam": [dict(lr=0.02, betas=(0.5, 0.9), amsgrad=False), dict(eps=1e-3, maximize=True)],
        "AdamW": [dict(lr=0.02, weight_decay=0.5), dict(betas=(0.3, 0.5), amsgrad=False)],
        "RMSprop": [dict(lr=0.02, alpha=0.5, centered=False), dict(momentum=0.0, maximize=True)],
        "Adagrad": [dict(lr=0.02, lr_decay=0.5), dict(eps=1e-3, maximize=True)],
    }[name]

    def groups(params):
        return [{"params": params[:1]}, {"params": params[1:3], **group_options[0]},
                {"params": params[3:], **group_options[1]}]
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], lambda o, p: train(o, p, 8), groups=groups)
    assert_same_run(got, gp, want, wp, 8, name)


@pytest.mark.parametrize("name", NAMES)
def test_mixed_float32_and_float64_params_in_one_group(name):
    params = make_params(torch.float32)
    for i in (1, 3):
        params[i] = torch.nn.Parameter(params[i].detach().double())
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], lambda o, p: train(o, p, 6), params)
    assert [p.dtype for p in gp] == [torch.float32, torch.float64, torch.float32, torch.float64]
    assert_same_run(got, gp, want, wp, 6, name)


@pytest.mark.parametrize("name", NAMES)
def test_step_hooks_are_called_around_the_update(name):
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    set_grads(params, 1)
    initial = params[0].detach().clone()
    events = []

    def hook(kind):
        def record(optimizer, args, kwargs):
            events.append((kind, optimizer is opt, torch.equal(params[0].detach(), initial)))
        return record

    handles = [opt.register_step_pre_hook(hook("pre")), opt.register_step_post_hook(hook("post")),
               register_optimizer_step_pre_hook(hook("global pre")),
               register_optimizer_step_post_hook(hook("global post"))]
    try:
        opt.step()
    finally:
        for h in handles:
            h.remove()
    # "unchanged" is True before the update and False after it.
    assert events == [("global pre", True, True), ("pre", True, True),
                      ("post", True, False), ("global post", True, False)]
    opt.step()
    assert len(events) == 4


# ----------------------------------------------------------------------------- state_dict

@pytest.mark.parametrize("torch_flags", [{"foreach": False}, {"fused": True}], ids=["for-loop", "fused"])
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_has_torch_format(name, torch_flags):
    if "fused" in torch_flags and name == "RMSprop":
        pytest.skip("torch.optim.RMSprop has no fused implementation")
    got_params = make_params()
    want_params = clone(got_params)
    got = getattr(pygd_torch, name)(got_params, **HEAVY[name], **torch_flags)
    want = getattr(torch.optim, name)(want_params, **HEAVY[name], **torch_flags)
    got_params[3].requires_grad_(False)  # one param without state
    want_params[3].requires_grad_(False)
    for opt, params in ((got, got_params), (want, want_params)):
        for t in (1, 2, 3):
            opt.zero_grad()
            linear_loss(params[:3], t).backward()
            opt.step()
    got_sd, want_sd = got.state_dict(), want.state_dict()
    assert got_sd.keys() == want_sd.keys() == {"state", "param_groups"}
    assert got_sd["param_groups"] == want_sd["param_groups"]
    # Param 3 has no grad: no state (Adagrad: the state it got at construction).
    with_state = {0, 1, 2, 3} if name == "Adagrad" else {0, 1, 2}
    assert got_sd["state"].keys() == want_sd["state"].keys() == with_state
    for i, want_state in want_sd["state"].items():
        got_state = got_sd["state"][i]
        assert got_state.keys() == want_state.keys(), f"param {i}"
        for k, want_v in want_state.items():
            got_v = got_state[k]
            assert isinstance(got_v, torch.Tensor), f"param {i} {k}: {type(got_v)}"
            assert (got_v.shape, got_v.dtype, got_v.device) == (want_v.shape, want_v.dtype, want_v.device), \
                f"param {i} {k}"
        if name != "SGD":  # torch's SGD keeps no step count
            assert got_state["step"].dim() == 0 and float(got_state["step"]) == float(want_state["step"])


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("direction", ["torch-to-pygd", "pygd-to-torch"])
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_interchange_with_torch_mid_run(name, direction, dtype):
    """5 steps with one library, its state_dict loaded into the other, 5 more steps: the same as
    10 steps with torch alone."""
    first, second = (torch.optim, pygd_torch) if direction == "torch-to-pygd" else (pygd_torch, torch.optim)
    params = make_params(dtype)
    reference_params = clone(params)
    reference = getattr(torch.optim, name)(reference_params, **HEAVY[name], foreach=False)
    train(reference, reference_params, 10)

    opt = getattr(first, name)(params, **HEAVY[name])
    train(opt, params, 5)
    state_dict = opt.state_dict()
    resumed_params = clone(params)
    resumed = getattr(second, name)(resumed_params, **HEAVY[name])
    resumed.load_state_dict(state_dict)
    assert step_counts(resumed, resumed_params) == step_counts(opt, params)
    train(resumed, resumed_params, 5, start=6)
    assert_same_run(resumed, resumed_params, reference, reference_params, 10, f"{name} {direction}")


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_through_torch_save_resumes_bitwise(name):
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    train(opt, params, 3)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    restored_params = clone(params)
    restored = getattr(pygd_torch, name)(restored_params, **HEAVY[name])
    restored.load_state_dict(torch.load(buffer))  # weights_only=True, torch's default
    train(opt, params, 3, start=4)
    train(restored, restored_params, 3, start=4)
    for p, q in zip(params, restored_params):
        assert torch.equal(p.detach(), q.detach())
        assert opt.state[p].keys() == restored.state[q].keys()
        for k in opt.state[p]:
            assert torch.equal(opt.state[p][k], restored.state[q][k]), k


@pytest.mark.parametrize("name", NAMES)
def test_load_state_dict_into_an_optimizer_that_has_stepped(name):
    """Loading replaces every state tensor of an optimizer already in use (whose step may have
    cached where they live): the next steps must use the loaded state."""
    reference_params = make_params()
    reference = getattr(torch.optim, name)(reference_params, **HEAVY[name])
    train(reference, reference_params, 4)
    checkpoint_params = [p.detach().clone() for p in reference_params]
    checkpoint = copy.deepcopy(reference.state_dict())
    train(reference, reference_params, 4, start=5)

    params = make_params(seed=1)
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    for t in (1, 2, 3):
        set_grads(params, t, seed=1)
        opt.step()
    opt.load_state_dict(checkpoint)
    with torch.no_grad():
        for p, q in zip(params, checkpoint_params):
            p.copy_(q)
    train(opt, params, 4, start=5)
    assert_same_run(opt, params, reference, reference_params, 8, name)


def _replace_a_state_tensor(opt, params):
    name = {"SGD": "momentum_buffer", "Adam": "exp_avg", "AdamW": "exp_avg", "RMSprop": "square_avg",
            "Adagrad": "sum"}[type(opt).__name__]
    opt.state[params[0]][name] = torch.full_like(params[0], 0.5).detach()


def _replace_param_storage(opt, params):
    params[0].data = params[0].data.clone()


# Edits of an optimizer between steps that torch.optim follows, since it reads params and state
# afresh at every step. (Adagrad is left out of the state removals: torch's Adagrad makes its state
# in __init__ only, and fails at the next step.)
STATE_EDITS = {
    "state dict replaced": lambda opt, params: setattr(opt, "state", collections.defaultdict(dict)),
    "state cleared": lambda opt, params: opt.state.clear(),
    "one param's state removed": lambda opt, params: opt.state.pop(params[1]),
    "a state tensor replaced": _replace_a_state_tensor,
    "a step count set": lambda opt, params: opt.state[params[0]].__setitem__("step", torch.tensor(100.0)),
    "a param's storage replaced": _replace_param_storage,
}


@pytest.mark.parametrize("edit", STATE_EDITS)
@pytest.mark.parametrize("name", NAMES)
def test_state_edited_between_steps_is_followed(name, edit):
    if name == "Adagrad" and edit in ("state dict replaced", "state cleared", "one param's state removed"):
        pytest.skip("torch.optim.Adagrad itself fails after its state is removed")
    if name == "SGD" and edit == "a step count set":
        pytest.skip("torch.optim.SGD keeps no step count")

    def script(opt, params):
        train(opt, params, 3)
        STATE_EDITS[edit](opt, params)
        train(opt, params, 3, start=4)
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], script)
    assert_same_run(got, gp, want, wp, 6, f"{name}, {edit}")


@pytest.mark.parametrize("name", NAMES)
def test_deepcopy_of_an_optimizer_steps_on_its_own_tensors(name):
    """copy.deepcopy (as in checkpoint-averaging or lookahead code): the copy trains its own params
    and state, leaves the original's alone, and resumes exactly as the original would."""
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    train(opt, params, 3)
    twin = copy.deepcopy(opt)
    twin_params = twin.param_groups[0]["params"]
    before = snapshot(opt, params)
    train(twin, twin_params, 3, start=4)
    assert_unchanged(before, opt, params, "the original, after its copy stepped")
    train(opt, params, 3, start=4)
    for p, q in zip(params, twin_params):
        assert torch.equal(p.detach(), q.detach())


# ----------------------------------------------------------------------------- lr schedulers

SCHEDULER_STEPS = 12
# For ReduceLROnPlateau: stalls after step 2, and again after step 6.
PLATEAU_METRICS = [1.0, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]


def _cycles_momentum(opt):
    return "momentum" in opt.defaults or "betas" in opt.defaults


SCHEDULERS = {
    "StepLR": lambda o: lrs.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda o: lrs.MultiStepLR(o, milestones=[2, 5, 7], gamma=0.3),
    "ConstantLR": lambda o: lrs.ConstantLR(o, factor=0.25, total_iters=4),
    "LinearLR": lambda o: lrs.LinearLR(o, start_factor=0.2, total_iters=5),
    "ExponentialLR": lambda o: lrs.ExponentialLR(o, gamma=0.8),
    "PolynomialLR": lambda o: lrs.PolynomialLR(o, total_iters=8, power=2.0),
    "CosineAnnealingLR": lambda o: lrs.CosineAnnealingLR(o, T_max=5, eta_min=1e-4),
    "ChainedScheduler": lambda o: lrs.ChainedScheduler(
        [lrs.ConstantLR(o, factor=0.5, total_iters=3), lrs.ExponentialLR(o, gamma=0.9)]),
    "SequentialLR": lambda o: lrs.SequentialLR(
        o, [lrs.LinearLR(o, start_factor=0.1, total_iters=3), lrs.ExponentialLR(o, gamma=0.9)],
        milestones=[4]),
    "ReduceLROnPlateau": lambda o: lrs.ReduceLROnPlateau(o, factor=0.5, patience=1),
    # Cycles momentum (SGD, RMSprop) or beta1 (Adam, AdamW) where the optimizer has one.
    "CyclicLR": lambda o: lrs.CyclicLR(o, base_lr=[g["lr"] / 10 for g in o.param_groups],
                                       max_lr=[g["lr"] for g in o.param_groups], step_size_up=3,
                                       cycle_momentum=_cycles_momentum(o)),
    "OneCycleLR": lambda o: lrs.OneCycleLR(o, max_lr=[g["lr"] for g in o.param_groups],
                                           total_steps=SCHEDULER_STEPS, cycle_momentum=_cycles_momentum(o)),
    "CosineAnnealingWarmRestarts": lambda o: lrs.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "LambdaLR": lambda o: lrs.LambdaLR(o, lambda k: 1 / (1 + k)),
    "MultiplicativeLR": lambda o: lrs.MultiplicativeLR(o, lambda k: 0.9),
}
# Momentum where the optimizer has it, so that CyclicLR and OneCycleLR have something to cycle.
SCHEDULED = {"SGD": dict(lr=0.05, momentum=0.9), "Adam": dict(lr=0.01), "AdamW": dict(lr=0.01),
             "RMSprop": dict(lr=0.01, momentum=0.5), "Adagrad": dict(lr=0.1)}


def test_scheduler_table_covers_every_torch_scheduler():
    public = {n for n, c in vars(lrs).items() if isinstance(c, type) and not n.startswith("_")
              and (issubclass(c, lrs.LRScheduler) or c is lrs.ReduceLROnPlateau)}
    assert public - {"LRScheduler"} <= SCHEDULERS.keys()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_lr_scheduler_drives_it_as_it_drives_torch(scheduler, name):
    """The same lr (and momentum or betas) at every step, the same params, the same warnings (e.g.
    torch's 'lr_scheduler.step() before optimizer.step()', which comes from how step is wrapped)."""
    def script(opt, params):
        trace = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched = SCHEDULERS[scheduler](opt)
            for t in range(1, SCHEDULER_STEPS + 1):
                set_grads(params, t)
                opt.step()
                if scheduler == "ReduceLROnPlateau":
                    sched.step(PLATEAU_METRICS[t - 1])
                else:
                    sched.step()
                trace.append([(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups])
        return trace, [str(w.message) for w in caught]

    def groups(params):
        return [{"params": params[:2]}, {"params": params[2:], "lr": SCHEDULED[name]["lr"] / 2}]
    got_params = make_params()
    want_params = clone(got_params)
    got = getattr(pygd_torch, name)(groups(got_params), **SCHEDULED[name])
    want = getattr(torch.optim, name)(groups(want_params), **SCHEDULED[name], foreach=False)
    got_trace, got_warnings = script(got, got_params)
    want_trace, want_warnings = script(want, want_params)
    assert got_trace == want_trace
    assert len({tuple(x[0]) for x in want_trace}) > 1 or scheduler == "ConstantLR"  # the lr does move
    assert got_warnings == want_warnings
    assert_same_run(got, got_params, want, want_params, SCHEDULER_STEPS, f"{name} {scheduler}")


# ----------------------------------------------------------------------------- clipping and AMP

@pytest.mark.parametrize("name", NAMES)
def test_clip_grad_norm_before_step(name):
    def script(opt, params):
        norms = []
        for t in range(1, 6):
            opt.zero_grad()
            (4.0 * linear_loss(params, t)).backward()  # grads of norm ~33: clipped to 1
            norms.append(torch.nn.utils.clip_grad_norm_(params, max_norm=1.0))
            opt.step()
        return norms
    (got, gp, got_norms), (want, wp, want_norms) = run_pair(name, HEAVY[name], script)
    assert all(n > 1.0 for n in want_norms)
    assert [float(n) for n in got_norms] == [float(n) for n in want_norms]
    assert_same_run(got, gp, want, wp, 5, name)


def _torch_reference_flags(name):
    """torch's fused implementation, which takes GradScaler's grad_scale/found_inf as pygd does;
    RMSprop has none, so the for-loop one (GradScaler unscales the grads before its step)."""
    return {"fused": True} if name in TORCH_FUSED else {"foreach": False}


AMP_STEPS = 6
INF_STEP = 3


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")], ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize("name", NAMES)
def test_grad_scaler_matches_torch_fused_and_skips_nonfinite_steps(name, bad):
    """GradScaler over 6 steps, a non-finite value planted in one grad at step 3: that step changes
    nothing (params, state, step counts), the scale backs off as torch's does, and after every
    finite step .grad holds the unscaled grads, as after torch's fused step."""
    def script(opt, params):
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
        scales = []
        for t in range(1, AMP_STEPS + 1):
            opt.zero_grad()
            scaler.scale(linear_loss(params, t)).backward()
            if t == INF_STEP:
                params[1].grad[7] = bad
                before = snapshot(opt, params)
            scaler.step(opt)
            if t == INF_STEP:
                assert_unchanged(before, opt, params, f"step {t} with {bad} in a grad")
            else:
                for i, p in enumerate(params):
                    assert torch.equal(p.grad, grad_for(p, t, i)), f"step {t}: .grad {i} is not unscaled"
            scaler.update()
            scales.append(scaler.get_scale())
        return scales

    (got, gp, got_scales), (want, wp, want_scales) = run_pair(
        name, HEAVY[name], script, torch_kwargs=_torch_reference_flags(name))
    assert got_scales == want_scales == [2.0 ** 10, 2.0 ** 11, 2.0 ** 10, 2.0 ** 10, 2.0 ** 11, 2.0 ** 11]
    assert step_counts(got, gp) == [None if name == "SGD" else AMP_STEPS - 1.0] * len(gp)
    assert_same_run(got, gp, want, wp, AMP_STEPS, name)


@pytest.mark.parametrize("name", NAMES)
def test_grad_scaler_unscale_then_clip_then_step(name):
    """The documented recipe: scaler.unscale_(opt), clip, scaler.step(opt) (then GradScaler hands
    the optimizer found_inf but no grad_scale). Step 2 overflows and is skipped."""
    def script(opt, params):
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
        for t in range(1, 6):
            opt.zero_grad()
            scaler.scale(4.0 * linear_loss(params, t)).backward()
            if t == 2:
                params[0].grad[0, 0] = float("inf")
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
            scaler.step(opt)
            scaler.update()
        return scaler.get_scale()

    (got, gp, got_scale), (want, wp, want_scale) = run_pair(
        name, HEAVY[name], script, torch_kwargs=_torch_reference_flags(name))
    assert got_scale == want_scale == 2.0 ** 9
    assert step_counts(got, gp) == [None if name == "SGD" else 4.0] * len(gp)
    assert_same_run(got, gp, want, wp, 5, name)


@pytest.mark.parametrize("name", sorted(TORCH_FUSED))
def test_grad_scaler_overflow_on_the_first_step(name):
    """An overflow on the very first step: the params stay as they were, and the state is what
    torch's fused step leaves (created, with step count 0); the run then goes on as torch's.
    SGD is compared with torch's for-loop SGD instead, whose step GradScaler skips: torch 2.13's
    fused SGD makes its momentum buffers with empty_like, and leaves them uninitialized when the
    first step is skipped. pygd's first real step must take the grad as the buffer (no dampening)."""
    def script(opt, params):
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
        for t in range(1, 5):
            opt.zero_grad()
            scaler.scale(linear_loss(params, t)).backward()
            if t == 1:
                params[2].grad[0, 1, 2] = float("inf")
                before = [p.detach().clone() for p in params]
            scaler.step(opt)
            scaler.update()
            if t == 1:
                assert all(torch.equal(p.detach(), b) for p, b in zip(params, before))
                after_overflow = step_counts(opt, params)
        return after_overflow

    # fused=True on both sides (pygd accepts it and runs its own kernel), so that run against
    # torch.optim this test compares torch's fused step with itself.
    kwargs = dict(lr=0.1, momentum=0.9, dampening=0.3) if name == "SGD" else dict(HEAVY[name], fused=True)
    (got, gp, got_steps), (want, wp, want_steps) = run_pair(name, kwargs, script)
    assert got_steps == want_steps
    assert_same_run(got, gp, want, wp, 4, name)


def _strided_grad(p, t, i):
    """The grad of param i at step t, in a non-contiguous tensor: a transposed matrix, or every
    other element of a longer vector."""
    g = grad_for(p, t, i)
    if p.dim() == 2:
        return g.t().contiguous().t()
    if p.dim() == 1 and p.numel() > 1:
        wide = torch.zeros(2 * p.numel(), dtype=p.dtype)
        wide[::2] = g
        return wide[::2]
    return g


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_grads_are_used_as_they_are(name):
    """torch accepts grads of any strides (e.g. set by hand from a transposed product); so does
    pygd.torch (it copies such a grad), and it leaves the grad as it was."""
    def script(opt, params):
        for t in range(1, 6):
            for i, p in enumerate(params):
                p.grad = _strided_grad(p, t, i)
            assert not params[0].grad.is_contiguous() and not params[1].grad.is_contiguous()
            opt.step()
            for i, p in enumerate(params):
                assert torch.equal(p.grad, grad_for(p, t, i))
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], script)
    assert_same_run(got, gp, want, wp, 5, name)


@pytest.mark.parametrize("name", NAMES)
def test_grad_scaler_unscales_non_contiguous_grads_in_place(name):
    """GradScaler with non-contiguous grads: the unscaled values land in the user's grad tensors.
    Compared with torch's for-loop optimizer (GradScaler unscales its grads in place beforehand):
    torch 2.13's fused CPU kernels treat a strided grad as if it were contiguous (they read and
    write the first numel elements of its storage), so they are no reference here."""
    def script(opt, params):
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
        for t in range(1, 4):
            scale = scaler.scale(torch.ones(()))  # the scale, as scaler.scale(loss) would apply it
            grads = []
            for i, p in enumerate(params):
                p.grad = _strided_grad(p, t, i).mul_(scale)
                grads.append(p.grad)
            scaler.step(opt)
            scaler.update()
            for i, (p, g) in enumerate(zip(params, grads)):
                assert p.grad is g and torch.equal(g, grad_for(p, t, i)), f"step {t}: grad {i} not unscaled"
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], script, torch_kwargs={"foreach": False})
    assert_same_run(got, gp, want, wp, 3, name)


@pytest.mark.parametrize("name", NAMES)
def test_tensor_lr_like_torch(name):
    """torch.optim takes lr as a 0-dim tensor (its for-loop implementation reads it every step)."""
    def script(opt, params):
        train(opt, params, 3)
        opt.param_groups[0]["lr"].mul_(0.5)  # changed in place, as a scheduler on tensor lrs does
        train(opt, params, 3, start=4)
    (got, gp, _), (want, wp, _) = run_pair(  # each optimizer its own lr tensor
        name, HEAVY[name], script, groups=lambda p: [{"params": p, "lr": torch.tensor(HEAVY[name]["lr"])}])
    assert_same_run(got, gp, want, wp, 6, name)


@pygd_only
@pytest.mark.parametrize("name", NAMES)
def test_results_do_not_depend_on_the_thread_count(name, runtime, small_grain):
    """The kernel splits work across threads (a small grain makes these tensors split): results are
    bit-identical for any thread count."""
    results = []
    for threads in (1, 2):
        runtime(threads=threads)
        params = make_params(torch.float32, shapes=((64, 33), (1000,), (7,)))
        opt = getattr(pygd_torch, name)(params, **HEAVY[name])
        train(opt, params, 4)
        results.append([p.detach().clone() for p in params])
    assert all(torch.equal(a, b) for a, b in zip(*results))


# ----------------------------------------------------------------------------- errors

@pygd_only
@pytest.mark.parametrize("name", SPARSE_REFUSED)
def test_bad_grad_in_a_later_group_changes_no_group(name):
    """Validate before write, across groups (torch.optim updates the first group before it meets
    the second group's sparse grad; pygd checks every group, and runs torch's step for the params
    it routes there, which raises torch's error, before its first native write)."""
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    params = make_params()
    opt = getattr(pygd_torch, name)([{"params": params}, {"params": [embedding.weight]}], **HEAVY[name])
    train(opt, params, 1)
    set_grads(params, 2)
    embedding(torch.tensor([2])).sum().backward()
    before = snapshot(opt, params + [embedding.weight])
    with pytest.raises((RuntimeError, TypeError), match="(?i)sparse"):
        opt.step()
    assert_unchanged(before, opt, params + [embedding.weight], "after a sparse grad in group 2")


def dense_params_in_other_orders(dtype=torch.float32):
    """Params whose elements fill their memory once each, not in row-major order: a transposed
    matrix and a channels_last convolution weight (what model.to(memory_format=torch.channels_last)
    makes), beside a row-major one."""
    g = torch.Generator().manual_seed(7)
    tensors = [torch.randn(5, 3, generator=g, dtype=torch.float64).t(),
               torch.randn(4, 3, 2, 5, generator=g, dtype=torch.float64).to(memory_format=torch.channels_last),
               torch.randn(6, generator=g, dtype=torch.float64)]
    return [torch.nn.Parameter(t.to(dtype)) for t in tensors]


@pytest.mark.parametrize("grads_from", ["backward", "assigned row-major"])
@pytest.mark.parametrize("name", NAMES)
def test_params_dense_in_another_order_train_like_torch(name, grads_from):
    """Backward gives such params grads in their own layout, used as they are; a row-major grad
    assigned by hand is read in the param's order through a copy. Either way the update is torch's,
    and every param, grad and state keeps its layout."""
    def script(opt, params):
        strides = [p.stride() for p in params]
        for t in range(1, 5):
            opt.zero_grad()
            if grads_from == "backward":
                linear_loss(params, t).backward()
            else:
                set_grads(params, t)
            opt.step()
        assert [p.stride() for p in params] == strides

    got, want = run_pair(name, HEAVY[name], script, params=dense_params_in_other_orders())
    assert_same_run(got[0], got[1], want[0], want[1], 4, f"{name} {grads_from}")
    # pygd's state lines up with its param (torch's SGD clones the first grad, in the grad's layout).
    opt, params, _ = got
    for p in params:
        for value in opt.state.get(p, {}).values():
            if value.dim():
                assert value.stride() == p.stride()


@pygd_only
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_params(name):
    """On a GPU, pygd.torch steps CUDA params with pygd's CUDA kernels, as torch's fused step does
    (torch's for-loop for RMSprop, which has no fused one); where pygd was built without them, it
    refuses CUDA params with an error that says so, and changes nothing."""
    if not _pygd_cuda_usable():
        param = torch.nn.Parameter(torch.randn(8, device="cuda"))
        before = param.detach().clone()
        with pytest.raises((TypeError, NotImplementedError, RuntimeError), match="(?i)cuda"):
            getattr(pygd_torch, name)([param], **HEAVY[name])
        assert torch.equal(param.detach(), before)
        return
    steps = 5

    def script(opt, params):
        for t in range(1, steps + 1):
            for i, p in enumerate(params):
                p.grad = grad_for(p, t, i).to(p.device)
            opt.step()

    fused = {} if name == "RMSprop" else {"fused": True}
    params = [torch.nn.Parameter(p.detach().cuda()) for p in make_params()]
    got, want = run_pair(name, HEAVY[name], script, params=params, torch_kwargs=fused)
    for i, (g, w) in enumerate(zip(got[1], want[1])):
        dtype = numpy(w.cpu()).dtype
        assert_close([numpy(g.cpu())], [numpy(w.cpu())], dtype, steps, f"{name} param {i}", sources=2)
        got_state, want_state = got[0].state[g], want[0].state[w]
        assert got_state.keys() == want_state.keys()
        for k, v in want_state.items():
            if k == "step":
                assert float(got_state[k]) == float(v)
            else:
                assert_close([numpy(got_state[k].cpu())], [numpy(v.cpu())], dtype, steps,
                             f"{name} param {i} {k}", sources=2)


@pytest.mark.parametrize("name", NAMES)
def test_the_profiler_sees_the_step_as_torch_names_it(name):
    """torch's hook runner opens an "Optimizer.step#<class>.step" range; pygd.torch's opens it
    whenever a profiler runs (and skips its cost otherwise)."""
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    set_grads(params, 1)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        opt.step()
    assert f"Optimizer.step#{name}.step" in {event.name for event in prof.events()}
