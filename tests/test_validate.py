"""Bad input: the exception type, a message naming the argument, identical on both backends, and
every array bit-for-bit unchanged. Then the inputs that look odd but are valid."""

import numpy as np
import pytest

from cases import (
    BACKENDS,
    CASES,
    OPTIMIZERS,
    assert_close,
    assert_run_close,
    backends_for,
    reference,
    run,
)


def make(optimizer="adam", n=2, shape=(5,), dtype=np.float32, **options):
    """A valid call of `optimizer` as (function, kwargs), with fresh N(0, 1) arrays."""
    opt = OPTIMIZERS[optimizer]
    rng = np.random.default_rng(7)

    def arrays():
        return [rng.standard_normal(shape).astype(dtype) for _ in range(n)]

    kwargs = {"params": arrays(), "grads": arrays(), **{s: arrays() for s in opt.state_names(options)},
              **options}
    if opt.takes_step:
        kwargs.setdefault("step", 1)
    for o in opt.spec.state_scalars:  # NAdam's mu_product: a valid value
        kwargs.setdefault(o.name, 0.5)
    return opt.fn, kwargs


def variant(edit=None, optimizer="adam", **options):
    """A builder of the call make(optimizer, **options), then changed in place by edit(kwargs)."""
    def build():
        fn, kwargs = make(optimizer, **options)
        if edit is not None:
            edit(kwargs)
        return fn, kwargs
    return build


def put(stream, index, new):
    """An edit: kwargs[stream][index] = new(that array, kwargs); index None replaces the stream."""
    def edit(kwargs):
        if index is None:
            kwargs[stream] = new(kwargs.get(stream), kwargs)
        else:
            kwargs[stream][index] = new(kwargs[stream][index], kwargs)
    return edit


def drop(stream):
    return lambda kwargs: kwargs.pop(stream)


def as_dtype(dtype):
    return lambda a, kw: a.astype(dtype)


def read_only(a, kw):
    a.setflags(write=False)
    return a


def same_as(stream, index):
    return lambda a, kw: kw[stream][index] if index is not None else kw[stream]


def misaligned(a, kw):
    raw = np.frombuffer(bytearray(a.nbytes + 1), np.uint8)[1:]
    out = raw.view(a.dtype)  # a writable array at an odd address
    out[...] = a
    return out


def overlapping_params(kwargs):
    buf = np.arange(15, dtype=np.float32)
    kwargs["params"] = [buf[0:10], buf[5:15]]
    for name in ("grads", "exp_avgs", "exp_avg_sqs"):
        kwargs[name] = [np.zeros(10, np.float32) for _ in range(2)]


def bare(kwargs):
    for name, value in kwargs.items():
        if isinstance(value, list):
            kwargs[name] = value[0]


def chain(*edits):
    def edit(kwargs):
        for e in edits:
            e(kwargs)
    return edit


P = pytest.param
BAD_ARRAYS = [
    # dtype
    P(variant(put("params", 0, as_dtype(np.int32))), TypeError, r"params\[0\] has dtype <i4", id="int-param"),
    P(variant(put("exp_avgs", 1, as_dtype(np.int64))), TypeError, r"exp_avgs\[1\] has dtype <i8",
      id="int-state"),
    P(variant(put("grads", 0, as_dtype(np.float16))), TypeError, r"grads\[0\] has dtype float16",
      id="float16-grad"),
    P(variant(put("params", 1, as_dtype(np.float64))), TypeError,
      r"params\[1\] has dtype float64 but params\[0\] has float32", id="mixed-params"),
    P(variant(put("grads", 0, as_dtype(np.float64))), TypeError,
      r"grads\[0\] has dtype float64 but params\[0\] has float32", id="grad-vs-param-dtype"),
    P(variant(put("exp_avg_sqs", 1, as_dtype(np.float32)), dtype=np.float64), TypeError,
      r"exp_avg_sqs\[1\] has dtype float32 but params\[1\] has float64", id="state-vs-param-dtype"),
    P(variant(put("params", 0, as_dtype(">f4"))), TypeError, r"params\[0\] has dtype >f4",
      id="big-endian-param"),
    P(variant(put("max_exp_avg_sqs", 1, as_dtype(">f4")), amsgrad=True), TypeError,
      r"max_exp_avg_sqs\[1\] has dtype >f4", id="big-endian-state"),
    # shape
    P(variant(put("grads", 1, lambda a, kw: np.zeros(6, a.dtype))), ValueError,
      r"grads\[1\] has shape \(6,\) but params\[1\] has shape \(5,\)", id="shape-grad"),
    P(variant(put("exp_avg_sqs", 0, lambda a, kw: a.reshape(1, 5))), ValueError,
      r"exp_avg_sqs\[0\] has shape \(1, 5\) but params\[0\] has shape \(5,\)", id="shape-state"),
    P(variant(chain(bare, put("state_sums", None, lambda a, kw: np.zeros(4, a.dtype))), "adagrad"), ValueError,
      r"state_sums has shape \(4,\) but params has shape \(5,\)", id="shape-bare-arrays"),
    # layout and writability
    P(variant(put("params", 0, lambda a, kw: np.repeat(a, 2)[::2])), ValueError,
      r"params\[0\] is not C-contiguous", id="strided-param"),
    P(variant(put("grads", 1, lambda a, kw: np.repeat(a, 2)[::2])), ValueError,
      r"grads\[1\] is not C-contiguous", id="strided-grad"),
    P(variant(put("square_avgs", 0, lambda a, kw: np.zeros((5, 2), np.float32).T), "rmsprop", shape=(2, 5)),
      ValueError, r"square_avgs\[0\] is not C-contiguous", id="transposed-state"),
    P(variant(put("params", 1, misaligned)), ValueError, r"params\[1\] is not aligned", id="misaligned-param"),
    P(variant(put("params", 1, read_only)), ValueError, r"params\[1\] is read-only", id="read-only-param"),
    P(variant(put("exp_avgs", 0, read_only)), ValueError, r"exp_avgs\[0\] is read-only", id="read-only-state"),
    # lists
    P(variant(lambda kw: kw["grads"].pop()), ValueError, r"grads has 1 arrays but params has 2",
      id="short-grads"),
    P(variant(lambda kw: kw["exp_avgs"].append(kw["exp_avgs"][0].copy())), ValueError,
      r"exp_avgs has 3 arrays but params has 2", id="long-state"),
    P(variant(put("grads", 1, lambda a, kw: a.tolist())), TypeError,
      r"grads\[1\] must be a numpy.ndarray, got list", id="list-element"),
    P(variant(put("exp_avgs", None, lambda a, kw: {})), TypeError,
      r"exp_avgs must be a numpy.ndarray or a list/tuple of them, got dict", id="dict-stream"),
    P(variant(put("params", None, lambda a, kw: 3)), TypeError,
      r"params must be a numpy.ndarray or a list/tuple of them, got int", id="int-stream"),
    P(variant(put("params", None, lambda a, kw: None)), TypeError, r"params must be", id="params-none"),
    P(variant(put("grads", None, lambda a, kw: None)), TypeError, r"grads must be", id="grads-none"),
    P(variant(put("exp_avg_sqs", None, lambda a, kw: None)), TypeError, r"exp_avg_sqs must be",
      id="state-none"),
    # aliasing between arrays the step writes
    P(variant(put("exp_avgs", 0, same_as("params", 0))), ValueError,
      r"params\[0\] and exp_avgs\[0\] share memory", id="param-is-own-state"),
    P(variant(put("grads", 0, same_as("params", 0))), ValueError,
      r"params\[0\] and grads\[0\] share memory", id="param-is-own-grad"),
    P(variant(put("params", 1, same_as("params", 0))), ValueError,
      r"params\[0\] and params\[1\] share memory", id="param-twice"),
    P(variant(overlapping_params), ValueError, r"params\[0\] and params\[1\] share memory",
      id="overlapping-views"),
    P(variant(put("grads", 1, same_as("exp_avgs", 0))), ValueError,
      r"grads\[1\] and exp_avgs\[0\] share memory", id="grad-is-a-state"),
    P(variant(chain(bare, put("state_sums", None, same_as("params", None))), "adagrad"), ValueError,
      r"params and state_sums share memory", id="bare-param-is-own-state"),
    # missing states
    P(variant(drop("momentum_buffers"), "sgd", momentum=0.9), ValueError,
      r"momentum_buffers is required when momentum != 0", id="sgd-momentum-without-buffers"),
    P(variant(drop("max_exp_avg_sqs"), amsgrad=True), ValueError,
      r"max_exp_avg_sqs is required when amsgrad=True", id="amsgrad-without-max"),
    P(variant(drop("max_exp_avg_sqs"), "adamw", amsgrad=True), ValueError,
      r"max_exp_avg_sqs is required when amsgrad=True", id="adamw-amsgrad-without-max"),
    P(variant(drop("grad_avgs"), "rmsprop", centered=True), ValueError,
      r"grad_avgs is required when centered=True", id="centered-without-grad-avgs"),
    P(variant(drop("momentum_buffers"), "rmsprop", momentum=0.5), ValueError,
      r"momentum_buffers is required when momentum > 0", id="rmsprop-momentum-without-buffers"),
]


def hyper(optimizer, exc, match, id, marks=(), **options):
    return P(variant(None, optimizer, **options), exc, match, id=f"{optimizer}-{id}", marks=marks)


NAN = float("nan")
STEPPED = [o for o in OPTIMIZERS if OPTIMIZERS[o].takes_step]
# The optimizers whose functional step takes an option (Rprop's lr only starts its step sizes).
TAKING = {name: [o for o in OPTIMIZERS if any(x.name == name and x.functional for x in OPTIMIZERS[o].spec.options)]
          for name in ("lr", "weight_decay")}
WITH_EPS = ("adam", "adamw", "rmsprop", "adagrad", "adamax", "radam", "adadelta", "nadam", "lamb", "lars")
BAD_HYPERPARAMETERS = [
    *(hyper(o, ValueError, r"lr must be >= 0", "lr-negative", lr=-1e-3) for o in TAKING["lr"]),
    *(hyper(o, ValueError, r"lr must be >= 0", "lr-nan", lr=NAN) for o in TAKING["lr"]),
    *(hyper(o, TypeError, r"lr must be a real number", "lr-string", lr="0.1")
      for o in TAKING["lr"]),
    *(hyper(o, TypeError, r"lr must be a real number", "lr-word", lr="fast") for o in TAKING["lr"]),
    *(hyper(o, TypeError, r"lr must be a real number", "lr-none", lr=None) for o in TAKING["lr"]),
    *(hyper(o, ValueError, r"weight_decay must be >= 0", "wd-negative", weight_decay=-0.1)
      for o in TAKING["weight_decay"]),
    *(hyper("rprop", ValueError, r"etas must satisfy 0 < etas\[0\] < 1 < etas\[1\]", f"etas-{v}", etas=v)
      for v in ((0.5, 0.9), (1.0, 1.2), (0.0, 1.2), (0.5, NAN))),
    hyper("rprop", TypeError, r"etas must be a pair", "etas-scalar", etas=0.5),
    *(hyper("rprop", ValueError, r"step sizes must satisfy 0 <= step_size_min <= step_size_max",
            f"step_sizes-{a}-{b}", step_size_min=a, step_size_max=b)
      for a, b in ((-1.0, 1.0), (0.2, 0.1), (NAN, 1.0), (0.0, NAN))),
    hyper("rprop", TypeError, r"step_size_max must be a real number", "step_size_max-string", step_size_max="1"),
    *(hyper("nadam", ValueError, r"mu_product must be in \[0, 1\]", f"mu_product-{v}", mu_product=v)
      for v in (1.5, -0.1, NAN)),
    hyper("nadam", TypeError, r"mu_product must be a real number", "mu_product-none", mu_product=None),
    hyper("nadam", ValueError, r"momentum_decay must be >= 0", "momentum_decay-negative", momentum_decay=-1.0),
    *(hyper("adadelta", ValueError, r"rho must be in \[0, 1\]", f"rho-{v}", rho=v) for v in (1.5, -0.1, NAN)),
    *(hyper("adafactor", ValueError, r"beta2_decay must be <= 0", f"beta2_decay-{v}", beta2_decay=v)
      for v in (0.5, NAN)),
    *(hyper("adafactor", ValueError, r"d must be >= 1", f"d-{v}", d=v) for v in (0.5, NAN)),
    *(hyper("adafactor", ValueError, rf"eps\[{i}\] must be >= 0", f"adafactor-eps{i + 1}-{v}",
            eps=(v, 1e-3) if i == 0 else (None, v)) for i in (0, 1) for v in (-1e-3, NAN)),
    hyper("adafactor", TypeError, r"eps must be a pair", "adafactor-eps-scalar", eps=1e-3),
    hyper("adafactor", TypeError, r"eps\[0\] must be a real number", "adafactor-eps1-word", eps=("x", 1e-3)),
    *(hyper(o, ValueError, r"eps must be >= 0", f"eps-{v}", eps=v) for o in WITH_EPS for v in (-1e-8, NAN)),
    *(hyper(o, ValueError, rf"betas\[{i}\] must be in \[0, 1\)", f"beta{i + 1}-{v}",
            betas=(v, 0.999) if i == 0 else (0.9, v))
      for o in ("adam", "adamw", "adamax", "radam", "lion", "nadam", "lamb") for i in (0, 1) for v in (1.0, -0.1, NAN)),
    hyper("adam", TypeError, r"betas must be a pair", "betas-scalar", betas=0.9),
    hyper("adam", TypeError, r"betas must be a pair", "betas-triple", betas=(0.9, 0.99, 0.999)),
    *(hyper(o, ValueError, r"momentum must be >= 0", "momentum-negative", momentum=-0.1)
      for o in ("sgd", "rmsprop", "lars")),
    *(hyper("lars", ValueError, r"trust_coefficient must be >= 0", f"trust_coefficient-{v}", trust_coefficient=v)
      for v in (-0.001, NAN)),
    *(hyper("rmsprop", ValueError, r"alpha must be in \[0, 1\]", f"alpha-{v}", alpha=v)
      for v in (1.5, -0.1, NAN)),
    hyper("adagrad", ValueError, r"lr_decay must be >= 0", "lr_decay-negative", lr_decay=-0.1),
    hyper("sgd", ValueError, r"nesterov=True requires momentum > 0", "nesterov-no-momentum", nesterov=True),
    hyper("sgd", ValueError, r"nesterov=True requires momentum > 0 and dampening == 0", "nesterov-dampening",
          nesterov=True, momentum=0.9, dampening=0.1),
    hyper("sgd", ValueError, r"dampening must not be NaN", "dampening-nan", momentum=0.9, dampening=NAN),
    *(hyper(o, ValueError, r"step must be >= 1", f"step-{s}", step=s) for o in STEPPED for s in (0, -1)),
    *(hyper(o, ValueError, r"step must be >= 1 and < 2\*\*62", "step-2**62", step=2**62) for o in STEPPED),
    *(hyper(o, TypeError, r"step must be an integer", f"step-{s}", step=s)
      for o in STEPPED for s in (1.5, 2.0, True)),
    hyper("adam", TypeError, r"unexpected keyword argument 'beta1'", "unknown-keyword", beta1=0.9),
    hyper("rmsprop", TypeError, r"unexpected keyword argument 'step'", "rmsprop-step", step=1),
    *(hyper(o, ValueError,
            r"backend must be one of \('auto', 'native', 'numba', 'cuda', 'reference'\), got 'gpu'",
            "unknown-backend", backend="gpu") for o in OPTIMIZERS),
    *(hyper(o, ValueError, r"backend='cuda' updates arrays on a GPU .* these params are in host memory",
            "cuda-with-host-arrays", backend="cuda") for o in OPTIMIZERS),
    hyper("sgd", ValueError, r"backend must be one of .*, got None", "backend-none", backend=None),
]


def _arrays(obj):
    """Every ndarray reachable from a call's kwargs (and the base of each view)."""
    if isinstance(obj, np.ndarray):
        return [obj] + ([obj.base] if isinstance(obj.base, np.ndarray) else [])
    if isinstance(obj, (list, tuple)):
        return [a for x in obj for a in _arrays(x)]
    if isinstance(obj, dict):
        return [a for x in obj.values() for a in _arrays(x)]
    return []


@pytest.mark.parametrize("build, exc, match", BAD_ARRAYS + BAD_HYPERPARAMETERS)
def test_bad_input_raises_and_writes_nothing(build, exc, match):
    messages = []
    for backend in BACKENDS:
        fn, kwargs = build()
        kwargs.setdefault("backend", backend)
        before = [(a, a.tobytes()) for a in _arrays(kwargs)]
        with pytest.raises(exc, match=match) as raised:
            fn(**kwargs)
        for a, data in before:
            assert a.tobytes() == data, f"{backend}: an array changed although the call was rejected"
        messages.append(str(raised.value))
    assert len(set(messages)) == 1, f"the backends word the error differently: {messages}"


# ----------------------------------------------------------------------------- valid but unusual

def _same_on_both_backends(build):
    """Runs the call on both backends: it must update every param, and the backends agree."""
    results = []
    for backend in BACKENDS:
        fn, kwargs = build()
        params = _arrays(kwargs["params"])
        before = [p.copy() for p in params]
        fn(**kwargs, backend=backend)
        assert all((p != b).all() for p, b in zip(params, before)), f"{backend} left a param unchanged"
        results.append([a.copy() for a in _arrays({k: v for k, v in kwargs.items() if k != "grads"})])
    for other in results[1:]:
        for got, ref in zip(other, results[0]):
            assert_close([got], [ref], got.dtype, 1, sources=2)


def _grads_share(kwargs):
    kwargs["grads"][1] = kwargs["grads"][0]


def _grads_overlap(kwargs):
    buf = np.linspace(0.5, 1.5, 15, dtype=np.float32)  # no zero grad: every param moves
    kwargs["params"] = [np.ones(10, np.float32) for _ in range(2)]
    kwargs["grads"] = [buf[0:10], buf[5:15]]
    for name in ("exp_avgs", "exp_avg_sqs"):
        kwargs[name] = [np.zeros(10, np.float32) for _ in range(2)]


def _read_only_grads(kwargs):
    for g in kwargs["grads"]:
        g.setflags(write=False)


def _tuples(kwargs):
    kwargs.update({k: tuple(v) for k, v in kwargs.items() if isinstance(v, list)})


@pytest.mark.parametrize("edit", [_read_only_grads, _grads_share, _grads_overlap, bare, _tuples],
                         ids=["read-only-grads", "grads-share-memory", "grads-overlap", "bare-arrays",
                              "tuples"])
def test_valid_unusual_arrays(edit):
    _same_on_both_backends(variant(edit))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("empty", ["list", "array"])
def test_empty_is_a_no_op(case, empty):
    for backend in backends_for(case):
        if empty == "list":
            case.call([], [], {k: [] for k in case.state_names}, 1, backend)
        else:
            params, grads = np.zeros(0, np.float32), np.zeros(0, np.float32)
            states = {k: np.zeros(0, np.float32) for k in case.state_names}
            case.call(params, grads, states, 1, backend)
            assert params.shape == (0,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_any_number_of_dimensions(case, dtype):
    shapes = [(), (3, 4), (2, 3, 5), (1, 1, 1, 9)]
    for backend in backends_for(case):
        got = run(case, shapes, dtype, 3, backend=backend)
        assert [p.shape for p in got[0]] == shapes
        assert_run_close(case, got, reference(case, shapes, dtype, 3), dtype, 3)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_nan_and_inf_grads_propagate(case):
    """A NaN or inf grad makes that parameter non-finite (NaN for a NaN grad), touches no other
    element, crashes nothing; native and reference agree on every element. Rprop steps by the
    grad's sign alone, NaN's being 0 (torch.sign's): its params stay finite, a NaN grad's unmoved.
    (Lion's sign is NaN for NaN, and an inf grad's momentum makes the next step's NaN. LAMB's and
    LARS's trust ratio is NaN then, which makes the whole tensor NaN, unless trust_ratio=False.)"""
    size, bad_at = 21, {0: np.nan, 9: np.inf, 20: -np.inf}  # in a SIMD vector and in the tail
    results = []
    for backend in backends_for(case):
        params = [np.linspace(-1, 1, size, dtype=np.float32)]
        states = case.new_states([(size,)], np.float32)
        for t in (1, 2):
            grads = [np.full(size, 0.5, np.float32)]
            if t == 1:
                for i, v in bad_at.items():
                    grads[0][i] = v
            case.call(params, grads, states, t, backend)
        p = params[0]
        if case.optimizer == "rprop":
            assert np.isfinite(p).all(), backend
        elif case.opt.spec.trust_ratio and case.options.get("trust_ratio", True):
            # The tensor's norms are NaN, so its trust ratio is, and so every param (as optax's).
            assert np.isnan(p).all(), backend
        else:
            assert np.isnan(p[0]), backend
            assert not np.isfinite(p[list(bad_at)]).any(), backend
            assert np.isfinite(np.delete(p, list(bad_at))).all(), backend
        results.append((params, states))
    for params, states in results[1:]:
        assert_close(params, results[0][0], np.float32, 2, "params", sources=2)
        for name in case.state_names:
            assert_close(states[name], results[0][1][name], np.float32, 2, name, sources=2)


# ----------------------------------------------------------------------------- the same words in pygd.optim

_ARRAY_ARGUMENTS = {"params", "grads", *(s for o in OPTIMIZERS.values() for s in o.spec.stream_names)}
_CLASS_CASES = []
for _case in BAD_HYPERPARAMETERS:
    _fn, _kwargs = _case.values[0]()
    _options = {k: v for k, v in _kwargs.items() if k not in _ARRAY_ARGUMENTS | {"step"}}
    # What a class takes: its options (a class has no step argument, and its backend is checked
    # when it steps for the arrays' location; an unknown keyword is worded by Python).
    _name = next(o.name for o in OPTIMIZERS.values() if o.fn is _fn)
    _step = _kwargs.get("step", 1 if OPTIMIZERS[_name].takes_step else None)
    if _step != (1 if OPTIMIZERS[_name].takes_step else None) or type(_step) is bool \
            or "backend" in _options or "beta1" in _options:
        continue
    if not set(_options) <= set(OPTIMIZERS[_name].spec.defaults):
        continue
    _CLASS_CASES.append(P(_name, _options, id=_case.id))


@pytest.mark.parametrize("name, options", _CLASS_CASES)
def test_a_class_words_a_bad_option_as_its_step(name, options):
    """The same bad option, given to the functional step and to the pygd.optim class: the same
    exception, in the same words."""
    opt = OPTIMIZERS[name]
    fn, kwargs = make(name, **options)
    with pytest.raises((TypeError, ValueError)) as step:
        fn(**kwargs)
    with pytest.raises(type(step.value)) as constructor:
        opt.cls([np.zeros(3, np.float32)], **options)
    assert str(constructor.value) == str(step.value)
