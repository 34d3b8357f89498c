"""Host arrays that speak DLPack but are not ndarrays (torch CPU tensors, JAX arrays, any producer):
the functional API updates them in place through NumPy views (no copy), with the results NumPy
arrays get; what NumPy cannot view is refused with the producer's reason, before anything is
written. `Foreign` stands for any producer, so these run without torch or JAX; the producers
themselves are tested where they are installed."""

import numpy as np
import pytest

import pygd
from cases import BACKENDS, CASES, HEAVY, backends_for, grads_at, initial_params


class Foreign:
    """An array from another library: DLPack only (no buffer protocol, no __array__)."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


class OnDevice(Foreign):
    def __dlpack_device__(self):
        return (2, 0)  # kDLCUDA


SHAPES = [(1,), (7,), (4097,), (3, 5)]


def _steps(case, dtype, wrap, backend, steps=3):
    """params and states after `steps` calls on arrays passed through `wrap`; the NumPy arrays."""
    params = [initial_params(s, dtype) for s in SHAPES]
    states = case.new_states(SHAPES, dtype)
    for t in range(1, steps + 1):
        grads = [grads_at(s, dtype, t) for s in SHAPES]
        case.call([wrap(p) for p in params], [wrap(g) for g in grads],
                  {k: [None if a is None else wrap(a) for a in v] for k, v in states.items()}, t, backend)
    return params, states


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_stream_may_be_a_dlpack_array(case, dtype, backend):
    if backend not in backends_for(case):
        pytest.skip(f"backend={backend!r} has no {case.optimizer} kernel")
    expected = _steps(case, dtype, lambda a: a, backend)
    got = _steps(case, dtype, Foreign, backend)
    for e, g in zip(expected[0] + sum(expected[1].values(), []), got[0] + sum(got[1].values(), [])):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("case", HEAVY, ids=lambda c: c.id)
def test_a_single_dlpack_array_and_read_only_grads(case):
    """One tensor (not a list); the grad a read-only export (as JAX's), which a grad may be."""
    def read_only(a):
        a = a.copy()
        a.setflags(write=False)
        return Foreign(a)

    params, states = initial_params((7,), np.float32), case.new_states([(7,)], np.float32)
    expected = params.copy(), {k: None if v[0] is None else v[0].copy() for k, v in states.items()}
    grads = grads_at((7,), np.float32, 1)
    case.call(expected[0], grads, expected[1], 1)
    case.call(Foreign(params), read_only(grads), {k: None if v[0] is None else Foreign(v[0])
                                                  for k, v in states.items()}, 1)
    np.testing.assert_array_equal(params, expected[0])
    for k, v in states.items():
        np.testing.assert_array_equal(v[0], expected[1][k])


def test_a_read_only_param_is_refused_and_nothing_is_written():
    params = [np.ones(5, np.float32), np.ones(3, np.float32)]
    frozen = np.ones(3, np.float32)
    frozen.setflags(write=False)
    with pytest.raises(ValueError, match=r"params\[1\]"):
        pygd.sgd_([Foreign(params[0]), Foreign(frozen)], [np.ones(5, np.float32), np.ones(3, np.float32)],
                  step=1, lr=0.5)
    assert params[0].tolist() == [1.0] * 5


def test_what_numpy_cannot_view_is_refused_with_the_reason():
    p = np.ones(3, np.float32)
    with pytest.raises(TypeError, match=r"grads must be .*got OnDevice \(a DLPack array, but in device memory"):
        pygd.sgd_(Foreign(p), OnDevice(np.ones(3, np.float32)), step=1, lr=0.5)
    with pytest.raises(TypeError, match=r"grads\[0\] must be a numpy.ndarray, got OnDevice \(a DLPack"):
        pygd.sgd_([Foreign(p)], [OnDevice(np.ones(3, np.float32))], step=1, lr=0.5)
    assert p.tolist() == [1.0] * 3
    with pytest.raises(TypeError, match=r"params\[0\] must be a numpy.ndarray, got object$"):
        pygd.sgd_([object()], [np.ones(3)], step=1, lr=0.5)


def test_clipping_and_accumulation_take_dlpack_arrays():
    grads = [np.full(4, 3.0, np.float32), np.full(5, 4.0)]  # mixed dtypes: one call per dtype
    assert pygd.grad_norm([Foreign(g) for g in grads]) == pytest.approx(np.sqrt(4 * 9 + 5 * 16))
    total = pygd.clip_grad_norm_([Foreign(g) for g in grads], 1.0)
    assert total == pytest.approx(np.sqrt(4 * 9 + 5 * 16))
    assert np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads)) == pytest.approx(1.0, rel=1e-5)
    values = [np.array([5.0, -5.0, 0.5]), np.array([2.0], np.float32)]
    pygd.clip_grad_value_([Foreign(v) for v in values], 1.0)
    assert values[0].tolist() == [1.0, -1.0, 0.5] and values[1].tolist() == [1.0]
    sums = [np.zeros(3, np.float32)]
    pygd.accumulate_([Foreign(sums[0])], [Foreign(np.ones(3, np.float32))], scale=0.5)
    assert sums[0].tolist() == [0.5] * 3
    accumulator = pygd.GradientAccumulator([np.zeros(3, np.float32), np.zeros(2)], 2)
    accumulator.add([Foreign(np.ones(3, np.float32)), Foreign(np.ones(2))])
    accumulator.add([Foreign(np.full(3, 3.0, np.float32)), Foreign(np.full(2, 3.0))])
    assert accumulator.ready and [g.tolist() for g in accumulator.grads] == [[2.0] * 3, [2.0] * 2]


def test_torch_cpu_tensors_are_updated_in_place():
    torch = pytest.importorskip("torch")
    p = torch.linspace(-1, 1, 4097)
    g = torch.cos(torch.arange(4097, dtype=torch.float32))
    m, v = torch.zeros(4097), torch.zeros(4097)
    address = p.data_ptr()
    expected = p.numpy().copy(), m.numpy().copy(), v.numpy().copy()
    for t in (1, 2):
        pygd.adam_(expected[0], g.numpy(), expected[1], expected[2], step=t, lr=1e-2)
        pygd.adam_(p, g, m, v, step=t, lr=1e-2)
    assert p.data_ptr() == address
    for tensor, array in zip((p, m, v), expected):
        np.testing.assert_array_equal(tensor.numpy(), array)
    with pytest.raises(TypeError, match="use tensor.detach"):
        pygd.sgd_(torch.ones(3, requires_grad=True), torch.ones(3), step=1, lr=0.1)
    with pytest.raises(TypeError, match="Unsupported dtype"):  # NumPy has no bfloat16
        pygd.sgd_(torch.ones(3, dtype=torch.bfloat16), torch.ones(3, dtype=torch.bfloat16), step=1, lr=0.1)


def test_jax_arrays_as_grads():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    w = np.linspace(-1, 1, 7).astype(np.float32)
    grad = jax.grad(lambda x: jnp.sum(jnp.sin(x) ** 2))(jnp.asarray(w))
    expected = w - 0.1 * np.asarray(grad)
    pygd.sgd_(w, grad, step=1, lr=0.1)
    np.testing.assert_array_equal(w, expected)
    with pytest.raises(ValueError, match="params"):  # JAX arrays are immutable: never a param
        pygd.sgd_(jnp.ones(3), jnp.ones(3), step=1, lr=0.1)
