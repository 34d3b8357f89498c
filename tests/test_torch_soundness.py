"""pygd.torch under everything torch lets a user change between steps: each edit is made
the same way on a pygd.torch optimizer and on a torch.optim one, and pygd must do what torch does:
the same error, or the same params, state and step counts. Before the fix, the edits of the
"memory" tests wrote past a buffer's end or into freed memory (heap overflows under ASan,
`malloc(): invalid size`), and the others were silently ignored.

Results are compared within cases.py's bound (float64, so a stale pointer or an ignored edit shows
as an error of order 1, far above it); step counts and errors exactly.
"""

import gc
import pickle
import warnings

import numpy as np
import pytest

from cases import assert_close
from torch_api import TORCH_FUSED  # imports torch, or skips the module
from torch_cases import HEAVY, NAMES

torch = pytest.importorskip("torch")
import pygd.torch as pygd_torch  # noqa: E402

# Many of these edits send a param through torch's own step, which pygd says once per optimizer.
pytestmark = pytest.mark.filterwarnings("ignore::pygd.torch.TorchFallbackWarning")

SHAPES = ((5, 3), (33,), (7,), (4097,))


def make_params(dtype=torch.float64, shapes=SHAPES, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=g, dtype=torch.float64).to(dtype)) for s in shapes]


def grads_for(params, t):
    g = torch.Generator().manual_seed(1009 * t)
    return [torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype) for p in params]


def set_grads(params, t):
    for p, g in zip(params, grads_for(params, t)):
        p.grad = g


def randn(*shape, dtype=torch.float64, seed=5):
    """Values made the same way on both sides of a twin run (not from the global generator)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def outcome(fn):
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 - the outcome itself is compared
        return "raised", type(exc)


def twin(name, kwargs, script, make=make_params, steps=6):
    """script(opt, params, t) before each step t, on a pygd.torch optimizer and a torch.optim one
    over equal params; returns both (opt, params, outcome) after the steps, an error ending a run."""
    runs = []
    for module in (pygd_torch, torch.optim):
        params = make()
        opt = getattr(module, name)(params, **kwargs)

        def run(opt=opt, params=params):
            for t in range(1, steps + 1):
                set_grads(params, t)
                script(opt, params, t)
                opt.step()
        runs.append((opt, params, outcome(run)))
    return runs


def assert_same(runs, steps=6, what=""):
    (got, gp, got_outcome), (want, wp, want_outcome) = runs
    assert got_outcome[0] == want_outcome[0], f"{what}: pygd {got_outcome}, torch {want_outcome}"
    if got_outcome[0] == "raised":
        # torch's for-loop has updated the params before the one it raised for; pygd's step updates
        # nothing when any param is rejected, so only the errors are compared.
        assert issubclass(got_outcome[1], want_outcome[1]) or issubclass(want_outcome[1], got_outcome[1]), \
            f"{what}: pygd raised {got_outcome[1]}, torch {want_outcome[1]}"
        return
    for i, (g, w) in enumerate(zip(gp, wp)):
        if g.dtype != w.dtype or g.shape != w.shape:
            raise AssertionError(f"{what} param {i}: {g.dtype} {tuple(g.shape)} vs {w.dtype} {tuple(w.shape)}")
        dtype = np.float32 if g.dtype in (torch.float32, torch.complex64) else np.float64
        assert_close([_real(g)], [_real(w)], dtype, steps, f"{what} param {i}", sources=2)
        gs, ws = got.state.get(g, {}), want.state.get(w, {})
        assert gs.keys() == ws.keys(), f"{what} param {i}: state keys {gs.keys()} vs {ws.keys()}"
        for k, v in ws.items():
            if k == "step":
                assert float(gs[k]) == float(v) or (np.isnan(float(v)) and np.isnan(float(gs[k]))), \
                    f"{what} param {i}: step {gs[k]} vs {v}"
            elif isinstance(v, torch.Tensor):
                assert_close([_real(gs[k])], [_real(v)], dtype, steps, f"{what} param {i} {k}", sources=2)


def _real(t):
    t = t.detach()
    return (torch.view_as_real(t) if t.is_complex() else t).numpy()


def at(step, edit):
    """A script that makes `edit(opt, params)` before step `step` only."""
    def script(opt, params, t):
        if t == step:
            edit(opt, params)
    return script


# ----------------------------------------------------------------------------- found: memory

GRAD_EDITS = {
    "grad.data smaller": lambda opt, ps: setattr(ps[3].grad, "data", ps[3].grad.data[:100]),
    "grad.set_ smaller": lambda opt, ps: ps[3].grad.set_(randn(10, dtype=ps[3].dtype)),
    "grad.data half": lambda opt, ps: setattr(ps[1].grad, "data", ps[1].grad.data.half()),
    "grad.data float32 same shape": lambda opt, ps: setattr(ps[1].grad, "data", ps[1].grad.data.float()),
    "grad.data reshaped": lambda opt, ps: setattr(ps[0].grad, "data", ps[0].grad.data.reshape(3, 5)),
    "grad transposed": lambda opt, ps: setattr(ps[0], "grad", ps[0].grad.t().contiguous().t()),
}


@pytest.mark.parametrize("edit", GRAD_EDITS, ids=list(GRAD_EDITS))
@pytest.mark.parametrize("name", NAMES)
def test_grads_changed_without_changing_identity(name, edit):
    """Soundness finding 1: the grad is the same object, its memory, size or dtype is not."""
    def script(opt, params, t):
        if t >= 3:  # on every step from the third: the first steps built and committed the plan
            GRAD_EDITS[edit](opt, params)
    assert_same(twin(name, HEAVY[name], script), what=f"{name} {edit}")


def _shrink_data(opt, ps):
    ps[3].data = ps[3].data[:4]


def _new_smaller_storage(opt, ps):
    # What a caching allocator may do: the old block freed, a smaller one in its place.
    old = ps[3].data
    ps[3].data = torch.empty(0, dtype=old.dtype)
    del old
    gc.collect()
    ps[3].data = randn(16, dtype=ps[3].dtype)


PARAM_EDITS = {
    "data = data[:4]": _shrink_data,
    "new smaller storage": _new_smaller_storage,
    "set_ to a new storage": lambda opt, ps: ps[2].set_(randn(7, dtype=ps[2].dtype)),
    "data = new same size": lambda opt, ps: setattr(ps[2], "data", randn(7, dtype=ps[2].dtype)),
    "data = float32": lambda opt, ps: setattr(ps[2], "data", ps[2].data.float()),
    "t_()": lambda opt, ps: ps[0].data.t_(),
}


@pytest.mark.parametrize("edit", PARAM_EDITS, ids=list(PARAM_EDITS))
@pytest.mark.parametrize("name", NAMES)
def test_params_changed_without_changing_identity(name, edit):
    """Soundness finding 2: `p.data = p.data[:4]` keeps the address with fewer elements; a new smaller
    storage may land at the old address. The grads keep the param's shape (set anew each step)."""
    assert_same(twin(name, HEAVY[name], at(3, PARAM_EDITS[edit])), what=f"{name} {edit}")


def _strided_grad_first(opt, ps):
    ps[0].grad = ps[0].grad.t().contiguous().t()  # legal: a grad in another layout


LATER_EDITS = {
    "later param new storage": lambda opt, ps: setattr(ps[2], "data", ps[2].data.clone()),
    "later state replaced": lambda opt, ps: opt.state[ps[2]].__setitem__(
        _first_state(opt, ps[2]), torch.ones_like(ps[2])),
    "later state deleted": lambda opt, ps: opt.state.pop(ps[2]),
}


def _first_state(opt, p):
    return next(k for k, v in opt.state[p].items() if k != "step" and isinstance(v, torch.Tensor))


@pytest.mark.parametrize("edit", LATER_EDITS, ids=list(LATER_EDITS))
@pytest.mark.parametrize("name", NAMES)
def test_a_non_contiguous_grad_does_not_skip_the_checks_of_later_params(name, edit):
    """Soundness finding 3: with the first param's grad strided, the checks of every later param
    still run."""
    def script(opt, params, t):
        _strided_grad_first(opt, params)
        if t == 3:
            LATER_EDITS[edit](opt, params)
    assert_same(twin(name, HEAVY[name], script), what=f"{name} {edit}")


# ----------------------------------------------------------------------------- found: silent

STEP_EDITS = {
    "zero_()": lambda step: step.zero_(),
    "fill_(10)": lambda step: step.fill_(10),
    "+= 5": lambda step: step.add_(5),
    "data = tensor(2.)": lambda step: setattr(step, "data", torch.tensor(2.0)),
    "set_(float64)": lambda step: step.set_(torch.tensor(4.0, dtype=torch.float64)),
}


@pytest.mark.parametrize("edit", STEP_EDITS, ids=list(STEP_EDITS))
@pytest.mark.parametrize("name", [n for n in NAMES if n != "SGD"])
def test_step_counts_edited_in_place_are_read(name, edit):
    """Soundness finding 4: the count is read from state[p]["step"] at every step."""
    def edit_some(opt, params):
        for p in params[1:3]:
            STEP_EDITS[edit](opt.state[p]["step"])
    assert_same(twin(name, HEAVY[name], at(4, edit_some)), what=f"{name} {edit}")


STATE_EDITS = {
    "data = new": lambda v: setattr(v, "data", torch.full_like(v, 0.5)),
    "set_(new)": lambda v: v.set_(torch.full_like(v, 0.25)),
    "in place": lambda v: v.mul_(0.5),
}


@pytest.mark.parametrize("edit", STATE_EDITS, ids=list(STATE_EDITS))
@pytest.mark.parametrize("name", NAMES)
def test_state_tensors_given_new_storage_are_followed(name, edit):
    """Soundness finding 5: `state[k].data = new` / `set_(new)` keep the object, not its memory."""
    def edit_state(opt, params):
        for p in params:
            for k, v in opt.state[p].items():
                if k != "step" and isinstance(v, torch.Tensor):
                    STATE_EDITS[edit](v)
    assert_same(twin(name, HEAVY[name], at(3, edit_state)), what=f"{name} {edit}")


def _grow(opt, params):
    extra = torch.nn.Parameter(randn(9))
    opt.param_groups[0]["params"].append(extra)
    params.append(extra)


def _replace_item(opt, params):
    new = torch.nn.Parameter(randn(33))
    opt.param_groups[0]["params"][1] = new
    params[1] = new


def _delete_item(opt, params):
    del opt.param_groups[0]["params"][2]
    del params[2]


GROUP_EDITS = {"append": _grow, "item replaced": _replace_item, "del": _delete_item}


@pytest.mark.parametrize("edit", GROUP_EDITS, ids=list(GROUP_EDITS))
@pytest.mark.parametrize("name", NAMES)
def test_group_params_edited_in_place_are_followed(name, edit):
    """Soundness finding 6: code that grows a network edits group["params"] in place."""
    assert_same(twin(name, HEAVY[name], at(3, GROUP_EDITS[edit])), what=f"{name} {edit}")


# ----------------------------------------------------------------------------- found: behaviour

@pytest.mark.parametrize("fused", [None, False, True])
@pytest.mark.parametrize("name", NAMES)
def test_amp_scaling_support_is_torch_s_for_the_same_flags(name, fused):
    """Soundness finding 8: GradScaler (and Lightning) read _step_supports_amp_scaling; torch's class
    says True only when fused."""
    kwargs = {} if fused is None or name not in TORCH_FUSED else {"fused": fused}
    got = getattr(pygd_torch, name)(make_params(torch.float32), **kwargs)
    want = getattr(torch.optim, name)(make_params(torch.float32), **kwargs)
    assert getattr(got, "_step_supports_amp_scaling", False) == getattr(want, "_step_supports_amp_scaling", False)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "SGD"])
def test_pickled_state_dict_grows_linearly_with_the_params(name):
    """Soundness finding 9: each step count is a tensor of its own, as in torch (views of one shared
    tensor pickled the whole tensor once per param)."""
    def pickled_size(module, count):
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(count)]
        opt = getattr(module, name)(params, lr=0.1)
        for p in params:
            p.grad = torch.ones(1)
        opt.step()
        return len(pickle.dumps(opt.state_dict()))
    got, want = pickled_size(pygd_torch, 1000), pickled_size(torch.optim, 1000)
    assert got <= 1.05 * want, f"pygd {got} B, torch {want} B"


def test_adagrad_state_of_a_param_added_later_starts_from_the_defaults():
    """Soundness finding 10: torch makes it from defaults["initial_accumulator_value"], not the
    group's."""
    def script(opt, params, t):
        if t == 2:
            extra = torch.nn.Parameter(randn(6))
            opt.add_param_group({"params": [extra], "initial_accumulator_value": 5.0})
            params.append(extra)
    assert_same(twin("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5), script), what="Adagrad")


CORRUPT_STEPS = [float("nan"), float("inf"), 1e30, -5.0, 2.5, 2.0 ** 60]


@pytest.mark.parametrize("value", CORRUPT_STEPS, ids=str)
@pytest.mark.parametrize("name", [n for n in NAMES if n != "SGD"])
def test_a_corrupt_step_in_a_loaded_state_dict_does_what_torch_does(name, value):
    """Soundness finding 10: torch uses the value (or raises); pygd hands such params to torch."""
    def script(opt, params, t):
        if t == 3:
            sd = opt.state_dict()
            for s in sd["state"].values():
                s["step"] = torch.tensor(value)
            opt.load_state_dict(sd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pygd_torch.TorchFallbackWarning)
        assert_same(twin(name, HEAVY[name], script), what=f"{name} step {value}")


@pytest.mark.parametrize("name", NAMES)
def test_help_shows_torch_s_documentation_and_what_pygd_changes(name):
    """Soundness finding 11."""
    doc = getattr(pygd_torch, name).__doc__
    assert f"{getattr(torch.optim, name).__module__}.{name}" in doc
    assert getattr(torch.optim, name).__doc__.strip()[:200] in doc
    assert "_Stepper" not in doc and "pygd_routes" in doc


PLAIN = {"SGD": dict(lr=0.1), "Adam": dict(lr=0.01), "AdamW": dict(lr=0.01), "RMSprop": dict(lr=0.01),
         "Adagrad": dict(lr=0.1), "Adamax": dict(lr=0.01), "RAdam": dict(lr=0.01),
         "Adadelta": dict(lr=0.5), "Rprop": dict(lr=0.01), "NAdam": dict(lr=0.01),
         "ASGD": dict(lr=0.01)}


@pytest.mark.parametrize("options", ["plain", "heavy"])
@pytest.mark.parametrize("name", NAMES)
def test_a_plan_is_reused_while_nothing_changes(name, options):
    """The checks must not mistake an unchanged group for a changed one: one plan, steps after
    steps (SGD without momentum, which keeps no state, rebuilt at every step before)."""
    if name == "Adafactor":
        pytest.skip("pygd.torch.Adafactor keeps no plan: it gathers its calls at every step")
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **(PLAIN if options == "plain" else HEAVY)[name])
    plans = []  # held, so that a rebuilt plan cannot reuse a freed one's id
    for t in range(1, 6):
        set_grads(params, t)
        opt.step()
        plans.append(opt._pygd_plans[0])
    assert all(plan is plans[0] for plan in plans)
