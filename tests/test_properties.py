"""Property tests: any shapes, list lengths, dtypes, optimizers and hyperparameters (valid or not).

A call never crashes: it either matches the float64 oracle within the tolerance of cases.py, or
raises a clean TypeError/ValueError, worded the same by both backends, with every array unchanged.
Each drawn value carries whether it is valid, so the test also knows which of the two must happen.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import float64_reference
from cases import BACKENDS, ISAS, OPS_PER_STEP, OPTIMIZERS, assert_close, rtol

NAN = float("nan")


def hp(good, *bad):
    """A hyperparameter: a strategy of valid values, and invalid values."""
    return good, bad


# Valid ranges keep every update well conditioned (no cancellation beyond a factor ~2), so the
# tolerance of cases.py applies. Left out, though valid: eps = 0 (0/0 where a grad is 0); alpha < 0.8
# (centered: v - g_avg² cancels); beta2 < 0.5: sqrt(v) then forgets all but the last |g|, however
# small, and Adam's steps lr·m/sqrt(v) grow without bound, so rounding errors scale with steps much
# larger than the final values. beta1 < 0.5 (the lerp's second branch, g - (g - m)·beta1) is checked
# by the table's adam-low_betas case instead.
LR = hp(st.floats(0.0, 0.1), -1e-3, NAN, -math.inf, "fast", None)
WEIGHT_DECAY = hp(st.sampled_from([0.0, 1e-3, 0.1, 0.2]), -0.1, NAN)
EPS = hp(st.sampled_from([1e-10, 1e-8, 1e-3]), -1e-8, NAN)
MOMENTUM = hp(st.sampled_from([0.0, 0.5, 0.9, 0.95]), -0.5, NAN)
BETA = st.floats(0.5, 0.999)
STEP = hp(st.sampled_from([1, 2, 10, 10**6]), 0, -1, 1.5)
HYPERPARAMETERS = {
    "sgd": dict(lr=LR, weight_decay=WEIGHT_DECAY, momentum=MOMENTUM,
                dampening=hp(st.sampled_from([0.0, 0.1, 0.5]), NAN), nesterov=hp(st.booleans()), step=STEP),
    "adam": dict(lr=LR, weight_decay=WEIGHT_DECAY, eps=EPS, amsgrad=hp(st.booleans()), step=STEP,
                 betas=hp(st.tuples(BETA, BETA), (1.0, 0.9), (0.9, 1.0), (-0.1, 0.9), (0.9, NAN), 0.9)),
    "rmsprop": dict(lr=LR, weight_decay=WEIGHT_DECAY, eps=EPS, momentum=MOMENTUM,
                    alpha=hp(st.sampled_from([0.8, 0.9, 0.99, 1.0]), 1.5, -0.1, NAN),
                    centered=hp(st.booleans())),
    "adagrad": dict(lr=LR, weight_decay=WEIGHT_DECAY, eps=EPS, step=STEP,
                    lr_decay=hp(st.sampled_from([0.0, 0.01, 0.5]), -0.1, NAN)),
}
HYPERPARAMETERS["adamw"] = HYPERPARAMETERS["adam"]
HYPERPARAMETERS["adamax"] = {k: v for k, v in HYPERPARAMETERS["adam"].items() if k != "amsgrad"}
HYPERPARAMETERS["adadelta"] = dict(lr=LR, weight_decay=WEIGHT_DECAY, eps=EPS,
                                   rho=hp(st.sampled_from([0.5, 0.9, 0.99]), 1.5, -0.1, NAN))
HYPERPARAMETERS["rprop"] = dict(etas=hp(st.sampled_from([(0.5, 1.2), (0.3, 1.5)]), (1.0, 1.2), (0.5, 0.9)),
                                step_size_max=hp(st.sampled_from([50.0, 0.1]), NAN))
HYPERPARAMETERS["lion"] = dict(lr=LR, weight_decay=WEIGHT_DECAY,
                               betas=hp(st.tuples(BETA, BETA), (1.0, 0.9), (0.9, NAN), 0.9))
HYPERPARAMETERS["nadam"] = dict(HYPERPARAMETERS["adamax"], decoupled_weight_decay=hp(st.booleans()),
                                momentum_decay=hp(st.sampled_from([0.0, 4e-3, 0.1]), -1.0, NAN),
                                mu_product=hp(st.sampled_from([0.9, 0.5, 1e-3]), 1.5, NAN))
HYPERPARAMETERS["asgd"] = dict(weight_decay=WEIGHT_DECAY, lambd=hp(st.sampled_from([0.0, 1e-4, 0.1]), -1.0, NAN),
                               eta=hp(st.sampled_from([1e-3, 0.05]), -1.0, NAN),
                               mu=hp(st.sampled_from([1.0, 0.5, 0.01]), -1.0, NAN))
HYPERPARAMETERS["radam"] = dict(HYPERPARAMETERS["adamax"], decoupled_weight_decay=hp(st.booleans()))
HYPERPARAMETERS["lamb"] = dict(lr=LR, weight_decay=WEIGHT_DECAY, eps=EPS, step=STEP, trust_ratio=hp(st.booleans()),
                               betas=hp(st.tuples(BETA, BETA), (1.0, 0.9), (0.9, NAN), 0.9))
# LARS's momentum buffer holds lr-scaled steps: an lr near 0 makes it subnormal in float32, where
# rounding is absolute, not relative; so lr from a few values here.
HYPERPARAMETERS["lars"] = dict(lr=hp(st.sampled_from([0.0, 1e-3, 0.1, 1.0]), *LR[1]), weight_decay=WEIGHT_DECAY,
                               momentum=MOMENTUM, nesterov=hp(st.booleans()),
                               trust_ratio=hp(st.booleans()), eps=hp(st.sampled_from([0.0, 1e-8, 1e-3]), -1e-8, NAN),
                               trust_coefficient=hp(st.sampled_from([0.001, 0.02, 1.0]), -0.001, NAN))

SHAPES = st.one_of(st.just(()), st.tuples(st.integers(0, 40)), st.tuples(st.integers(0, 300)),
                   st.tuples(st.integers(0, 4), st.integers(0, 9)),
                   st.tuples(st.integers(1, 3), st.integers(0, 3), st.integers(1, 5)))
# Changes to the arrays that make a call invalid (where they apply: see corrupt()).
CORRUPTIONS = ["int-dtype", "other-float", "shape", "read-only-param", "strided", "alias", "length"]


def corrupt(kind, call, rng):
    """Breaks `call` (dict of streams, each a list of arrays) so that it must be rejected; returns
    False (leaving it intact) when this kind cannot apply to these arrays."""
    names = [k for k in call if k != "grads"]
    sized = [i for i, p in enumerate(call["params"]) if p.size >= 2]
    n = len(call["params"])
    if kind == "length":
        call["grads"].append(np.zeros(3, call["params"][0].dtype if n else np.float32))
        return True
    if n == 0:
        return False
    i = int(rng.integers(n))
    stream = names[int(rng.integers(len(names)))]
    a = call[stream][i]
    if kind == "int-dtype":
        call[stream][i] = a.astype(np.int32)
    elif kind == "other-float":
        call[stream][i] = a.astype(np.float64 if a.dtype == np.float32 else np.float32)
    elif kind == "shape":
        call[stream][i] = np.zeros(a.shape + (1,), a.dtype)
    elif kind == "read-only-param":
        call["params"][i].setflags(write=False)
    elif not sized:
        return False  # views of 0 or 1 element are contiguous, and empty arrays share no memory
    elif kind == "strided":
        i = sized[int(rng.integers(len(sized)))]
        stream = (names + ["grads"])[int(rng.integers(len(names) + 1))]
        src = call[stream][i]
        strided = np.repeat(src, 2).reshape(src.shape + (2,))[..., 0]
        call[stream][i] = strided
    elif kind == "alias":
        i = sized[int(rng.integers(len(sized)))]
        other = [k for k in names if k != "params"] or ["params"]
        target = other[int(rng.integers(len(other)))]
        if target == "params":
            call["params"].append(call["params"][i])
            for k in call:
                if k != "params":
                    call[k].append(call[k][i].copy())
        else:
            call[target][i] = call["params"][i]
    return True


@st.composite
def calls(draw):
    # Not the factored optimizers (Adafactor): this builder makes every state of its param's shape,
    # and its corruptions alias states with params; test_adafactor.py and the table cover it.
    optimizer = draw(st.sampled_from(sorted(o for o in OPTIMIZERS if not OPTIMIZERS[o].spec.factored)))
    space = HYPERPARAMETERS[optimizer]
    mode = draw(st.sampled_from(["valid", "valid", "bad-hyperparameter", "bad-arrays"]))
    breakable = sorted(k for k, (_, bad) in space.items() if bad)
    broken = (draw(st.sets(st.sampled_from(breakable), min_size=1, max_size=2))
              if mode == "bad-hyperparameter" else ())
    options = {k: draw(st.sampled_from(bad) if k in broken else good) for k, (good, bad) in space.items()}
    step = options.pop("step", None)
    ok = not broken
    if optimizer == "sgd" and ok and options["nesterov"]:
        ok = options["momentum"] > 0 and options["dampening"] == 0
    event(f"{mode}, hyperparameters {'valid' if ok else 'invalid'}")
    return dict(optimizer=optimizer, options=options, hyper_ok=ok, step=step,
                shapes=draw(st.lists(SHAPES, max_size=5)),
                corruption=draw(st.sampled_from(CORRUPTIONS)) if mode == "bad-arrays" else None,
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                steps=draw(st.integers(1, 3)), bare=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)),
                backend=draw(st.sampled_from(BACKENDS)),
                isa=draw(st.sampled_from(ISAS or ("scalar",))), threads=draw(st.sampled_from([1, 2])))


def build(spec):
    """The arrays of a call: {stream: list of arrays}, and whether they are valid."""
    rng = np.random.default_rng(spec["seed"])
    shapes, dtype = spec["shapes"], spec["dtype"]
    names = OPTIMIZERS[spec["optimizer"]].state_names(spec["options"])
    call = {"params": [rng.standard_normal(s).astype(dtype) for s in shapes],
            "grads": [rng.standard_normal(s).astype(dtype) for s in shapes]}
    init = 0.1 if spec["optimizer"] == "adagrad" and rng.integers(2) else 0.0
    for name in names:
        call[name] = [np.full(s, init, dtype) for s in shapes]
    ok = spec["corruption"] is None or not corrupt(spec["corruption"], call, rng)
    return call, ok


def invoke(spec, call, t, backend):
    arrays = {k: v[0] if spec["bare"] and len(v) == 1 else v for k, v in call.items()}
    kwargs = dict(spec["options"], backend=backend)
    if OPTIMIZERS[spec["optimizer"]].takes_step:
        kwargs["step"] = t
    OPTIMIZERS[spec["optimizer"]].fn(**arrays, **kwargs)


def flat(call):
    return [a for arrays in call.values() for a in arrays]


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=calls())
def test_a_step_is_right_or_a_clean_error(spec, runtime, small_grain):
    if ISAS:
        runtime(spec["isa"], spec["threads"])
    call, arrays_ok = build(spec)
    if spec["corruption"]:
        event(f"arrays {spec['corruption']}: {'not applicable' if arrays_ok else 'applied'}")
    if not (spec["hyper_ok"] and arrays_ok):
        messages = []
        for backend in BACKENDS:
            call, _ = build(spec)
            before = [(a, a.tobytes()) for a in flat(call)]
            with pytest.raises((TypeError, ValueError)) as raised:
                invoke(spec, call, spec["step"], backend)
            assert all(a.tobytes() == data for a, data in before), f"{backend} wrote before rejecting"
            messages.append(str(raised.value))
        assert len(set(messages)) == 1, messages
        return

    first = spec["step"] or 1
    rng = np.random.default_rng(spec["seed"] + 1)
    grads = [call["grads"]] + [[rng.standard_normal(g.shape).astype(spec["dtype"]) for g in call["grads"]]
                               for _ in range(spec["steps"] - 1)]
    (exact, largest), *perturbed = (oracle(spec, call, grads, first, sign) for sign in (0, 1, -1))
    for t, g in enumerate(grads, first):
        call["grads"] = g
        invoke(spec, call, t, spec["backend"])
    # On top of cases.py's bound, which scales with the final values, two allowances per element
    # for what is rounding rather than error, needed where the bound's rms term is too small to
    # cover it (few elements, or an element with an unusual history):
    # - rtol x the largest value the element held at any step: a rounding error made then is
    #   carried to the end, even where the value has since cancelled to ~0 (RMSprop's buffer
    #   0.9·b + g/avg with the two terms opposed);
    # - the oracle's own sensitivity: how far its result moves when params and states move by one
    #   rounding (u) one way and grads the other, once per rounding pygd makes. It is large where
    #   inputs cancel (grad + weight_decay·param ~ 0 on the scalar path, which rounds the product
    #   first) and the result then meets a small denominator (|g| ~ eps).
    tol, roundings = rtol(spec["dtype"], spec["steps"]), OPS_PER_STEP * spec["steps"]
    (up, _), (down, _) = perturbed
    for name in exact:
        slack = [tol * big + roundings * np.maximum(abs(p - e), abs(m - e))
                 for e, big, p, m in zip(exact[name], largest[name], up[name], down[name])]
        assert_close(call[name], exact[name], spec["dtype"], spec["steps"], name, slack=slack)


def oracle(spec, call, grads, first, sign):
    """The float64 result of the steps from inputs moved by sign·u (params, states) and -sign·u
    (grads), and the largest |value| each element held along the way."""
    u = float(np.finfo(spec["dtype"]).eps) / 2

    def scaled(a, factor):
        out = a.astype(np.float64)
        out *= factor  # in place: keeps 0-d arrays arrays
        return out

    arrays = {k: [scaled(a, 1 + sign * u) for a in v] for k, v in call.items() if k != "grads"}
    largest = {k: [abs(a) for a in v] for k, v in arrays.items()}
    states = {k: v for k, v in arrays.items() if k != "params"}
    for t, g in enumerate(grads, first):
        float64_reference.step(spec["optimizer"], arrays["params"], [scaled(a, 1 - sign * u) for a in g],
                               states, t, spec["options"])
        for k, v in arrays.items():
            largest[k] = [np.fmax(big, abs(a)) for big, a in zip(largest[k], v)]
    return arrays, largest
