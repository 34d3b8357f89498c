"""pygd's functional steps give torch.optim's bits: bit for bit against torch's fused CPU kernels
(Adam, AdamW, SGD, Adagrad: fused=True) and its for-loop RMSprop, Adamax, RAdam, Adadelta and Rprop
(foreach=False, as torch has no fused one), float32 and float64,
every option combination, a few steps on random data of odd sizes, at every ISA level this machine
runs, on 1 and 2 threads (with a small grain, so that the work really splits, mid-SIMD-width), and
with the Numba backend.

pygd computes every element as torch's *vectorized* loop body does (docs/update-rules.md). torch computes the
last elements of each tensor (fewer than one SIMD width; for RMSprop's TensorIterator ops, fewer than
two) in a scalar loop of its own, which its compiler may contract differently (a*b + c into one FMA).
Those elements are compared too: they must agree bit for bit where torch's tail rounds as its body
does, and are within `TAIL_EPS` roundings of it otherwise; the share that differs is reported by
`PYGD_BITS_REPORT=1 pytest -s tests/test_torch_bits.py`. Every other element must be identical.

RMSprop, RAdam and Adadelta: torch's for-loops take square roots with Tensor.sqrt (and sqrt_), which
torch builds with MKL compute through MKL's vector math library (vsSqrt/vdSqrt), not correctly
rounded: about 17% (float32) and 1% (float64) of its roots are 1 ulp off the IEEE square root that
pygd (and torch's own fused kernels) compute. Their reference here is torch's for-loop with Tensor.sqrt replaced by the
IEEE root (every other operation torch's own); the report also counts the share that differs from
unmodified torch.
"""

import contextlib
import functools
import inspect
import itertools
import os

import numpy as np
import pytest

import pygd
from cases import ISAS, NATIVE, NUMBA, OPTIMIZERS, SMALL_GRAIN, TORCH_STATE
from pygd._state_scalars import kernel_values

torch = pytest.importorskip("torch")

SIZES = (1, 7, 33, 4097, 100003)
STEPS = 4  # per optimizer unless its Spec says (RAdam rectifies from step 6 at the earliest)
DTYPES = (np.float32, np.float64)
THREADS = (1, 2)
# torch's scalar tail may round differently from its vectorized body (see the module docstring):
# there pygd may differ by this many machine epsilons relative to |torch| + rms(torch) of the tensor
# (the rms term covers cancellation, e.g. momentum buffers near zero).
TAIL_EPS = 64
REPORT = os.environ.get("PYGD_BITS_REPORT") == "1"

def _grid(**axes):
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


# The rows that run Adam's kernel (Adamax has streams of its own).
ADAMS = ("adam", "adam_decoupled", "adamw")


class Spec:
    """One optimizer: its pygd function, its torch.optim class and implementation, and how an
    option set (in pygd's terms) translates to both."""

    def __init__(self, name, fn, torch_cls, impl, options, fused, extra_torch=None, mkl_sqrt=False,
                 steps=STEPS):
        self.name, self.fn, self.torch_cls, self.impl = name, fn, torch_cls, impl
        self.options, self.fused, self.extra_torch = options, fused, extra_torch or {}
        # Whether torch's implementation takes Tensor.sqrt (MKL's root, see the module docstring).
        self.mkl_sqrt = mkl_sqrt
        self.steps = steps

    def state_names(self, o):
        if self.name == "sgd":
            return ("momentum_buffers",) if o["momentum"] != 0 else ()
        if self.name in ADAMS:
            return ("exp_avgs", "exp_avg_sqs") + (("max_exp_avg_sqs",) if o["amsgrad"] else ())
        if self.name == "rmsprop":
            return (("square_avgs",) + (("momentum_buffers",) if o["momentum"] > 0 else ())
                    + (("grad_avgs",) if o["centered"] else ()))
        if self.name == "adagrad":
            return ("state_sums",)
        return OPTIMIZERS[self.name].state_names(o)

    def torch_kwargs(self, o):
        return {**o, **self.extra_torch, **self.impl}

    def pygd_kwargs(self, o, step):
        """Options `o` (torch's) as the functional step takes them."""
        torch_options, o = o, dict(o)
        for option in OPTIMIZERS[self.name].spec.options if self.name in OPTIMIZERS else ():
            if option.functional_split:  # Rprop's step_sizes=(min, max): step_size_min, step_size_max
                o.update(zip(option.sets, o.pop(option.name)))
            elif not option.functional:  # a state's initial value (Adagrad's, Rprop's lr)
                o.pop(option.name, None)
        if self.name in ADAMS:
            o["max_exp_avg_sqs"] = None  # filled in by the caller when amsgrad
        if self.name in OPTIMIZERS:  # the state scalars (NAdam's mu_product) as steps 1..step make them
            spec = OPTIMIZERS[self.name].spec
            names = tuple(s.name for s in spec.state_scalars)
            o.update(kernel_values(names, step, {**spec.defaults, **torch_options}))
        return {**o, "step": step} if "step" in inspect.signature(self.fn).parameters else o

    def initial(self, name, o):
        """A state's initial value under torch's options `o`: its stream's option, or 0."""
        spec = OPTIMIZERS[self.name].spec if self.name in OPTIMIZERS else None
        stream = next((s for s in spec.streams if s.name == name), None) if spec else None
        return o.get(stream.initial, spec.defaults[stream.initial]) if stream and stream.initial else 0.0


FUSED = {"fused": True}
ADAM = _grid(lr=[1e-2], betas=[(0.9, 0.999), (0.3, 0.8)], eps=[1e-8], weight_decay=[0.0, 0.1],
             amsgrad=[False, True], maximize=[False, True])
SGD = ([o for o in _grid(lr=[0.05], momentum=[0.0], dampening=[0.0], nesterov=[False],
                         weight_decay=[0.0, 0.1], maximize=[False, True])]
       + _grid(lr=[0.05], momentum=[0.9], dampening=[0.0, 0.3], nesterov=[False],
               weight_decay=[0.0, 0.1], maximize=[False, True])
       + _grid(lr=[0.05], momentum=[0.9], dampening=[0.0], nesterov=[True],
               weight_decay=[0.0, 0.1], maximize=[False, True]))
ADAGRAD = _grid(lr=[0.05], lr_decay=[0.0, 0.01], weight_decay=[0.0, 0.1], eps=[1e-10],
                initial_accumulator_value=[0.0, 0.5], maximize=[False, True])
ADAMAX = _grid(lr=[1e-2], betas=[(0.9, 0.999), (0.3, 0.8)], eps=[1e-8], weight_decay=[0.0, 0.1],
               maximize=[False, True])
RADAM = _grid(lr=[1e-2], betas=[(0.9, 0.999), (0.3, 0.8)], eps=[1e-8], weight_decay=[0.0, 0.1],
              decoupled_weight_decay=[False, True], maximize=[False, True])
ADADELTA = _grid(lr=[1.0, 0.5], rho=[0.9, 0.3], eps=[1e-6], weight_decay=[0.0, 0.1], maximize=[False, True])
# Bounds that the step sizes reach within STEPS from lr, from either side.
RPROP = _grid(lr=[0.01], etas=[(0.5, 1.2), (0.3, 1.5)], step_sizes=[(1e-6, 50.0), (5e-3, 0.015)],
              maximize=[False, True])
NADAM = _grid(lr=[1e-2], betas=[(0.9, 0.999), (0.3, 0.8)], eps=[1e-8], weight_decay=[0.0, 0.1],
              momentum_decay=[4e-3, 0.1], decoupled_weight_decay=[False, True], maximize=[False, True])
ASGD = _grid(lr=[0.05], lambd=[1e-4, 0.1], alpha=[0.75], t0=[1e6, 1.0], weight_decay=[0.0, 0.1],
             maximize=[False, True])
RMSPROP = _grid(lr=[1e-2], alpha=[0.99, 0.3], eps=[1e-8], weight_decay=[0.0, 0.1],
                momentum=[0.0, 0.9], centered=[False, True], maximize=[False, True])

SPECS = [
    Spec("adam", pygd.adam_, torch.optim.Adam, FUSED, ADAM, True),
    # Adam's own decoupled_weight_decay=True is torch's AdamW kernel: pygd.adamw_.
    Spec("adam_decoupled", pygd.adamw_, torch.optim.Adam, FUSED, ADAM, True,
         {"decoupled_weight_decay": True}),
    Spec("adamw", pygd.adamw_, torch.optim.AdamW, FUSED,
         ADAM + _grid(lr=[1e-2], betas=[(0.9, 0.999)], eps=[1e-8], weight_decay=[1e-2],
                      amsgrad=[False, True], maximize=[False]), True),
    Spec("sgd", pygd.sgd_, torch.optim.SGD, FUSED, SGD, True),
    Spec("adagrad", pygd.adagrad_, torch.optim.Adagrad, FUSED, ADAGRAD, True),
    Spec("rmsprop", pygd.rmsprop_, torch.optim.RMSprop, {"foreach": False}, RMSPROP, False, mkl_sqrt=True),
    # torch has no fused Adamax: its for-loop, whose ops are all TensorIterator loops (no sqrt).
    Spec("adamax", pygd.adamax_, torch.optim.Adamax, {"foreach": False}, ADAMAX, False),
    # Nor RAdam: its for-loop, with MKL's sqrt as RMSprop's. Its (0.3, 0.8) rows rectify from step 7.
    Spec("radam", pygd.radam_, torch.optim.RAdam, {"foreach": False}, RADAM, False, mkl_sqrt=True,
         steps=8),
    Spec("adadelta", pygd.adadelta_, torch.optim.Adadelta, {"foreach": False}, ADADELTA, False, mkl_sqrt=True),
    Spec("rprop", pygd.rprop_, torch.optim.Rprop, {"foreach": False}, RPROP, False),
    # torch rounds its mu_product state to float32 (float64 under a float64 default dtype); pygd is
    # handed the float64 product here, so torch runs under the default dtype float64 (pygd.torch
    # keeps torch's own mu_product: see test_torch_training.py).
    # ASGD's eta and mu: float64 as for NAdam (t0 = 1 averages from step 3).
    Spec("asgd", pygd.asgd_, torch.optim.ASGD, {"foreach": False}, ASGD, False),
    Spec("nadam", pygd.nadam_, torch.optim.NAdam, {"foreach": False}, NADAM, False, mkl_sqrt=True),
]


def _case_id(spec, o):
    parts = [spec.name]
    for k, v in o.items():
        if k in ("lr", "eps"):
            continue
        if isinstance(v, bool):
            if v:
                parts.append(k)
        elif k == "betas":
            parts.append(f"b1_{v[0]}")
        elif v != 0:
            parts.append(f"{k}_{v}")
    return "-".join(parts)


CASES = [(spec, o) for spec in SPECS for o in spec.options]
CASE_IDS = [_case_id(s, o) for s, o in CASES]


def _data(dtype):
    rng = np.random.default_rng(1234)
    params = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    # Gradients of mixed scale, some exact zeros, so tiny and large second moments both occur.
    grads = []
    for _ in range(max(spec.steps for spec in SPECS)):
        step = []
        for n in SIZES:
            g = rng.standard_normal(n) * np.exp(rng.uniform(-6, 2, n))
            g[rng.random(n) < 0.02] = 0.0
            step.append(g.astype(dtype))
        grads.append(step)
    return params, grads


@functools.lru_cache(maxsize=2)
def data(dtype):
    params, grads = _data(dtype)
    for a in params + [g for step in grads for g in step]:
        a.setflags(write=False)
    return params, grads


@contextlib.contextmanager
def ieee_sqrt():
    """Tensor.sqrt and Tensor.sqrt_ as the correctly rounded square root (NumPy's)."""
    saved = torch.Tensor.sqrt, torch.Tensor.sqrt_

    def sqrt(t):
        return torch.from_numpy(np.sqrt(t.detach().numpy()))

    def sqrt_(t):
        return t.copy_(sqrt(t))

    torch.Tensor.sqrt, torch.Tensor.sqrt_ = sqrt, sqrt_
    try:
        yield
    finally:
        torch.Tensor.sqrt, torch.Tensor.sqrt_ = saved


@functools.lru_cache(maxsize=2)
def torch_run(case_index, dtype, exact_sqrt=True):
    """torch.optim's state after spec.steps steps; exact_sqrt: Tensor.sqrt as the IEEE square root."""
    spec, o = CASES[case_index]
    params0, grads = data(dtype)
    threads = torch.get_num_threads()
    # One thread: RMSprop's TensorIterator ops then run their scalar remainder at the end of each
    # tensor only (the fused kernels split in whole cache lines on any thread count).
    torch.set_num_threads(1)
    default_dtype = torch.get_default_dtype()
    if spec.name in OPTIMIZERS and OPTIMIZERS[spec.name].spec.state_scalars:
        torch.set_default_dtype(torch.float64)  # torch's mu_product in float64, as pygd is handed it
    try:
        params = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in params0]
        opt = spec.torch_cls(params, **spec.torch_kwargs(o))
        for t in range(spec.steps):
            for p, g in zip(params, grads[t]):
                p.grad = torch.from_numpy(g.copy())
            with ieee_sqrt() if exact_sqrt and spec.mkl_sqrt else contextlib.nullcontext():
                opt.step()
    finally:
        torch.set_num_threads(threads)
        torch.set_default_dtype(default_dtype)
    out = {"params": [p.detach().numpy().copy() for p in params]}
    for name in spec.state_names(o):
        out[name] = [opt.state[p][TORCH_STATE[name]].detach().numpy().copy() for p in params]
    return out


def pygd_run(spec, o, dtype, backend):
    params0, grads = data(dtype)
    params = [p.copy() for p in params0]
    states = {}
    for name in spec.state_names(o):
        fill = spec.initial(name, o)
        states[name] = [np.full(n, fill, dtype) for n in SIZES]
    for t in range(spec.steps):
        kwargs = spec.pygd_kwargs(o, t + 1)
        if spec.name in ADAMS:
            kwargs["max_exp_avg_sqs"] = states.get("max_exp_avg_sqs")
            spec.fn(params, [g for g in grads[t]], states["exp_avgs"], states["exp_avg_sqs"],
                    backend=backend, **kwargs)
        else:
            positional = [states[n] for n in spec.state_names(o) if n in ("square_avgs", "state_sums")]
            named = {n: states[n] for n in spec.state_names(o)
                     if n not in ("square_avgs", "state_sums")}
            spec.fn(params, [g for g in grads[t]], *positional, backend=backend, **kwargs, **named)
    return {"params": params, **states}


def torch_tail(spec, n, dtype):
    """Where torch's scalar tail starts in a tensor of n elements (on one thread)."""
    width = {"AVX512": 64, "AVX2": 32}.get(torch.backends.cpu.get_cpu_capability(), 32)
    lanes = width // np.dtype(dtype).itemsize
    block = lanes if spec.fused else 2 * lanes  # cpu_kernel_vec unrolls twice
    return n - n % block


def compare(spec, want, got, dtype, label, stats):
    """Problems found (a list of strings); counts differing elements in `stats`."""
    problems = []
    for name, arrays in want.items():
        for i, (w, g) in enumerate(zip(arrays, got[name])):
            n = w.size
            differ = w.view(np.uint8).reshape(n, -1) != g.view(np.uint8).reshape(n, -1)
            differ = differ.any(axis=1)
            tail = torch_tail(spec, n, dtype)
            body_bad = np.flatnonzero(differ[:tail])
            tail_bad = np.flatnonzero(differ[tail:]) + tail
            key = (name, "body")
            stats[key] = stats.get(key, (0, 0))
            stats[key] = (stats[key][0] + body_bad.size, stats[key][1] + tail)
            key = (name, "tail")
            stats[key] = stats.get(key, (0, 0))
            stats[key] = (stats[key][0] + tail_bad.size, stats[key][1] + n - tail)
            if body_bad.size:
                k = body_bad[0]
                problems.append(f"{label}: {name}[{i}] (n={n}) differs at {body_bad.size} of {tail} "
                                f"vectorized-body elements, first [{k}]: torch {w[k]!r} pygd {g[k]!r}")
            if tail_bad.size:
                eps = np.finfo(dtype).eps
                scale = np.abs(w[tail_bad]) + np.sqrt(np.mean(np.square(w, dtype=np.float64)))
                worst = (np.abs(w[tail_bad] - g[tail_bad].astype(np.float64)) / (eps * scale)).max()
                if worst > TAIL_EPS:
                    problems.append(f"{label}: {name}[{i}] (n={n}) differs from torch's scalar tail "
                                    f"by {worst:.1f} eps (> {TAIL_EPS})")
    return problems


VARIANTS = ([("native", isa, threads) for isa in ISAS for threads in THREADS] if NATIVE else [])
VARIANTS += [("numba", None, None)] if NUMBA else []


@pytest.fixture
def run_variant(request):
    def set_(backend, isa, threads):
        if backend == "native":
            from pygd import _backends
            pygd.set_isa(isa)
            pygd.set_num_threads(threads)
            _backends.native._native.set_grain(SMALL_GRAIN if threads > 1 else 1 << 15)
    return set_


_totals = {}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case_index", range(len(CASES)), ids=CASE_IDS)
def test_bits_match_torch(case_index, dtype, run_variant):
    if not VARIANTS:
        pytest.skip("neither the native extension nor numba is available")
    spec, o = CASES[case_index]
    want = torch_run(case_index, dtype)
    problems = []
    for backend, isa, threads in VARIANTS:
        run_variant(backend, isa, threads)
        got = pygd_run(spec, o, dtype, backend)
        label = f"{backend}" + (f"/{isa}/{threads} threads" if isa else "")
        stats = _totals.setdefault((spec.name, np.dtype(dtype).name, label), {})
        problems += compare(spec, want, got, dtype, label, stats)
        if REPORT and spec.mkl_sqrt:
            stats = _totals.setdefault((f"{spec.name} (MKL sqrt)", np.dtype(dtype).name, label), {})
            compare(spec, torch_run(case_index, dtype, False), got, dtype, label, stats)
    assert not problems, "\n".join(problems[:20])


def teardown_module(module):
    if not REPORT:
        return
    print("\nshare of elements that differ from torch (vectorized body | torch's scalar tail):")
    for (opt, dtype, label), stats in sorted(_totals.items()):
        cells = []
        for (name, part), (bad, total) in sorted(stats.items()):
            cells.append(f"{name}.{part} {bad}/{total}")
        print(f"  {opt:15s} {dtype:8s} {label:26s} " + "; ".join(cells))
