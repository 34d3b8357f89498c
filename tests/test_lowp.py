"""Low precision on the CPU (docs/low-precision.md): bfloat16 and float16 storage with float32 math.

- The conversions: narrowing rounds to nearest even (subnormals kept, overflow to infinity, NaN
  stays NaN) and widening is exact, at every ISA level, checked through the kernels themselves on
  every float16/bfloat16 bit pattern and on float32 patterns around every rounding boundary.
- Each layout (A: all narrow; B: narrow params, float32 states; C: float32 master with a narrow
  copy, float32 or narrow grads) against the float64 oracle (float64_reference.py) under the
  rounding model: inputs as stored, exact math, each stored value rounded once to its dtype.
- pygd.torch on bfloat16/float16 CPU params against torch's fused CPU kernels, bit for bit where
  torch's fused kernel is right (see the SGD and Adagrad notes below).
- Bits do not depend on the ISA level or the thread count.
"""

import warnings

import numpy as np
import pytest

import float64_reference
import pygd
from cases import CASES, OPTIMIZERS, rtol
from pygd._specs import SPECS

ml_dtypes = pytest.importorskip("ml_dtypes")

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
NARROW = [BF16, F16]
ISAS = pygd.info()["isas"]
# One case per element-wise optimizer: its last in the table (usually every option on).
# The element-wise sweeps take the narrow layouts; the trust-ratio and factored drivers do not.
ELEMENTWISE = [name for name in OPTIMIZERS if not SPECS[name].trust_ratio and not SPECS[name].factored]
LAST_CASE = {c.optimizer: c for c in CASES}
SIZES = (1, 7, 33, 4097)


@pytest.fixture
def at_isa(request):
    """Runs the test body at each ISA level this machine has (set_isa), then restores the best."""
    before = pygd.info()["isa"]
    yield lambda isa: pygd.set_isa(isa)
    pygd.set_isa(before)


def _boundary_floats():
    """float32 values on and around every rounding boundary of both narrow types: random bit
    patterns of every exponent, each exact tie and its neighbours, the overflow and underflow edges,
    subnormals of both widths, infinities and NaNs."""
    rng = np.random.default_rng(17)
    random_bits = rng.integers(0, 2**32, 60000, dtype=np.uint64).astype(np.uint32)
    # Ties: a narrow value's bits with exactly half its last place set, and the floats beside them.
    narrow = rng.integers(0, 2**16, 4000, dtype=np.uint64).astype(np.uint32)
    bf_ties = (narrow << 16) | 0x8000
    with np.errstate(over="ignore"):
        f16_ties = (np.abs(rng.standard_normal(4000)) * 2.0 ** rng.integers(-24, 15, 4000)).astype(np.float16)
    f16_ties = f16_ties.astype(np.float32).view(np.uint32) | 0x1000  # half of float16's last place
    ties = np.concatenate([bf_ties, f16_ties])
    near = np.concatenate([ties - 1, ties, ties + 1])
    edges = np.array([65504, 65519, 65519.996, 65520, 65536, 2**-14, 2**-24, 2**-25, 3 * 2**-26, 2**-26,
                      1.5 * 2**-24, 2.5 * 2**-24, 3.3895314e38, 3.4028235e38, 1e-40, 1.4e-45, 0.0],
                     dtype=np.float32).view(np.uint32)
    specials = np.array([np.inf, np.nan], dtype=np.float32).view(np.uint32)
    bits = np.concatenate([random_bits, near, edges, specials, 0x7f800001 + np.arange(3, dtype=np.uint32)])
    bits = np.concatenate([bits, bits ^ np.uint32(0x80000000)])  # both signs
    return bits.view(np.float32)


def _same_or_both_nan(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    return got[~nan], want[~nan]


@pytest.mark.parametrize("dtype", NARROW, ids=str)
@pytest.mark.parametrize("isa", ISAS)
def test_narrowing_rounds_to_nearest_even(at_isa, isa, dtype):
    """Mode C's copy of float32 params that SGD leaves as they are (lr 0, grads 0) is the params
    narrowed, as ml_dtypes/NumPy round (to nearest even, subnormals kept), at every element path
    (single-element head and tail, SIMD body: the arrays start at odd offsets)."""
    at_isa(isa)
    values = _boundary_floats()
    for offset in (0, 3):
        p = values[offset:].copy()
        copy = np.zeros(p.shape, dtype)
        with np.errstate(all="ignore"):
            pygd.sgd_(p, np.zeros_like(p), step=1, lr=0.0, param_copy=copy)
            got, want = copy.astype(np.float32), p.astype(dtype).astype(np.float32)
        nan = np.isnan(want)
        assert np.array_equal(np.isnan(got), nan)
        assert np.array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32)), isa


@pytest.mark.parametrize("dtype", NARROW, ids=str)
@pytest.mark.parametrize("isa", ISAS)
def test_widening_is_exact(at_isa, isa, dtype):
    """Every bfloat16/float16 bit pattern, widened: mode B's float32 momentum buffer takes the grad
    itself at SGD's first step."""
    at_isa(isa)
    grads = np.arange(2**16, dtype=np.uint16).view(dtype)[1:]  # from index 1: an odd start
    params = np.zeros(grads.shape, dtype)
    buf = np.zeros(grads.shape, np.float32)
    with np.errstate(all="ignore"):
        pygd.sgd_(params, grads, buf, step=1, lr=0.0, momentum=0.9)
    want = grads.astype(np.float32)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(buf), nan)
    assert np.array_equal(buf[~nan].view(np.uint32), want[~nan].view(np.uint32))


# ----------------------------------------------------------------------------- the layouts

MODES = ["A", "B", "C", "C-narrow-grads"]


def _dtypes(mode, narrow):
    """(params, grads, states, copy) dtypes of a mode."""
    f32 = np.dtype(np.float32)
    return {"A": (narrow, narrow, narrow, None), "B": (narrow, narrow, f32, None),
            "C": (f32, f32, f32, narrow), "C-narrow-grads": (f32, narrow, f32, narrow)}[mode]


def _inputs(case, shapes, dtypes, seed=5):
    """Params, grads and states of one call: random (states positive: valid for every
    optimizer's states), stored in the mode's dtypes."""
    rng = np.random.default_rng(seed)
    pd, gd, sd, _ = dtypes
    params = [rng.standard_normal(s).astype(pd) for s in shapes]
    grads = [rng.standard_normal(s).astype(gd) for s in shapes]
    states = {name: [(np.abs(rng.standard_normal(s)) * 0.1 + 0.01).astype(sd) for s in shapes]
              for name in case.state_names}
    return params, grads, states


def _ulp(x, dtype):
    """The narrow dtype's spacing at each |x| (its smallest subnormal at least)."""
    x = np.abs(np.asarray(x, np.float64))
    if dtype == F16:
        return np.spacing(x.astype(np.float16)).astype(np.float64)
    exponent = np.floor(np.log2(np.maximum(x, 2.0**-133)))
    return 2.0 ** np.maximum(exponent - 7, -133)


def assert_rounding_model(got, exact, dtype, what):
    """`got` (stored as `dtype`) against the exact (float64) result rounded to `dtype`: pygd's
    float32 math may land on the other side of a rounding boundary (one narrow unit in the last
    place), plus float32's own error where values cancelled (the rtol model of cases.py)."""
    got, exact = _same_or_both_nan(np.asarray(got).astype(np.float64), exact)
    if dtype in NARROW:
        rounded = exact.astype(dtype).astype(np.float64)
        scale = np.sqrt(np.mean(exact**2)) if exact.size else 0.0
        tol = _ulp(rounded, dtype) + rtol(np.float32, 1) * (np.abs(exact) + scale)
        assert np.all(np.abs(got - rounded) <= tol), (what, np.max(np.abs(got - rounded) / tol))
    else:
        scale = np.sqrt(np.mean(exact**2)) if exact.size else 0.0
        tol = rtol(np.float32, 1) * (np.abs(exact) + scale)
        assert np.all(np.abs(got - exact) <= tol), (what, np.max(np.abs(got - exact) / tol))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", NARROW, ids=str)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_layouts_follow_the_rounding_model(name, dtype, mode):
    case = LAST_CASE[name]
    dtypes = _dtypes(mode, dtype)
    shapes = [(n,) for n in SIZES]
    params, grads, states = _inputs(case, shapes, dtypes)
    t = 3
    exact_p = [p.astype(np.float64) for p in params]
    exact_s = {k: [a.astype(np.float64) for a in v] for k, v in states.items()}
    float64_reference.step(case.optimizer, exact_p, [g.astype(np.float64) for g in grads], exact_s, t,
                           {**case.options, **case.class_options})
    copies = [np.zeros(s, dtypes[3]) for s in shapes] if dtypes[3] is not None else None
    extra = {"param_copy": copies} if copies is not None else {}
    with np.errstate(all="ignore"):
        case.call(params, grads, states, t, **extra)
    for j in range(len(shapes)):
        assert_rounding_model(params[j], exact_p[j], dtypes[0], f"params[{j}]")
        for k in states:
            assert_rounding_model(states[k][j], exact_s[k][j], dtypes[2], f"{k}[{j}]")
        if copies is not None:  # the copy is the updated master, narrowed: exactly
            assert np.array_equal(copies[j].view(np.uint16), params[j].astype(dtypes[3]).view(np.uint16))


@pytest.mark.parametrize("dtype", NARROW, ids=str)
def test_master_with_copy_is_the_float32_step(dtype):
    """Mode C changes nothing in the master's math: the float32 step's bits (with narrow grads, the
    float32 step on the widened grads)."""
    case = LAST_CASE["adam"]
    shapes = [(n,) for n in SIZES]
    for grad_dtype in (np.float32, dtype):
        params, grads, states = _inputs(case, shapes, (np.dtype(np.float32), np.dtype(grad_dtype), np.float32, None))
        p2, s2 = [p.copy() for p in params], {k: [a.copy() for a in v] for k, v in states.items()}
        copies = [np.zeros(s, dtype) for s in shapes]
        case.call(params, grads, states, 2, param_copy=copies)
        case.call(p2, [g.astype(np.float32) for g in grads], s2, 2)
        for a, b in zip(params + sum(states.values(), []), p2 + sum(s2.values(), [])):
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


# ----------------------------------------------------------------------------- ISAs and threads

def _sprinkled(shape, dtype, rng):
    """Random values with NaN, infinities, signed zeros and subnormals of both widths."""
    x = rng.standard_normal(shape).astype(np.float32)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, 3e-8, 6e-5, 7e4], np.float32)
    where = rng.random(shape) < 0.05
    x[where] = rng.choice(specials, int(where.sum()))
    with np.errstate(over="ignore"):
        return x.astype(dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", NARROW, ids=str)
def test_bits_are_the_same_at_every_isa_and_thread_count(at_isa, mode, dtype):
    shapes = [(n,) for n in (*SIZES, 70001)]
    runs = []
    for isa in ISAS:
        for threads in (1, 3):
            at_isa(isa)
            pygd.set_num_threads(threads)
            try:
                rng = np.random.default_rng(11)
                out = []
                for name in ("adam", "sgd", "rmsprop", "adagrad", "nadam"):
                    case = LAST_CASE[name]
                    dtypes = _dtypes(mode, dtype)
                    params = [_sprinkled(s, dtypes[0], rng) for s in shapes]
                    grads = [_sprinkled(s, dtypes[1], rng) for s in shapes]
                    states = {k: [np.abs(_sprinkled(s, dtypes[2], rng)) for s in shapes] for k in case.state_names}
                    copies = [np.zeros(s, dtypes[3]) for s in shapes] if dtypes[3] is not None else None
                    with np.errstate(all="ignore"):
                        case.call(params, grads, states, 2, **({"param_copy": copies} if copies else {}))
                    out += params + sum(states.values(), []) + (copies or [])
                runs.append((isa, threads, out))
            finally:
                pygd.set_num_threads(None)
    isa0, threads0, want = runs[0]
    for isa, threads, got in runs[1:]:
        for a, b in zip(got, want):
            fa, fb = a.astype(np.float32), b.astype(np.float32)
            nan = np.isnan(fb)
            assert np.array_equal(np.isnan(fa), nan), (isa, threads)
            assert np.array_equal(fa[~nan].view(np.uint32), fb[~nan].view(np.uint32)), (isa, threads)


# ----------------------------------------------------------------------------- torch parity

torch = pytest.importorskip("torch")
import pygd.torch as pygd_torch  # noqa: E402

TORCH_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
# torch's fused CPU kernels (aten/src/ATen/native/cpu/Fused*Kernel.cpp) on bfloat16/float16:
# Adam and AdamW compute in float32 and round each stored value once, as pygd does: bit for bit at
# any size. Adagrad's vector body rounds lr, eps and weight_decay to the param's dtype first (float16
# makes eps 1e-10 zero); SGD's vector body reads the momentum buffer as float32 and never updates the
# params (torch 2.13). Their scalar tails (sizes below one vector) compute as pygd does: bit for bit
# there.
FUSED = [("Adam", {}, SIZES), ("Adam", {"amsgrad": True, "weight_decay": 0.1, "maximize": True}, SIZES),
         ("AdamW", {"weight_decay": 0.1}, SIZES), ("AdamW", {"amsgrad": True, "betas": (0.2, 0.6)}, SIZES),
         ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, (1, 7, 15)),
         ("SGD", {"momentum": 0.9, "dampening": 0.3}, (1, 7, 15)), ("SGD", {"maximize": True}, (1, 7, 15)),
         ("Adagrad", {"weight_decay": 0.1, "lr_decay": 0.01}, (1, 7, 15))]


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("name, options, sizes", FUSED, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(FUSED)])
def test_pygd_torch_equals_torch_fused(name, options, sizes, dtype):
    dtype = TORCH_DTYPES[dtype]
    g = torch.Generator().manual_seed(0)
    start = [torch.randn(n, generator=g).to(dtype) for n in sizes]
    ours = [p.clone().requires_grad_() for p in start]
    theirs = [p.clone().requires_grad_() for p in start]
    a = getattr(pygd_torch, name)(ours, lr=0.01, **options)
    b = getattr(torch.optim, name)(theirs, lr=0.01, fused=True, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pygd_torch.TorchFallbackWarning)
        for _ in range(4):
            for x, y in zip(ours, theirs):
                grad = torch.randn(x.shape, generator=g).to(dtype)
                x.grad, y.grad = grad.clone(), grad.clone()
            a.step()
            b.step()
    assert a.pygd_routes.native == tuple(range(len(sizes)))
    for x, y in zip(ours, theirs):
        assert torch.equal(x, y)
        for key, value in b.state[y].items():
            if value.dim() > 0:
                assert value.dtype == dtype and torch.equal(a.state[x][key], value), key


@pytest.mark.parametrize("dtype", NARROW, ids=str)
def test_pygd_optim_steps_narrow_params_in_mode_a(dtype):
    """pygd.optim's classes take bfloat16/float16 params: states made in the param's dtype, the
    functional step's bits."""
    import pygd.optim

    rng = np.random.default_rng(2)
    params = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    grads = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    mine = [p.copy() for p in params]
    m, v = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    opt = pygd.optim.AdamW(params, lr=0.01)
    for t in (1, 2, 3):
        opt.step(grads)
        pygd.adamw_(mine, grads, m, v, step=t, lr=0.01)
    for i, (a, b) in enumerate(zip(params, mine)):
        assert np.array_equal(a.view(np.uint16), b.view(np.uint16))
        assert opt.state[i]["exp_avg"].dtype == dtype
        assert np.array_equal(opt.state[i]["exp_avg_sq"].view(np.uint16), v[i].view(np.uint16))


@pytest.mark.parametrize("dtype", NARROW, ids=str)
def test_pygd_optim_state_dtype_float32_is_mode_b(dtype):
    """state_dtype="float32": float32 states for narrow params, the functional mode B step's bits."""
    import pygd.optim

    rng = np.random.default_rng(3)
    params = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    grads = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    mine = [p.copy() for p in params]
    m, v = [np.zeros(p.shape, np.float32) for p in params], [np.zeros(p.shape, np.float32) for p in params]
    opt = pygd.optim.Adam(params, lr=0.01, weight_decay=0.1, state_dtype="float32")
    for t in (1, 2, 3):
        opt.step(grads)
        pygd.adam_(mine, grads, m, v, step=t, lr=0.01, weight_decay=0.1)
    for i, (a, b) in enumerate(zip(params, mine)):
        assert np.array_equal(a.view(np.uint16), b.view(np.uint16))
        assert np.array_equal(opt.state[i]["exp_avg"].view(np.uint32), m[i].view(np.uint32))
    with pytest.raises(ValueError, match="state_dtype must be None or 'float32'"):
        pygd.optim.SGD(params, lr=0.1, state_dtype="float16")
