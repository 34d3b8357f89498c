"""The native PointerTable (csrc/bindings/pointer_table.h): a call's tensors as raw addresses, the
path pygd.torch steps through. Runs without torch: tensors are stood in for by small objects with
the torch.Tensor protocol the table's gather reads (.grad, .data_ptr(), .nbytes, .dtype,
.is_contiguous(), .stride(), .is_cpu, .is_conj(), .is_neg())."""

import numpy as np
import pytest

import pygd
from cases import ISAS
from pygd._constants import GatherResult

SIZES = [1, 7, 4097, 33]
ADAM_HPARAMS = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, amsgrad=False,
                    maximize=False, decoupled=True)  # AdamW, by name
# PointerTable.gather's results, as the extension exports them.
NO_GRAD, GRAD_SLOW, PARAM_CHANGED, STATE_CHANGED, STEP_CHANGED = (
    GatherResult.NO_GRAD, GatherResult.GRAD_SLOW, GatherResult.PARAM_CHANGED,
    GatherResult.STATE_CHANGED, GatherResult.STEP_CHANGED)
# Stand-ins for torch's dtype objects (the table compares them by identity).
FLOAT32, FLOAT64, INT32 = object(), object(), object()
DTYPES = {np.dtype(np.float32): FLOAT32, np.dtype(np.float64): FLOAT64, np.dtype(np.int32): INT32}


class FakeTensor:
    """An ndarray behind the torch.Tensor protocol the gather reads."""

    def __init__(self, array, grad=None, contiguous=True):
        self.array, self.grad = array, grad
        self.strides = (1,) if contiguous else (2,)
        self.is_cpu, self.conj = True, False

    def data_ptr(self):
        return self.array.ctypes.data

    @property
    def nbytes(self):
        return self.array.nbytes

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return DTYPES[self.array.dtype]

    def stride(self):
        return self.strides

    def is_conj(self):
        return self.conj

    def is_neg(self):
        return False


def _arrays(dtype, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for n in SIZES]


def _adam_streams(dtype):
    params, grads = _arrays(dtype, 0), _arrays(dtype, 1)
    exp_avgs = [np.abs(a) for a in _arrays(dtype, 2)]
    exp_avg_sqs = [np.abs(a) for a in _arrays(dtype, 3)]
    return params, grads, exp_avgs, exp_avg_sqs


def _table(native, streams, dtype):
    table = native.PointerTable(np.dtype(dtype).name, SIZES, 5)
    for k, arrays in enumerate(streams):
        table.set(k, [a.ctypes.data for a in arrays])
    table.set(4, None)  # no max_exp_avg_sqs (AMSGrad off)
    return table


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_table_runs_exactly_as_the_arrays_do(native, dtype, isa):
    pygd.set_isa(isa)
    by_table = _adam_streams(dtype)
    by_arrays = tuple([a.copy() for a in s] for s in by_table)
    assert native.adam(_table(native, by_table, dtype), 3, ADAM_HPARAMS) is None
    assert native.adam(by_arrays + (None,), 3, ADAM_HPARAMS) is None
    for got, want in zip(by_table, by_arrays):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_scale_divides_the_grads_in_the_pass_and_stores_them(native, dtype, isa):
    """Unscaled<Op> (pygd/amp.h): the update on grad / scale, the grads left unscaled."""
    pygd.set_isa(isa)
    scale = 1000.0  # not a power of two: a division, not a multiply by 1/scale
    scaled = _adam_streams(dtype)
    plain = tuple([a.copy() for a in s] for s in scaled)
    for g in scaled[1]:
        g *= dtype(scale)
    expected_grads = [g / dtype(scale) for g in scaled[1]]
    assert native.adam(_table(native, scaled, dtype), 2, ADAM_HPARAMS, grad_scale=scale) is None
    for g, want in zip(scaled[1], expected_grads):
        np.testing.assert_array_equal(g, want)
    plain[1][:] = [g.copy() for g in expected_grads]
    assert native.adam(plain + (None,), 2, ADAM_HPARAMS) is None
    for got, want in zip(scaled[0], plain[0]):
        np.testing.assert_array_equal(got, want)


def test_overlapping_written_buffers_are_refused_before_any_write(native):
    params, grads, exp_avgs, exp_avg_sqs = _adam_streams(np.float32)
    exp_avg_sqs[2] = params[2]  # state aliasing a param: the update would write it twice
    before = [a.copy() for a in params]
    problem = native.adam(_table(native, (params, grads, exp_avgs, exp_avg_sqs), np.float32), 1,
                          ADAM_HPARAMS)
    assert problem is not None and problem[0] == 10  # Problem::kOverlap (gather.h)
    assert {(problem[1], problem[2]), (problem[3], problem[4])} == {(0, 2), (3, 2)}
    for a, b in zip(params, before):
        np.testing.assert_array_equal(a, b)


def test_grads_may_share_memory_with_each_other(native):
    params, grads, exp_avgs, exp_avg_sqs = _adam_streams(np.float64)
    grads[3] = grads[2][:SIZES[3]]  # read-only streams may overlap
    assert native.adam(_table(native, (params, grads, exp_avgs, exp_avg_sqs), np.float64), 1,
                       ADAM_HPARAMS) is None


def test_bad_tables_raise(native):
    with pytest.raises(ValueError, match="dtype"):
        native.PointerTable("int8", SIZES, 5)
    with pytest.raises(ValueError, match="sizes"):
        native.PointerTable("float32", [3, -1], 5)
    table = native.PointerTable("float32", SIZES, 5)
    with pytest.raises(ValueError, match="one int per tensor"):
        table.set(0, [1, 2])
    with pytest.raises(ValueError, match="null address"):
        table.set(0, [0] * len(SIZES))
    with pytest.raises(IndexError):
        table.set(5, None)
    with pytest.raises(ValueError, match="required stream"):
        native.adam(table, 1, ADAM_HPARAMS)  # params and the rest never set


NAMES = ("step", "exp_avg", "exp_avg_sq")
NAME_STREAMS = (-1, 2, 3)


def _gather_setup(native, step=3.0):
    """A table of Adam streams, watched as pygd.torch watches one: params and grads as FakeTensors,
    the state dict keyed by the params (hashed by identity, as torch's state dict is), with a step
    tensor per param."""
    params, grads, exp_avgs, exp_avg_sqs = _adam_streams(np.float32)
    tensors = [FakeTensor(p, grad=FakeTensor(g)) for p, g in zip(params, grads)]
    table = _table(native, (params, grads, exp_avgs, exp_avg_sqs), np.float32)
    state = {t: {"step": FakeTensor(np.array([step], np.float32)), "exp_avg": FakeTensor(m),
                 "exp_avg_sq": FakeTensor(v)}
             for t, m, v in zip(tensors, exp_avgs, exp_avg_sqs)}
    held = [state[t][n] for t in tensors for n in NAMES]
    table.watch(tensors, FLOAT32, [t.stride() for t in tensors], state, NAMES, NAME_STREAMS, held,
                (FLOAT32, FLOAT64), step, False)
    return table, tensors, state


def test_gather_sets_the_grads_runs_and_stores_the_steps(native):
    table, tensors, state = _gather_setup(native)
    assert table.gather(1) is None
    assert native.adam(table, 4, ADAM_HPARAMS) is None
    table.store_steps(4.0)
    assert [float(state[t]["step"].array[0]) for t in tensors] == [4.0] * len(tensors)
    assert table.gather(1) is None  # the count it wrote is the one it expects next


def test_step_tensors_are_vetted_when_watched(native):
    """watch() checks each step tensor in full (CPU, float32/float64, one element); a step tensor
    that fails, or that gets new storage later (another address), fails the gather; one watched
    in a double is read and written as one."""
    table, tensors, state = _gather_setup(native)
    held = [state[t][n] for t in tensors for n in NAMES]
    state[tensors[1]]["step"].array = np.array([3.0], np.float64)
    state[tensors[2]]["step"].is_cpu = False
    table.watch(tensors, FLOAT32, [t.stride() for t in tensors], state, NAMES, NAME_STREAMS, held,
                (FLOAT32, FLOAT64), 3.0, False)
    assert table.gather(1) == (STEP_CHANGED, 2)
    state[tensors[2]]["step"].is_cpu = True
    table.watch(tensors, FLOAT32, [t.stride() for t in tensors], state, NAMES, NAME_STREAMS, held,
                (FLOAT32, FLOAT64), 3.0, False)
    assert table.gather(1) is None
    table.store_steps(4.0)
    assert state[tensors[1]]["step"].array.dtype == np.float64 and state[tensors[1]]["step"].array[0] == 4.0
    state[tensors[3]]["step"].array = np.array([4.0], np.float32)  # `.data =`: new storage
    assert table.gather(1) == (STEP_CHANGED, 3)


def _replace_state(key, value):
    return lambda tensors, state: state[tensors[2]].__setitem__(key, value)


def _with(attribute, value, on=lambda t, s: t[2]):
    return lambda tensors, state: setattr(on(tensors, state), attribute, value)


@pytest.mark.parametrize("edit, reason", [
    (_with("grad", None), NO_GRAD),
    (_with("array", np.zeros(SIZES[2], np.float32)), PARAM_CHANGED),
    (lambda t, s: setattr(t[2], "array", t[2].array[:4]), PARAM_CHANGED),   # same address, smaller
    (lambda t, s: setattr(t[2], "array", t[2].array.view(np.int32)), PARAM_CHANGED),  # same bytes
    (_with("strides", (2,)), PARAM_CHANGED),
    (_with("data_ptr", None), PARAM_CHANGED),                                 # data_ptr raises
    (_replace_state("exp_avg", FakeTensor(np.zeros(SIZES[2], np.float32))), STATE_CHANGED),
    (lambda t, s: s.pop(t[2]), STATE_CHANGED),
    (lambda t, s: s[t[2]].pop("exp_avg_sq"), STATE_CHANGED),
    (lambda t, s: setattr(s[t[2]]["exp_avg"], "array", s[t[2]]["exp_avg"].array[:3]), STATE_CHANGED),
    (lambda t, s: s[t[2]]["step"].array.fill(0.0), STEP_CHANGED),             # zero_() in place
    (lambda t, s: s[t[2]]["step"].array.fill(np.nan), STEP_CHANGED),
    (lambda t, s: setattr(s[t[2]]["step"], "array", np.array([3], np.int32)), STEP_CHANGED),
    (lambda t, s: setattr(s[t[2]]["step"], "array", np.array([3, 3], np.float32)), STEP_CHANGED),
    (_replace_state("step", FakeTensor(np.array([3.0], np.float32))), STATE_CHANGED),
], ids=["grad None", "param moved", "param smaller at the same address", "param dtype",
        "param layout", "param unreadable", "state tensor replaced", "state removed", "entry deleted",
        "state storage smaller", "step zeroed", "step NaN", "step int32",
        "step two elements", "step replaced"])
def test_gather_reports_each_cached_fact_that_changed(native, edit, reason):
    table, tensors, state = _gather_setup(native)
    edit(tensors, state)
    assert table.gather(1) == (reason, 2)


@pytest.mark.parametrize("edit", [
    _with("strides", (2,), on=lambda t, s: t[2].grad),
    _with("stride", None, on=lambda t, s: t[2].grad),                        # the method raises
    lambda t, s: setattr(t[2].grad, "array", t[2].grad.array[:5]),
    lambda t, s: setattr(t[2].grad, "array", t[2].grad.array.astype(np.float64)),
    _with("is_cpu", False, on=lambda t, s: t[2].grad),
], ids=["strided", "method raises", "smaller", "float64", "on another device"])
def test_grads_not_readable_in_place_are_listed_and_the_rest_still_checked(native, edit):
    """A grad the kernel cannot read as it is goes to the caller's slow path; the tensors after it
    are still checked (a later param moved is still reported)."""
    table, tensors, state = _gather_setup(native)
    edit(tensors, state)
    assert table.gather(1) == (GRAD_SLOW, [2])
    tensors[3].array = tensors[3].array.copy()
    assert table.gather(1) == (PARAM_CHANGED, 3)


def test_a_state_not_yet_committed_is_checked_through_the_held_tensors(native):
    """The first step after a build: state=None, the held tensors are still checked."""
    params, grads, exp_avgs, exp_avg_sqs = _adam_streams(np.float32)
    tensors = [FakeTensor(p, grad=FakeTensor(g)) for p, g in zip(params, grads)]
    table = _table(native, (params, grads, exp_avgs, exp_avg_sqs), np.float32)
    held = [h for m, v in zip(exp_avgs, exp_avg_sqs)
            for h in (FakeTensor(np.zeros(1, np.float32)), FakeTensor(m), FakeTensor(v))]
    table.watch(tensors, FLOAT32, [t.stride() for t in tensors], None, NAMES, NAME_STREAMS, held,
                (FLOAT32, FLOAT64), 0.0, False)
    assert table.gather(1) is None
    held[3 * 1 + 2].array = held[3 * 1 + 2].array[:2]
    assert table.gather(1) == (STATE_CHANGED, 1)


def test_watch_rejects_malformed_arguments(native):
    table, tensors, state = _gather_setup(native)
    with pytest.raises(ValueError, match="one item per table entry"):
        table.watch(tensors[:2], FLOAT32, [(1,)] * 2, state, NAMES, NAME_STREAMS, [], (FLOAT32, FLOAT64),
                    0.0, False)
    with pytest.raises(ValueError, match="held"):
        table.watch(tensors, FLOAT32, [t.stride() for t in tensors], state, NAMES, NAME_STREAMS, [],
                    (FLOAT32, FLOAT64), 0.0, False)
    with pytest.raises(ValueError, match="stream"):
        table.watch(tensors, FLOAT32, [t.stride() for t in tensors], state, NAMES, (-1, 2, 9), [None] * 12,
                    (FLOAT32, FLOAT64), 0.0, False)
    fresh = native.PointerTable("float32", SIZES, 5)
    with pytest.raises(ValueError, match="watch"):
        fresh.gather(1)


def test_same_objects_compares_identity(native):
    a, b = FakeTensor(np.zeros(1)), FakeTensor(np.zeros(1))
    assert native.same_objects([a, b], [a, b])
    assert native.same_objects([a, b], (a, b))
    assert not native.same_objects([a, b], [b, a])
    assert not native.same_objects([a, b], [a])
    with pytest.raises(TypeError):
        native.same_objects([a], iter([a]))
