"""pygd.torch against torch.optim: state_dict in torch's format, interchange with torch, resuming
bitwise (shared set-up: torch_api.py)."""

import collections
import copy
import io

import pytest

from pygd._specs import SPECS
from torch_api import (
    DTYPES,
    HEAVY,
    NAMES,
    TORCH_FUSED,
    assert_same_run,
    assert_unchanged,
    clone,
    dtype_id,
    linear_loss,
    make_params,
    pygd_torch,
    run_pair,
    set_grads,
    snapshot,
    step_counts,
    torch,
    train,
)


@pytest.mark.parametrize("torch_flags", [{"foreach": False}, {"fused": True}], ids=["for-loop", "fused"])
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_has_torch_format(name, torch_flags):
    if "fused" in torch_flags and name not in TORCH_FUSED:
        pytest.skip(f"torch.optim.{name} has no fused implementation")
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
    torch alone doing the same (for all but NAdam, the same as 10 steps uninterrupted; torch's
    load_state_dict casts NAdam's float32 mu_product to a float64 param's dtype)."""
    first, second = (torch.optim, pygd_torch) if direction == "torch-to-pygd" else (pygd_torch, torch.optim)
    params = make_params(dtype)
    reference_params = clone(params)
    reference = getattr(torch.optim, name)(reference_params, **HEAVY[name], foreach=False)
    train(reference, reference_params, 5)
    loaded = reference.state_dict()
    reference = getattr(torch.optim, name)(reference_params, **HEAVY[name], foreach=False)
    reference.load_state_dict(loaded)
    train(reference, reference_params, 5, start=6)

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
    # Its first state tensor (SGD: momentum_buffer), from the spec (opt may be torch.optim's own).
    name = next(spec.streams[2].torch_state for spec in SPECS.values() if spec.torch_class == type(opt).__name__)
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
    if name == "Adafactor" and edit == "a state tensor replaced":
        pytest.skip("torch.optim.Adafactor itself fails on a param-shaped tensor in place of its row factor")

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
