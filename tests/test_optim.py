"""pygd.optim: each class against the functional calls it stands for, param groups, state_dict
round trips, None grads, and bad input (every array untouched after a rejected step)."""

import io
import pickle

import numpy as np
import pytest

import pygd
from cases import (
    BACKENDS,
    CASES,
    HEAVY,
    OPTIMIZERS,
    TORCH_STATE,
    backends_for,
    grads_at,
    initial_params,
)
from pygd import optim

SHAPES = [(1,), (7,), (4097,), (3, 5)]
CLASSES = {name: o.cls for name, o in OPTIMIZERS.items()}
STATE_NAMES = TORCH_STATE  # the functional state -> the class's state name (from the specs)


def assert_bitwise(got, want, what=""):
    """Two lists of arrays, bit for bit."""
    assert len(got) == len(want), what
    for i, (x, y) in enumerate(zip(got, want)):
        if x is None or y is None:  # a state of the other form (Adafactor's): absent in both
            assert x is None and y is None, f"{what}[{i}] is None on one side only"
            continue
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), f"{what}[{i}] differs bitwise"


def make(case, params, backend="auto", **overrides):
    return CLASSES[case.optimizer](params, **dict(case.torch_kwargs(), **overrides), backend=backend)


def functional_run(case, shapes, dtype, steps, backend):
    """What the class should do: the functional call with states the test allocates."""
    params = [initial_params(s, dtype) for s in shapes]
    states = case.new_states(shapes, dtype)
    for t in range(1, steps + 1):
        case.call(params, [grads_at(s, dtype, t) for s in shapes], states, t, backend)
    return params, states


def class_run(case, shapes, dtype, steps, backend="auto", optimizer=None, first=1):
    params = optimizer.params if optimizer else [initial_params(s, dtype) for s in shapes]
    optimizer = optimizer or make(case, params, backend)
    for t in range(first, first + steps):
        optimizer.step([grads_at(s, dtype, t) for s in shapes])
    return optimizer


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_class_equals_functional(case, dtype, backend):
    if backend not in backends_for(case):
        pytest.skip(f"backend={backend!r} has no {case.optimizer} kernel")
    steps = 3
    want_params, want_states = functional_run(case, SHAPES, dtype, steps, backend)
    opt = class_run(case, SHAPES, dtype, steps, backend)
    assert_bitwise(opt.params, want_params, "params")
    for name in case.state_names:
        got = [opt.state[i].get(STATE_NAMES[name]) for i in range(len(SHAPES))]  # None: the other form
        assert_bitwise(got, want_states[name], name)
    assert all(opt.state[i]["step"] == steps for i in range(len(SHAPES)))
    assert opt.steps == steps


@pytest.mark.parametrize("case", HEAVY, ids=lambda c: c.id)
def test_param_groups_are_separate_calls_with_their_own_options(case):
    dtype = np.float32
    params = [initial_params(s, dtype) for s in SHAPES]
    lr = case.torch_kwargs().get("lr", 1e-2)
    # The second group's own option: lr, or where the step does not read lr (it starts Rprop's step
    # sizes, and sets ASGD's eta), another.
    lr_is_read = any(o.name == "lr" and o.functional for o in case.opt.spec.options)
    varied = {"lr": lr / 4} if lr_is_read else {"rprop": {"etas": (0.25, 1.6)}, "asgd": {"lambd": 0.05}}[case.optimizer]
    opt = CLASSES[case.optimizer]([{"params": params[:2]}, {"params": params[2:], **varied}],
                                  **case.torch_kwargs())
    first = [initial_params(s, dtype) for s in SHAPES[:2]]
    second = [initial_params(s, dtype) for s in SHAPES[2:]]
    states = case.new_states(SHAPES, dtype)
    for t in (1, 2, 3):
        grads = [grads_at(s, dtype, t) for s in SHAPES]
        opt.step(grads)
        case.call(first, grads[:2], {k: v[:2] for k, v in states.items()}, t)
        case.call(second, grads[2:], {k: v[2:] for k, v in states.items()}, t, **varied)
    assert_bitwise(opt.params, first + second, "params")


def test_lr_change_applies_at_the_next_step():
    p = initial_params((9,), np.float64)
    want = p.copy()
    opt = optim.SGD([p], lr=0.1)
    g = grads_at((9,), np.float64, 1)
    opt.step([g])
    opt.param_groups[0]["lr"] = 0.01
    opt.step([g])
    pygd.sgd_(want, g, step=1, lr=0.1)
    pygd.sgd_(want, g, step=2, lr=0.01)
    assert_bitwise([p], [want])


def test_mixed_dtypes_in_one_group():
    params = [initial_params((5,), np.float32), initial_params((6,), np.float64),
              initial_params((7,), np.float32)]
    want = [p.copy() for p in params]
    states = [[np.zeros_like(p) for p in params] for _ in range(2)]
    opt = optim.Adam(params, lr=0.01)
    for t in (1, 2):
        grads = [grads_at(p.shape, p.dtype, t) for p in params]
        opt.step(grads)
        for i in range(3):
            pygd.adam_(want[i], grads[i], states[0][i], states[1][i], step=t, lr=0.01)
    assert_bitwise(params, want)


def test_none_grad_skips_the_param_and_its_step_count():
    params = [initial_params((4,), np.float64) for _ in range(3)]
    opt = optim.Adam(params, lr=0.1)
    g = [grads_at((4,), np.float64, 1) for _ in range(3)]
    opt.step([g[0], None, g[2]])
    frozen = params[1].copy()
    opt.step([g[0], None, g[2]])
    assert np.array_equal(params[1], frozen)
    assert 1 not in opt.state and opt.state[0]["step"] == 2
    opt.step(g)  # param 1 takes its first step while the others take their third
    assert [opt.state[i]["step"] for i in range(3)] == [3, 1, 3]
    want = frozen.copy()
    pygd.adam_(want, g[1], np.zeros(4), np.zeros(4), step=1, lr=0.1)
    assert_bitwise([params[1]], [want])


def test_adagrad_state_starts_at_the_initial_accumulator_value():
    p = initial_params((5,), np.float32)
    opt = optim.Adagrad([p], initial_accumulator_value=0.25)
    assert opt.state == {}  # allocated at the first step
    g = grads_at((5,), np.float32, 1)
    opt.step([g])
    np.testing.assert_array_equal(opt.state[0]["sum"], np.float32(0.25) + g * g)


# ----------------------------------------------------------------------------- state_dict

def _snapshot(opt):
    return [p.copy() for p in opt.params], {i: {k: np.copy(v) for k, v in s.items()}
                                            for i, s in opt.state.items()}


def _save_pickle(sd):
    return pickle.loads(pickle.dumps(sd))


def _save_npz(sd):
    buffer = io.BytesIO()
    np.savez(buffer, **optim.to_arrays(sd))
    buffer.seek(0)
    with np.load(buffer) as arrays:  # allow_pickle stays False: plain arrays only
        return optim.from_arrays(arrays)


@pytest.mark.parametrize("save", [_save_pickle, _save_npz], ids=["pickle", "npz"])
@pytest.mark.parametrize("case", HEAVY, ids=lambda c: c.id)
def test_resume_from_state_dict_is_bit_identical(case, save):
    dtype = np.float32
    straight = class_run(case, SHAPES, dtype, 6)
    first = class_run(case, SHAPES, dtype, 3)
    saved = save(first.state_dict())
    params = [p.copy() for p in first.params]
    resumed = make(case, params)
    resumed.load_state_dict(saved)
    class_run(case, SHAPES, dtype, 3, optimizer=resumed, first=4)
    assert_bitwise(resumed.params, straight.params, "params")
    for i, state in straight.state.items():
        for name, value in state.items():
            np.testing.assert_array_equal(resumed.state[i][name], value, err_msg=name)
    assert resumed.steps == straight.steps == 6


def test_state_dict_holds_plain_values_and_torch_names():
    opt = class_run(HEAVY[1], SHAPES, np.float64, 2)  # adam-all
    sd = opt.state_dict()
    assert sd["steps"] == 2
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert type(sd["state"][0]["step"]) is int


def test_loading_copies_the_arrays():
    opt = class_run(HEAVY[1], SHAPES, np.float64, 2)
    sd = opt.state_dict()
    other = make(HEAVY[1], [p.copy() for p in opt.params])
    other.load_state_dict(sd)
    assert not np.shares_memory(other.state[0]["exp_avg"], sd["state"][0]["exp_avg"])


def test_param_groups_in_state_dict_restore_hyperparameters():
    p = initial_params((3,), np.float64)
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    other = optim.SGD([p.copy()], lr=0.1)
    other.load_state_dict(opt.state_dict())
    assert other.param_groups[0]["lr"] == 0.5 and other.param_groups[0]["momentum"] == 0.9
    assert other.param_groups[0]["params"][0] is not p  # params stay the optimizer's own


def _unchanged(opt, before):
    params, state = _snapshot(opt)
    assert_bitwise(params, before[0])
    assert state.keys() == before[1].keys()
    for i in state:
        assert state[i].keys() == before[1][i].keys()
        for k in state[i]:
            np.testing.assert_array_equal(state[i][k], before[1][i][k])


@pytest.mark.parametrize("mutate, message", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "2 param groups"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "has 3 params"),
    (lambda sd: sd["state"][1].__setitem__("exp_avg", np.zeros(8)), r"state\[1\]\['exp_avg'\] has shape"),
    (lambda sd: sd["state"][0].__setitem__("momentum_buffer", np.zeros(1)), "not for Adam"),
    (lambda sd: sd["param_groups"][0].pop("betas"), "not for Adam"),
    (lambda sd: sd["param_groups"][0].__setitem__("lr", -1.0), "lr must be >= 0"),
])
def test_bad_state_dict_is_rejected_and_changes_nothing(mutate, message):
    opt = class_run(HEAVY[1], SHAPES, np.float64, 2)
    sd = _save_pickle(opt.state_dict())
    mutate(sd)
    target = class_run(HEAVY[1], SHAPES, np.float64, 1)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=message):
        target.load_state_dict(sd)
    _unchanged(target, before)
    assert target.steps == 1


def test_state_dict_of_another_optimizer_type():
    adam = class_run(HEAVY[1], SHAPES, np.float64, 1)
    sgd = optim.SGD([initial_params(s, np.float64) for s in SHAPES], lr=0.1)
    with pytest.raises(ValueError, match="not for SGD"):
        sgd.load_state_dict(adam.state_dict())


# ----------------------------------------------------------------------------- bad input

def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="fused"):
        optim.Adam([np.zeros(3)], fused=True)


@pytest.mark.parametrize("cls, kwargs, message", [
    (optim.SGD, {"lr": -0.1}, "lr must be >= 0"),
    (optim.SGD, {"lr": 0.1, "nesterov": True}, "nesterov=True requires momentum > 0"),
    (optim.Adam, {"betas": (0.9, 1.0)}, r"betas\[1\] must be in \[0, 1\)"),
    (optim.Adam, {"eps": -1e-8}, "eps must be >= 0"),
    (optim.AdamW, {"weight_decay": float("nan")}, "weight_decay must be >= 0"),
    (optim.RMSprop, {"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
    (optim.RMSprop, {"momentum": -0.5}, "momentum must be >= 0"),
    (optim.Adagrad, {"lr_decay": -1.0}, "lr_decay must be >= 0"),
    (optim.Adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value must be >= 0"),
])
def test_invalid_hyperparameter_names_the_argument(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([np.zeros(3)], **kwargs)


@pytest.mark.parametrize("params, error, message", [
    (np.zeros(3), TypeError, "single ndarray"),
    ([], ValueError, "params is empty"),
    ([np.zeros(3, np.int32)], TypeError, r"params\[0\] has dtype <i4 \(int32\)"),
    ([np.zeros((3, 4))[:, 0]], ValueError, r"params\[0\] is not C-contiguous"),
    ([np.zeros(3), {"params": [np.zeros(2)]}], TypeError, "not a mix"),
    ([{"params": [np.zeros(2)]}, {"lr": 0.1}], ValueError, "'params' entry"),
])
def test_bad_params(params, error, message):
    with pytest.raises(error, match=message):
        optim.SGD(params, lr=0.1)


def test_a_param_listed_twice_or_overlapping_is_rejected():
    p = np.zeros(8)
    with pytest.raises(ValueError, match=r"params\[0\] and params\[1\] share memory"):
        optim.SGD([{"params": [p]}, {"params": [p[4:]]}], lr=0.1)


def test_read_only_param_is_rejected():
    p = np.zeros(3)
    p.setflags(write=False)
    with pytest.raises(ValueError, match=r"params\[0\] is read-only"):
        optim.Adam([p])


def _two_group_adam():
    params = [initial_params(s, np.float32) for s in SHAPES]
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.1}], amsgrad=True)
    opt.step([grads_at(s, np.float32, 1) for s in SHAPES])
    return opt


@pytest.mark.parametrize("bad, error, message", [
    (lambda g: g[:3], ValueError, "grads has 3 arrays but the optimizer has 4 params"),
    (lambda g: g[:3] + [np.zeros((5, 3), np.float32)], ValueError,
     r"grads\[3\] has shape \(5, 3\) but params\[3\] has shape \(3, 5\)"),
    (lambda g: g[:2] + [g[2].astype(np.float64), g[3]], TypeError,
     r"grads\[2\] has dtype float64 but params\[2\] has float32"),
    (lambda g: [g[0], "x", g[2], g[3]], TypeError, r"grads\[1\] must be a numpy.ndarray"),
    (lambda g: tuple(g) + (g[0],), ValueError, "grads has 5 arrays"),
    (lambda g: g[0], TypeError, "grads must be a list"),
])
def test_bad_grads_in_a_later_group_leave_every_array_untouched(bad, error, message):
    opt = _two_group_adam()
    before = _snapshot(opt)
    grads = [grads_at(s, np.float32, 2) for s in SHAPES]
    with pytest.raises(error, match=message):
        opt.step(bad(grads))
    _unchanged(opt, before)
    assert opt.steps == 1


def test_bad_hyperparameter_in_a_later_group_leaves_the_first_untouched():
    opt = _two_group_adam()
    opt.param_groups[1]["lr"] = -1.0
    before = _snapshot(opt)
    with pytest.raises(ValueError, match=r"param_groups\[1\]: lr must be >= 0"):
        opt.step([grads_at(s, np.float32, 2) for s in SHAPES])
    _unchanged(opt, before)


def test_grad_aliasing_a_param_is_rejected():
    p = [initial_params((6,), np.float64)]
    opt = optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="share memory"):
        opt.step([p[0]])


def test_unknown_backend_fails_at_construction():
    with pytest.raises(ValueError, match="backend must be one of"):
        optim.SGD([np.zeros(2)], lr=0.1, backend="gpu")


def test_repr_lists_the_groups():
    text = repr(optim.AdamW([np.zeros(2)]))
    assert "AdamW (" in text and "weight_decay: 0.01" in text and "decoupled_weight_decay: True" in text


# A soundness finding: what a user puts into opt.state or param_groups between steps is what the next
# step updates (the cached plan named the old arrays, and state_dict() then returned arrays the run
# had not used).

def _adam_pair(edit):
    """Two Adam runs over equal params: in `edited`, edit(opt) puts new objects in place between
    steps 2 and 3; in `reference`, the same values are copied into the existing arrays. Both must
    end bit for bit equal, and `edited`'s state_dict must hold its new objects."""
    runs = []
    for in_place in (False, True):
        params = [initial_params(s, np.float64) for s in SHAPES]
        opt = optim.Adam(params, lr=0.01, amsgrad=True)
        for t in range(1, 6):
            if t == 3:
                edit(opt, in_place)
            opt.step([grads_at(s, np.float64, t) for s in SHAPES])
        runs.append(opt)
    return runs


def _put(opt, in_place, i, name, value):
    if in_place:
        np.copyto(opt.state[i][name], value)
    else:
        opt.state[i][name] = value


def test_a_state_array_put_into_state_is_the_one_updated():
    new = np.full(SHAPES[1], 0.5)
    edited, reference = _adam_pair(lambda opt, in_place: _put(opt, in_place, 1, "exp_avg", new.copy()))
    assert_bitwise(edited.params, reference.params, "params")
    state = edited.state_dict()["state"][1]
    assert state["exp_avg"] is edited.state[1]["exp_avg"] and not np.array_equal(state["exp_avg"], new)
    assert_bitwise([state["exp_avg"]], [reference.state[1]["exp_avg"]], "exp_avg")


def test_a_state_entry_replaced_whole_is_the_one_updated():
    def edit(opt, in_place):
        entry = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state[2].items()}
        entry["exp_avg_sq"] *= 2.0
        if in_place:
            np.copyto(opt.state[2]["exp_avg_sq"], entry["exp_avg_sq"])
        else:
            opt.state[2] = entry
    edited, reference = _adam_pair(edit)
    assert_bitwise(edited.params, reference.params, "params")
    assert_bitwise([edited.state[2]["exp_avg_sq"]], [reference.state[2]["exp_avg_sq"]], "exp_avg_sq")


def test_a_step_count_edited_for_one_param_splits_the_call():
    def edit(opt, in_place):
        opt.state[0]["step"] = 0  # as if restarting that param's bias correction
    edited, _ = _adam_pair(edit)
    counts = [edited.state[i]["step"] for i in range(len(SHAPES))]
    assert counts == [3, 5, 5, 5]
    want = optim.Adam([initial_params(SHAPES[0], np.float64)], lr=0.01, amsgrad=True)
    for t in range(1, 6):
        if t == 3:
            want.state[0]["step"] = 0
        want.step([grads_at(SHAPES[0], np.float64, t)])
    assert_bitwise(edited.params[:1], want.params, "param 0")


def test_a_param_replaced_in_its_group_list_is_the_one_updated():
    params = [initial_params(s, np.float64) for s in SHAPES]
    opt = optim.SGD(params, lr=0.1)
    opt.step([np.ones(s) for s in SHAPES])
    new = np.zeros(SHAPES[1])
    opt.param_groups[0]["params"][1] = new
    opt.step([np.ones(s) for s in SHAPES])
    assert np.array_equal(new, np.full(SHAPES[1], -0.1))


def _big_endian():
    return np.zeros(3, np.dtype(">f4"))


def _read_only():
    a = np.zeros(3, np.float32)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("make", [
    lambda: np.zeros((3, 4), np.float32)[:, 0], lambda: np.zeros(3, np.int32), _big_endian,
    _read_only, lambda: [1.0, 2.0, 3.0],
], ids=["strided", "int32", "big-endian", "read-only", "not-an-array"])
def test_a_bad_param_is_worded_as_a_step_words_it(make):
    """One wording for each problem, whichever entry point meets it (they had drifted)."""
    with pytest.raises((TypeError, ValueError)) as step:
        pygd.sgd_([make()], [np.zeros(3, np.float32)], step=1, lr=0.1)
    with pytest.raises((TypeError, ValueError)) as constructor:
        optim.SGD([make()], lr=0.1)
    assert type(step.value) is type(constructor.value)
    assert str(step.value) == str(constructor.value)
