"""The one table that drives the parity tests (as torch's common_optimizers.py does for torch.optim).

`OPTIMIZERS` describes each pygd function: the state arrays it takes, whether it takes a step count,
its torch.optim counterpart. `CASES` lists option combinations that together cover every flag.
The helpers allocate the arrays a case needs, make reproducible data, call pygd for step t, run the
float64 oracle (float64_reference.py), and compare with the tolerances explained below.
"""

import dataclasses
import functools
import importlib.util
import os
import tempfile

import numpy as np

import float64_reference
import pygd
import pygd.optim
from pygd import _validate
from pygd._specs import SPECS
from pygd._state_scalars import kernel_values

DTYPES = (np.float32, np.float64)
ISAS = tuple(pygd.info()["isas"])  # the levels this build and CPU run; empty without the extension
# Without the extension, test_runtime fails loudly and the rest checks the NumPy reference alone.
NATIVE = pygd.info()["native_error"] is None
BACKENDS = ("native", "reference") if NATIVE else ("reference",)
# The Numba backend (an optional extra) joins the backend-driven tests where numba is installed.
NUMBA = importlib.util.find_spec("numba") is not None
BACKENDS += ("numba",) if NUMBA else ()


def backends_for(case):
    """The backends that run `case`'s optimizer: pygd.numba has no factored one (Adafactor; it
    refuses it by name, which test_adafactor.py checks)."""
    return tuple(b for b in BACKENDS if b != "numba" or not case.opt.spec.factored)
# Minimum elements per thread (the native driver's grain) for tests that must really split work:
# with it, any call of >= 128 elements runs on 2 threads (the default, 32768, keeps small calls on one).
SMALL_GRAIN = 64


def subprocess_env(**overrides):
    """(env, cwd) for a `python -c` child that imports the same pygd as these tests: the directory
    holding the imported package first on its path, run from a directory that holds no other pygd
    (a source checkout's, without its built extension, would shadow an installed one)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(pygd.__file__)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYGD_", "OMP_NUM_THREADS"))}
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(overrides)
    return env, tempfile.gettempdir()


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """One row per optimizer, the table every test reads (as torch's optim_db): its functional
    step, its pygd.optim class, the torch.optim class it mirrors, and `torch_options`, options that
    switch on every state tensor and option path (the pygd.torch tests). Its streams and their
    torch state names are the spec's (pygd/_specs.py), held against the kernels at import; what the
    tests check them against is the float64 oracle (float64_reference.py) and torch itself."""
    name: str
    fn: object
    cls: object
    torch_options: dict

    @property
    def spec(self):
        return SPECS[self.name]

    @property
    def takes_step(self):
        return self.spec.takes_step

    @property
    def torch_name(self):
        return self.spec.torch_class

    def state_names(self, options):
        """The state arrays a call with `options` needs, by pygd argument name."""
        present = dict(self.spec.defaults, **options)
        return tuple(s.name for s in self.spec.streams[2:] if s.needed is None or s.needed(present[s.option]))


OPTIMIZERS = {o.name: o for o in (
    Optimizer("sgd", pygd.sgd_, pygd.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    Optimizer("adam", pygd.adam_, pygd.optim.Adam,
              dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.01)),
    Optimizer("adamw", pygd.adamw_, pygd.optim.AdamW, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    Optimizer("rmsprop", pygd.rmsprop_, pygd.optim.RMSprop,
              dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.01)),
    Optimizer("adagrad", pygd.adagrad_, pygd.optim.Adagrad,
              dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01)),
    Optimizer("adamax", pygd.adamax_, pygd.optim.Adamax,
              dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01)),
    Optimizer("radam", pygd.radam_, pygd.optim.RAdam,
              dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.01, decoupled_weight_decay=True)),
    Optimizer("adadelta", pygd.adadelta_, pygd.optim.Adadelta, dict(lr=0.5, rho=0.8, weight_decay=0.01)),
    Optimizer("rprop", pygd.rprop_, pygd.optim.Rprop, dict(lr=0.02, etas=(0.4, 1.3), step_sizes=(1e-4, 0.05))),
    Optimizer("lion", pygd.lion_, pygd.optim.Lion, {}),  # not torch's: no torch options
    Optimizer("asgd", pygd.asgd_, pygd.optim.ASGD, dict(lr=0.05, lambd=0.01, t0=2.0, weight_decay=0.01)),
    Optimizer("nadam", pygd.nadam_, pygd.optim.NAdam,
              dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.01, momentum_decay=0.01, decoupled_weight_decay=True)),
    Optimizer("lamb", pygd.lamb_, pygd.optim.LAMB, {}),  # not torch's either
    Optimizer("lars", pygd.lars_, pygd.optim.LARS, {}),
    Optimizer("adafactor", pygd.adafactor_, pygd.optim.Adafactor,
              dict(lr=0.05, beta2_decay=-0.5, eps=(None, 1e-2), d=1.5, weight_decay=0.1)),
)}
# The torch.optim classes pygd.torch replaces, and the options of each (the pygd.torch tests' table).
TORCH_NAMES = tuple(o.torch_name for o in OPTIMIZERS.values() if o.torch_name)
TORCH_OPTIONS = {o.torch_name: o.torch_options for o in OPTIMIZERS.values() if o.torch_name}

# Each functional state's torch.optim state name, from the optimizers' specs.
TORCH_STATE = {stream: state for spec in SPECS.values() for stream, state in spec.torch_states.items()}


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    optimizer: str
    options: dict
    # Initial value of a state (default 0). SGD's momentum buffer starts as NaN: it must be
    # overwritten, never read, at step 1. Adagrad's initial accumulator is whatever state_sums holds.
    init: dict = dataclasses.field(default_factory=dict)
    # Options the classes take but the functional step does not, as they only advance state scalars
    # (ASGD's lr, alpha, t0): they reach the oracle, the classes and the state scalars' values.
    class_options: dict = dataclasses.field(default_factory=dict)

    @property
    def opt(self):
        return OPTIMIZERS[self.optimizer]

    @property
    def state_names(self):
        return self.opt.state_names(self.options)

    def initial(self, name):
        """A state's initial value: the case's, else NaN for SGD's momentum buffer, else the value
        of the option its stream starts at (Rprop's step sizes: lr), else 0."""
        if name in self.init:
            return self.init[name]
        if name == "momentum_buffers" and self.optimizer == "sgd":
            return np.nan
        stream = next(s for s in self.opt.spec.streams if s.name == name)
        return self.opt.spec.defaults[stream.initial] if stream.initial else 0.0

    def new_states(self, shapes, dtype):
        """{state name: [array per shape]} filled with the case's initial values; of the stream's
        shape for the param (Adafactor's factors: _specs.Stream.shape), None where a param of that
        form has no such state."""
        rules = {s.name: s.shape for s in self.opt.spec.streams}

        def new(name, s):
            shape = _validate.factor_shape(tuple(s), rules[name])
            return None if shape is None else np.full(shape, self.initial(name), dtype)
        return {name: [new(name, s) for s in shapes] for name in self.state_names}

    def call(self, params, grads, states, t, backend=BACKENDS[0], **overrides):
        """One pygd step: `params`, `grads` and each state are an array or a list of arrays. A
        state scalar (NAdam's mu_product) has the value steps 1..t with these options give it."""
        kwargs = dict(self.options, backend=backend, **states, **overrides)
        if self.opt.takes_step:
            kwargs["step"] = t
        kwargs.update((name, value) for name, value in self.state_scalars(t, overrides).items()
                      if name not in overrides)
        self.opt.fn(params, grads, **kwargs)

    def state_scalars(self, t, overrides=None):
        """{state scalar: the value step t reads}, the options constant over the steps."""
        group = {**self.opt.spec.defaults, **self.torch_kwargs(), **(overrides or {})}
        return kernel_values(tuple(o.name for o in self.opt.spec.state_scalars), t, group)

    def torch_kwargs(self):
        """The case's options as the optimizer classes take them: a pair the functional step takes
        split (Rprop's step_size_min, step_size_max) as the pair, and the options that states
        start at (Adagrad's initial_accumulator_value, Rprop's lr) from the case's initial states."""
        options = dict(self.options, **self.class_options)
        for o in self.opt.spec.options:
            if o.functional_split:
                options[o.name] = tuple(options.pop(n, d) for n, d in zip(o.sets, o.default))
        for s in self.opt.spec.streams:
            if s.initial:
                options[s.initial] = self.initial(s.name)
        return options


def _case(optimizer, id, init=None, class_options=None, **options):
    return Case(f"{optimizer}-{id}", optimizer, options, init or {}, class_options or {})


CASES = [
    _case("sgd", "plain", lr=0.1),
    _case("sgd", "wd", lr=0.1, weight_decay=0.1),
    _case("sgd", "momentum", lr=0.1, momentum=0.9),
    _case("sgd", "dampening", lr=0.1, momentum=0.9, dampening=0.3),
    _case("sgd", "nesterov", lr=0.1, momentum=0.9, nesterov=True),
    _case("sgd", "maximize", lr=0.1, maximize=True),
    _case("sgd", "all", lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True),
    _case("adam", "plain", lr=1e-2),
    _case("adam", "wd", lr=1e-2, weight_decay=0.1),
    _case("adam", "amsgrad", lr=1e-2, amsgrad=True),
    _case("adam", "maximize", lr=1e-2, maximize=True),
    _case("adam", "all", lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True,
          maximize=True),
    # beta1 < 0.5: the moving average is a lerp from the gradient's end (torch.lerp's second branch).
    _case("adam", "low_betas", lr=1e-2, betas=(0.2, 0.6)),
    _case("adamw", "default", lr=1e-2),
    _case("adamw", "amsgrad", lr=1e-2, weight_decay=0.1, amsgrad=True),
    _case("adamw", "maximize", lr=1e-2, maximize=True),
    _case("rmsprop", "plain"),
    _case("rmsprop", "centered", centered=True),
    _case("rmsprop", "momentum", momentum=0.9),
    _case("rmsprop", "all", alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1, maximize=True),
    _case("rmsprop", "centered_low_alpha", alpha=0.3, centered=True),
    _case("adagrad", "plain", lr=0.1),
    _case("adagrad", "lr_decay", lr=0.1, lr_decay=0.05),
    _case("adagrad", "wd", lr=0.1, weight_decay=0.1),
    _case("adagrad", "maximize", lr=0.1, maximize=True),
    _case("adagrad", "init", {"state_sums": 0.5}, lr=0.1),
    _case("adamax", "plain", lr=1e-2),
    _case("adamax", "wd", lr=1e-2, weight_decay=0.1),
    _case("adamax", "maximize", lr=1e-2, maximize=True),
    _case("adamax", "all", lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, maximize=True),
    # beta1 < 0.5: the moving average is a lerp from the gradient's end (torch.lerp's second branch).
    _case("adamax", "low_betas", lr=1e-2, betas=(0.2, 0.6)),
    # RAdam rectifies once rho_t > 5: from step 6 with beta2 = 0.999, never with beta2 <= 2/3.
    _case("radam", "plain", lr=1e-2),
    _case("radam", "wd", lr=1e-2, weight_decay=0.1),
    _case("radam", "decoupled", lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
    _case("radam", "maximize", lr=1e-2, maximize=True),
    _case("radam", "all", lr=1e-2, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, decoupled_weight_decay=True,
          maximize=True),
    _case("radam", "never_rectified", lr=1e-2, betas=(0.2, 0.6)),
    _case("adadelta", "plain"),
    _case("adadelta", "lr", lr=0.1),
    _case("adadelta", "wd", weight_decay=0.1),
    _case("adadelta", "maximize", maximize=True),
    _case("adadelta", "all", lr=0.5, rho=0.3, eps=1e-4, weight_decay=0.1, maximize=True),
    _case("rprop", "plain"),
    _case("rprop", "etas", etas=(0.3, 1.5)),
    # Bounds that the step sizes reach within the test's steps, from either side.
    _case("rprop", "bounds", {"step_sizes": 0.05}, step_size_min=0.02, step_size_max=0.08),
    _case("rprop", "maximize", maximize=True),
    _case("rprop", "all", {"step_sizes": 0.02}, etas=(0.4, 1.3), step_size_min=1e-3, step_size_max=0.05,
          maximize=True),
    _case("lion", "plain"),
    _case("lion", "lr", lr=1e-3),
    _case("lion", "wd", lr=1e-3, weight_decay=0.1),
    _case("lion", "maximize", maximize=True),
    # beta1, beta2 < 0.5: both lerps from the gradient's end (torch.lerp's second branch).
    _case("lion", "all", lr=1e-3, betas=(0.2, 0.4), weight_decay=0.1, maximize=True),
    _case("nadam", "plain", lr=1e-2),
    _case("nadam", "wd", lr=1e-2, weight_decay=0.1),
    _case("nadam", "decoupled", lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
    _case("nadam", "momentum_decay", lr=1e-2, momentum_decay=0.1),
    _case("nadam", "maximize", lr=1e-2, maximize=True),
    _case("nadam", "all", lr=1e-2, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, momentum_decay=0.01,
          decoupled_weight_decay=True, maximize=True),
    _case("nadam", "low_betas", lr=1e-2, betas=(0.2, 0.6)),
    # t0 = 3: mu is 1 (ax copies the param) through step 4, then a running average.
    _case("asgd", "plain", class_options=dict(lr=0.05, t0=3.0)),
    _case("asgd", "lambd", lambd=0.1, class_options=dict(lr=0.05, alpha=0.5, t0=3.0)),
    _case("asgd", "wd", weight_decay=0.1, class_options=dict(lr=0.05, t0=3.0)),
    _case("asgd", "maximize", maximize=True, class_options=dict(lr=0.05, t0=3.0)),
    _case("asgd", "all", lambd=0.01, weight_decay=0.1, maximize=True, class_options=dict(lr=0.05, alpha=0.9, t0=1.0)),
    _case("asgd", "torch_defaults"),  # t0 = 1e6: ax is the param
    # Adafactor: its factored form for the table's matrices, its full variance for its vectors.
    _case("adafactor", "plain"),
    _case("adafactor", "wd", lr=0.05, weight_decay=0.1),
    _case("adafactor", "maximize", maximize=True),
    _case("adafactor", "all", lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.1,
          maximize=True),
    # LAMB and LARS: a trust ratio per tensor (optax's leaves), so every tensor of a case's list
    # gets its own; trust_ratio=False is optax's mask (the plain update).
    _case("lamb", "plain", lr=1e-2),
    _case("lamb", "wd", lr=1e-2, weight_decay=0.1),
    _case("lamb", "no_trust_ratio", lr=1e-2, weight_decay=0.1, trust_ratio=False),
    _case("lamb", "maximize", lr=1e-2, maximize=True),
    _case("lamb", "all", lr=1e-2, betas=(0.2, 0.6), eps=1e-4, weight_decay=0.1, maximize=True),
    _case("lars", "plain", lr=0.5),
    _case("lars", "no_momentum", lr=0.5, momentum=0.0),
    _case("lars", "wd", lr=0.5, weight_decay=0.1, eps=1e-3),
    _case("lars", "nesterov", lr=0.5, nesterov=True),
    _case("lars", "no_trust_ratio", lr=1e-2, weight_decay=0.1, trust_ratio=False),
    _case("lars", "maximize", lr=0.5, maximize=True),
    _case("lars", "all", lr=0.5, momentum=0.8, weight_decay=0.1, trust_coefficient=0.01, eps=1e-3, nesterov=True,
          maximize=True),
]
BY_ID = {c.id: c for c in CASES}
# The cases GPU backends run: the trust-ratio optimizers (LAMB, LARS) have no GPU kernels yet (the
# CUDA and Numba backends refuse them; test_cuda_device.py and test_numba_cuda.py check that).
GPU_CASES = [c for c in CASES if not c.opt.spec.trust_ratio and not c.opt.spec.factored]
# The most flag-heavy case of each optimizer: used where a test cannot afford the whole table.
HEAVY = [BY_ID[i] for i in ("sgd-all", "adam-all", "adamw-amsgrad", "rmsprop-all", "adagrad-lr_decay",
                                 "adamax-all", "radam-all", "adadelta-all", "rprop-all",
                                 "lion-all", "nadam-all", "asgd-all", "lamb-all", "lars-all",
                                 "adafactor-all")]
GPU_HEAVY = [c for c in HEAVY if not c.opt.spec.trust_ratio and not c.opt.spec.factored]


# ----------------------------------------------------------------------------- data

def _rng(seed, t, shape):
    return np.random.default_rng([seed, t, *shape, len(shape)])


def initial_params(shape, dtype, seed=0):
    """params ~ N(0, 1), rounded to dtype; the same for a given shape whatever the call."""
    return _rng(seed, 0, shape).standard_normal(shape).astype(dtype)


@functools.lru_cache(maxsize=256)
def _normal_draw(seed, t, shape):
    """The float64 draw behind grads_at, kept: the large tests take the same million-element
    grads for every case, ISA and run, and drawing them was most of those tests' time."""
    draw = _rng(seed, t, shape).standard_normal(shape)
    draw.flags.writeable = False
    return draw


def grads_at(shape, dtype, t, seed=0):
    """Fresh grads ~ N(0, 1) for step t (t >= 1): a new array each call (steps may write it)."""
    return _normal_draw(seed, t, tuple(shape)).astype(dtype)


def run(case, shapes, dtype, steps, *, backend=BACKENDS[0], multi=True, seed=0):
    """`steps` pygd steps from initial_params; returns (params, states) as lists per shape.

    multi=True: one call per step over the list of every tensor; False: one call per tensor.
    """
    params = [initial_params(s, dtype, seed) for s in shapes]
    states = case.new_states(shapes, dtype)
    for t in range(1, steps + 1):
        grads = [grads_at(s, dtype, t, seed) for s in shapes]
        if multi:
            case.call(params, grads, states, t, backend)
        else:
            for i in range(len(shapes)):
                case.call(params[i], grads[i], {k: v[i] for k, v in states.items()}, t, backend)
    return params, states


def _reference_one(case_id, shape, dtype, steps, seed):
    case = BY_ID[case_id]
    params = [initial_params(shape, dtype, seed).astype(np.float64)]
    states = {k: [None if v[0] is None else v[0].astype(np.float64)]
              for k, v in case.new_states([shape], dtype).items()}
    # Adafactor's eps1=None is the machine epsilon of the dtype pygd runs in, not float64's.
    run_dtype = {"dtype": np.dtype(dtype).type} if case.optimizer == "adafactor" else {}
    for t in range(1, steps + 1):
        grads = [grads_at(shape, dtype, t, seed).astype(np.float64)]
        float64_reference.step(case.optimizer, params, grads, states, t,
                               {**case.options, **case.class_options, **run_dtype})
    for a in [params[0], *(v[0] for v in states.values())]:
        if a is not None:
            a.setflags(write=False)  # may be cached: shared between tests
    return params[0], {k: v[0] for k, v in states.items()}


_cached_reference_one = functools.lru_cache(maxsize=1024)(_reference_one)


def reference(case, shapes, dtype, steps, seed=0, cached=True):
    """The float64 oracle for run(case, shapes, dtype, steps): (params, states) as run() returns.

    Cached per tensor (the data of a tensor depends only on its shape), unless cached=False: for
    big tensors, whose results would hold too much memory.
    """
    one = _cached_reference_one if cached else _reference_one
    results = [one(case.id, tuple(s), np.dtype(dtype).name, steps, seed) for s in shapes]
    return [r[0] for r in results], {k: [r[1][k] for r in results] for k in case.state_names}


# ----------------------------------------------------------------------------- tolerances
#
# pygd computes in the arrays' dtype T; the oracle in float64 from the same T-rounded inputs. Each
# rounded operation of T adds a relative error of at most u = unit roundoff (2**-24 for float32,
# 2**-53 for float64). One step of any optimizer here rounds at most ~8 times on the path into a
# parameter or a state (negate, weight decay, EMA, square, sqrt, divide, scale, subtract), and every
# recurrence is contractive (EMA weights < 1; parameters move by lr-scaled terms), so errors add up
# at most linearly over n steps: |error| <~ 8·n·u × the size of the values involved. The choices
# that differ between ISAs (FMA on AVX2 vs unfused on the scalar path) and the host narrowing lr,
# betas, ... to T only change which roundings happen, not their size. Hence
#
#     |got - ref| <= rtol · (|ref| + rms(ref)),    rtol = 8 · n · u · sources
#
# The rms(ref) term (over all tensors of one stream) is the absolute part: it covers elements whose
# value cancelled to ~0 (an EMA of random-sign grads), whose error is set by the magnitude of the
# terms that cancelled, not by their own. `sources` = 2 when both sides are T approximations (torch
# vs pygd). For 20 steps: float32 rtol = 9.5e-6, float64 rtol = 1.8e-14. The largest error
# measured over the whole table is ~1/8 of the bound (adam-all, float32: 19 u against 160 u); the
# float64 bound is ~1e-13 relative, so any deviation from the formulas (eps inside the sqrt, an
# off-by-one step count, dampening on the first step) fails by orders of magnitude.

OPS_PER_STEP = 8


def rtol(dtype, steps, sources=1):
    return OPS_PER_STEP * steps * sources * float(np.finfo(dtype).eps) / 2


def _flat(arrays):
    # None: a state the param's form does not have (Adafactor's)
    return np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays if a is not None] or [np.zeros(0)])


def assert_close(got, ref, dtype, steps, what="", sources=1, slack=None):
    """got, ref: lists of arrays (one stream over several tensors). NaN must match NaN.

    slack: optional arrays like ref, an absolute allowance per element added to the bound.
    """
    got, ref = _flat(got), _flat(ref)
    slack = np.zeros_like(ref) if slack is None else _flat(slack)
    assert got.shape == ref.shape, what
    assert np.array_equal(np.isnan(got), np.isnan(ref)), f"{what}: NaN pattern differs"
    finite = np.isfinite(ref)
    infinite = np.isinf(ref)
    assert np.array_equal(got[infinite], ref[infinite]), f"{what}: infinities differ"
    got, ref, slack = got[finite], ref[finite], slack[finite]
    if ref.size == 0:
        return
    tol = rtol(dtype, steps, sources)
    bound = tol * (np.abs(ref) + np.sqrt(np.mean(ref * ref))) + slack
    err = np.abs(got - ref)
    worst = int(np.argmax(err - bound))
    assert err[worst] <= bound[worst], (
        f"{what}: |got - ref| = {err[worst]:.3g} > {bound[worst]:.3g} at {worst} "
        f"(got {got[worst]!r}, ref {ref[worst]!r}, rtol {tol:.2g}); "
        f"{int(np.sum(err > bound))} of {ref.size} elements out of tolerance")


def assert_run_close(case, got, ref, dtype, steps, sources=1):
    """got, ref: (params, states) pairs from run() / reference()."""
    assert_close(got[0], ref[0], dtype, steps, f"{case.id} params", sources)
    for name in case.state_names:
        assert_close(got[1][name], ref[1][name], dtype, steps, f"{case.id} {name}", sources)


def assert_bitwise(a, b, what=""):
    """a, b: (params, states) pairs; every array bit-for-bit equal."""
    pairs = [("params", a[0], b[0])] + [(k, a[1][k], b[1][k]) for k in a[1]]
    for name, xs, ys in pairs:
        for i, (x, y) in enumerate(zip(xs, ys)):
            if x is None or y is None:  # a state of the other form (Adafactor's): absent in both
                assert x is None and y is None, f"{what}: {name}[{i}] is None on one side only"
                continue
            assert x.tobytes() == y.tobytes(), f"{what}: {name}[{i}] differs bitwise"
