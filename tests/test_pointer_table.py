"""The native PointerTable (csrc/bindings/pointer_table.h): a call's tensors as raw addresses, the
path pygd.torch steps through. Runs without torch: tensors are stood in for by small objects with
the torch.Tensor protocol the table's gather uses (.grad, .data_ptr(), .is_contiguous())."""

import numpy as np
import pytest

import pygd
from cases import ISAS


SIZES = [1, 7, 4097, 33]
ADAM_HPARAMS = (1e-2, 0.9, 0.999, 1e-8, 0.01, False, False, True)  # AdamW
NO_GRAD, GRAD_NOT_CONTIGUOUS, PARAM_MOVED, STATE_CHANGED = 1, 2, 3, 4


class FakeTensor:
    """An ndarray behind the torch.Tensor protocol the gather reads."""

    def __init__(self, array, grad=None, contiguous=True):
        self.array, self.grad, self.contiguous = array, grad, contiguous

    def data_ptr(self):
        return self.array.ctypes.data

    def is_contiguous(self):
        return self.contiguous


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
    assert native.adam(_table(native, by_table, dtype), 3, *ADAM_HPARAMS) is None
    assert native.adam(by_arrays + (None,), 3, *ADAM_HPARAMS) is None
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
    assert native.adam(_table(native, scaled, dtype), 2, *ADAM_HPARAMS, grad_scale=scale) is None
    for g, want in zip(scaled[1], expected_grads):
        np.testing.assert_array_equal(g, want)
    plain[1][:] = [g.copy() for g in expected_grads]
    assert native.adam(plain + (None,), 2, *ADAM_HPARAMS) is None
    for got, want in zip(scaled[0], plain[0]):
        np.testing.assert_array_equal(got, want)


def test_overlapping_written_buffers_are_refused_before_any_write(native):
    params, grads, exp_avgs, exp_avg_sqs = _adam_streams(np.float32)
    exp_avg_sqs[2] = params[2]  # state aliasing a param: the update would write it twice
    before = [a.copy() for a in params]
    problem = native.adam(_table(native, (params, grads, exp_avgs, exp_avg_sqs), np.float32), 1,
                          *ADAM_HPARAMS)
    assert problem is not None and problem[0] == 10  # Problem::kOverlap (gather.h)
    assert {(problem[1], problem[2]), (problem[3], problem[4])} == {(0, 2), (3, 2)}
    for a, b in zip(params, before):
        np.testing.assert_array_equal(a, b)


def test_grads_may_share_memory_with_each_other(native):
    params, grads, exp_avgs, exp_avg_sqs = _adam_streams(np.float64)
    grads[3] = grads[2][:SIZES[3]]  # read-only streams may overlap
    assert native.adam(_table(native, (params, grads, exp_avgs, exp_avg_sqs), np.float64), 1,
                       *ADAM_HPARAMS) is None


def test_bad_tables_raise(native):
    with pytest.raises(ValueError, match="dtype"):
        native.PointerTable("float16", SIZES, 5)
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
        native.adam(table, 1, *ADAM_HPARAMS)  # params and the rest never set


def _gather_setup(native):
    params, grads, exp_avgs, exp_avg_sqs = _adam_streams(np.float32)
    tensors = [FakeTensor(p, grad=FakeTensor(g)) for p, g in zip(params, grads)]
    table = _table(native, (params, grads, exp_avgs, exp_avg_sqs), np.float32)
    # Keyed by the tensors, hashed by identity as torch's state dict is.
    state = {t: {"exp_avg": m, "exp_avg_sq": v} for t, m, v in zip(tensors, exp_avgs, exp_avg_sqs)}
    return table, tensors, state


def test_gather_grads_sets_the_grads_and_runs(native):
    table, tensors, state = _gather_setup(native)
    names = ("exp_avg", "exp_avg_sq")
    held = [state[t][n] for t in tensors for n in names]
    assert table.gather_grads(tensors, 1, state, names, held) is None
    assert native.adam(table, 1, *ADAM_HPARAMS) is None


@pytest.mark.parametrize("edit, reason", [
    (lambda tensors, state: setattr(tensors[2], "grad", None), NO_GRAD),
    (lambda tensors, state: setattr(tensors[2].grad, "contiguous", False), GRAD_NOT_CONTIGUOUS),
    (lambda tensors, state: setattr(tensors[2].grad, "is_contiguous", None), GRAD_NOT_CONTIGUOUS),
    (lambda tensors, state: setattr(tensors[2], "array", tensors[2].array.copy()), PARAM_MOVED),
    (lambda tensors, state: state[tensors[2]].__setitem__("exp_avg", np.zeros(SIZES[2])), STATE_CHANGED),
    (lambda tensors, state: state.pop(tensors[2]), STATE_CHANGED),
], ids=["grad None", "grad strided", "grad method raises", "param moved", "state tensor replaced",
        "state removed"])
def test_gather_grads_reports_what_needs_the_slow_path(native, edit, reason):
    table, tensors, state = _gather_setup(native)
    names = ("exp_avg", "exp_avg_sq")
    held = [state[t][n] for t in tensors for n in names]
    edit(tensors, state)
    assert table.gather_grads(tensors, 1, state, names, held) == (reason, 2)
