"""What the trust-ratio optimizers (LAMB, LARS) promise beyond the table's parity (cases.py, run by
test_functional.py and the others): optax's conventions for zero norms and exclusions, the ratio
per tensor, norms that are the same bits at every ISA level, thread count and block split, and
pygd.optim's groups as optax's masks."""

import numpy as np
import pytest

import pygd
import pygd.optim
from cases import BACKENDS, ISAS, assert_bitwise, grads_at, initial_params

# Tensors of one and of several norm blocks (16k elements), with a ragged last block.
MULTI_BLOCK = [(70001,), (16384,), (3, 5), (1,)]


def _lamb_states(shapes, dtype):
    return {"exp_avgs": [np.zeros(s, dtype) for s in shapes], "exp_avg_sqs": [np.zeros(s, dtype) for s in shapes]}


def _run(name, shapes, dtype, steps, backend="native", **options):
    params = [initial_params(s, dtype) for s in shapes]
    if name == "lamb":
        states = _lamb_states(shapes, dtype)
    else:
        states = {"momentum_buffers": [np.zeros(s, dtype) for s in shapes]}
    for t in range(1, steps + 1):
        grads = [grads_at(s, dtype, t) for s in shapes]
        if name == "lamb":
            pygd.lamb_(params, grads, **states, step=t, backend=backend, **options)
        else:
            pygd.lars_(params, grads, **states, backend=backend, **options)
    return params, states


@pytest.mark.parametrize("name", ["lamb", "lars"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_results_are_the_same_bits_at_every_isa_and_thread_count(name, dtype, runtime, small_grain):
    """Norms over several blocks, split across threads at the small grain: every ISA level and
    thread count gives the scalar level's single-thread bits (the data have no NaN)."""
    options = dict(lr=0.01, weight_decay=0.1)
    runtime(isa="scalar", threads=1)
    want = _run(name, MULTI_BLOCK, dtype, 3, **options)
    for isa in ISAS:
        for threads in (1, 2):
            runtime(isa=isa, threads=threads)
            assert_bitwise(_run(name, MULTI_BLOCK, dtype, 3, **options), want, f"{name} {isa} {threads} threads")


@pytest.mark.parametrize("backend", BACKENDS)
def test_lamb_moves_each_tensor_by_lr_times_its_norm(backend):
    """LAMB's step is lr * (|param| / |u|) * u: its norm is lr * |param|, tensor by tensor,
    whatever the scale of each tensor's grads."""
    shapes = [(1000,), (37,), (5, 7)]
    params = [initial_params(s, np.float64) * scale for s, scale in zip(shapes, (1.0, 10.0, 0.01))]
    before = [p.copy() for p in params]
    grads = [grads_at(s, np.float64, 1) * scale for s, scale in zip(shapes, (1e-3, 1.0, 1e3))]
    pygd.lamb_(params, grads, **_lamb_states(shapes, np.float64), step=1, lr=0.01, backend=backend)
    for p, b in zip(params, before):
        np.testing.assert_allclose(np.linalg.norm(p - b), 0.01 * np.linalg.norm(b), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_zero_norm_takes_the_plain_step(backend):
    """optax's convention: where the param's norm or the update's is 0 the ratio is 1."""
    zeros, grad = np.zeros(9), np.linspace(-1.0, 1.0, 9) + 0.01  # no zero grad (0/0 with eps = 0)
    # LARS from zero params: the plain SGD step, -lr * grad (momentum buffer from 0).
    params, buf = [zeros.copy()], [np.zeros(9)]
    pygd.lars_(params, [grad], buf, lr=0.5, backend=backend)
    np.testing.assert_array_equal(params[0], -0.5 * grad)
    # LARS with zero grads and no decay: u = 0, nothing moves.
    params = [np.ones(9)]
    pygd.lars_(params, [np.zeros(9)], [np.zeros(9)], lr=0.5, backend=backend)
    np.testing.assert_array_equal(params[0], np.ones(9))
    # LAMB from zero params: the plain bias-corrected Adam direction.
    params, states = [zeros.copy()], _lamb_states([(9,)], np.float64)
    pygd.lamb_(params, [grad], **states, step=1, lr=0.1, eps=0.0, backend=backend)
    np.testing.assert_allclose(params[0], -0.1 * np.sign(grad), rtol=1e-15)


@pytest.mark.parametrize("name", ["lamb", "lars"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_optim_groups_are_optaxs_masks(name, backend):
    """A group with weight_decay=0.0 and trust_ratio=False (optax's masks False) steps as the
    functional call with those options; the other group as the call with the class's options; and
    state_dict restores the optimizer to continue bit for bit."""
    shapes = [(50,), (7,)]
    cls, options = (pygd.optim.LAMB, dict(lr=0.01, weight_decay=0.1)) if name == "lamb" else (
        pygd.optim.LARS, dict(lr=0.5, weight_decay=0.1))
    params = [initial_params(s, np.float64) for s in shapes]
    opt = cls([{"params": [params[0]]}, {"params": [params[1]], "weight_decay": 0.0, "trust_ratio": False}],
              backend=backend, **options)
    masked = dict(options, weight_decay=0.0, trust_ratio=False)
    want = [_run(name, [shapes[0]], np.float64, 3, backend, **options)[0][0],
            _run(name, [shapes[1]], np.float64, 3, backend, **masked)[0][0]]
    for t in range(1, 3):
        opt.step([grads_at(s, np.float64, t) for s in shapes])
    saved = {k: v for k, v in opt.state_dict().items()}
    saved["state"] = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                      for i, s in saved["state"].items()}
    copy = [p.copy() for p in params]
    other = cls([{"params": [copy[0]]}, {"params": [copy[1]], "weight_decay": 0.0, "trust_ratio": False}],
                backend=backend, **options)
    other.load_state_dict(saved)
    for o in (opt, other):
        o.step([grads_at(s, np.float64, 3) for s in shapes])
    for got, again, expected in zip(params, copy, want):
        assert got.tobytes() == again.tobytes()
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", ["lamb", "lars"])
def test_cuda_refuses_them_by_name(name):
    from pygd._backends import cuda
    with pytest.raises(NotImplementedError, match=f"no CUDA kernel for {name}"):
        cuda._refuse_trust_ratio(name)
