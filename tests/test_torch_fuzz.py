"""A fuzzer of pygd.torch against torch.optim: hypothesis drives random sequences of
torch-legal edits between steps, made identically on a pygd.torch optimizer and a torch.optim one,
and after every step the two must agree: the same error, or the same params, state and step counts.

The edits are what real code does between steps and what torch permits: grads set, reset, strided,
resized or retyped through `.data`; params given new storage (`.data =`, `set_()`, a slice,
`t_()`); state tensors given new storage, replaced, deleted, step counts edited in place; a group's
params list appended to, edited or shortened; new param groups; hyperparameters changed;
state_dict round trips. Budget: PYGD_FUZZ_EXAMPLES sequences (default 25) of up to
PYGD_FUZZ_STEPS rules (default 30), a few seconds in CI; raise them for a longer campaign:

    PYGD_FUZZ_EXAMPLES=2000 pytest tests/test_torch_fuzz.py -p no:cacheprovider

Float64 params, so that a stale pointer or an ignored edit shows as a difference of order 1 while
the operation orders of pygd's kernel and torch's for-loop differ by ulps.
"""

import atexit
import collections
import copy
import os
import warnings

import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule  # noqa: E402

import pygd.torch as pygd_torch  # noqa: E402

EXAMPLES = int(os.environ.get("PYGD_FUZZ_EXAMPLES", "25"))
STEPS = int(os.environ.get("PYGD_FUZZ_STEPS", "30"))
# What a campaign did (PYGD_FUZZ_REPORT=1 prints it at exit): edits made, errors both sides raised
# alike, steps compared, sequences ended early.
COUNTS = collections.Counter()
if os.environ.get("PYGD_FUZZ_REPORT"):
    atexit.register(lambda: print("\npygd fuzz campaign:", dict(sorted(COUNTS.items()))))

OPTIMIZERS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("RMSprop", dict(lr=0.01)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adamax", dict(lr=0.01, weight_decay=0.01, maximize=True)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.01)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.01, maximize=True)),
    ("Rprop", dict(lr=0.01, etas=(0.4, 1.3))),
    ("NAdam", dict(lr=0.01, weight_decay=0.01, momentum_decay=0.05)),
    ("ASGD", dict(lr=0.01, lambd=0.01, t0=2.0, weight_decay=0.01)),
]
SHAPES = [(1,), (7,), (33,), (4, 5), (3, 1, 2), (65,)]


def values(shape, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


def _tolerance(t):
    """Far below any real divergence, above the ulps by which operation orders differ (a param
    turned float32 by a `.data =` edit runs in float32)."""
    return dict(rtol=1e-9, atol=1e-11) if t.dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)


def outcome(fn):
    try:
        fn()
        return None
    except Exception as exc:  # noqa: BLE001 - the two sides' errors are compared
        return type(exc)


class Twins(RuleBasedStateMachine):
    """The same optimizer twice, pygd.torch's and torch.optim's, each edited the same way."""

    @initialize(which=st.integers(0, len(OPTIMIZERS) - 1),
                shapes=st.lists(st.sampled_from(SHAPES), min_size=1, max_size=5), seed=st.integers(0, 99))
    def build(self, which, shapes, seed):
        warnings.simplefilter("ignore")  # torch's duplicate-param and pygd's fallback warnings
        self.name, self.options = OPTIMIZERS[which]
        self.sides = []
        for module in (pygd_torch, torch.optim):
            params = [torch.nn.Parameter(values(s, seed + i)) for i, s in enumerate(shapes)]
            self.sides.append((getattr(module, self.name)(params, **self.options), params))
        self.seed = seed
        self.steps = 0
        self.ended = False
        COUNTS["sequences"] += 1

    def each(self, edit):
        """edit(opt, params) on both sides; both must raise alike or neither."""
        if self.ended:
            return
        errors = [outcome(lambda o=opt, p=params: edit(o, p)) for opt, params in self.sides]
        assert (errors[0] is None) == (errors[1] is None), f"pygd: {errors[0]}, torch: {errors[1]}"
        COUNTS["rules"] += 1
        if errors[0] is not None:
            COUNTS["errors raised alike"] += 1
            assert issubclass(errors[0], errors[1]) or issubclass(errors[1], errors[0]), errors
            self.resync()

    def resync(self):
        """After an error (torch's for-loop may have updated some params before it), pygd's side
        takes copies of torch's params and state (as they are: load_state_dict would cast them),
        to go on from equal footing."""
        (opt, params), (ref, ref_params) = self.sides
        held = {id(q) for q in ref_params}
        if len(params) != len(ref_params) or any(id(k) not in held for k in ref.state):
            self.ended = True  # torch keeps state for a param no group holds: nothing to map it to
            COUNTS["sequences ended early"] += 1
            return
        opt.state.clear()
        for p, q in zip(params, ref_params):
            p.data = q.data.clone()
            p.grad = q.grad = None  # on both sides: the next rules set grads alike
            if q in ref.state:
                opt.state[p] = copy.deepcopy(ref.state[q])

    # ------------------------------------------------------------------ steps and grads

    @rule(seed=st.integers(0, 10_000))
    def step(self, seed):
        def fill_and_step(opt, params):
            for i, p in enumerate(params):
                if p.grad is not None or (seed + i) % 5:
                    p.grad = values(p.shape, seed + i, p.dtype)
            opt.step()
        self.each(fill_and_step)
        self.steps += 1
        COUNTS["steps"] += 1

    @rule(i=st.integers(0, 10))
    def grad_none(self, i):
        self.each(lambda opt, ps: setattr(ps[i % len(ps)], "grad", None))

    @rule(i=st.integers(0, 10), seed=st.integers(0, 100))
    def strided_grad(self, i, seed):
        def edit(opt, ps):
            p = ps[i % len(ps)]
            wide = torch.zeros(2 * p.numel(), dtype=p.dtype)
            wide[::2] = values(p.numel(), seed, p.dtype)
            p.grad = wide[::2].view(p.shape) if p.dim() == 1 else wide[::2].reshape(p.shape)
        self.each(edit)

    @rule(i=st.integers(0, 10), kind=st.sampled_from(["smaller", "float32", "set_", "reshape"]))
    def grad_data(self, i, kind):
        def edit(opt, ps):
            p = ps[i % len(ps)]
            if p.grad is None:
                p.grad = values(p.shape, 7, p.dtype)
            g = p.grad
            if kind == "smaller":
                g.data = g.data.flatten()[: max(1, g.numel() // 2)]
            elif kind == "float32":
                g.data = g.data.float()
            elif kind == "set_":
                g.set_(values(p.shape, 8, p.dtype))
            else:
                g.data = g.data.flatten()
            opt.step()
        self.each(edit)

    # ------------------------------------------------------------------ params

    @rule(i=st.integers(0, 10), kind=st.sampled_from(["clone", "slice", "set_", "t_", "float32"]))
    def param_data(self, i, kind):
        def edit(opt, ps):
            p = ps[i % len(ps)]
            if kind == "clone":
                p.data = p.data.clone()
            elif kind == "slice":
                p.data = p.data.flatten()[: max(1, p.numel() // 2)]
            elif kind == "set_":
                p.data.set_(values(p.shape, 9, p.dtype))
            elif kind == "t_" and p.dim() == 2:
                p.data.t_()
            elif kind == "float32":
                p.data = p.data.float()
            p.grad = None
        self.each(edit)

    # ------------------------------------------------------------------ state

    @rule(i=st.integers(0, 10), kind=st.sampled_from(["zero_", "fill_", "add_", "data", "float64"]))
    def step_count(self, i, kind):
        def edit(opt, ps):
            entry = opt.state.get(ps[i % len(ps)], {})
            step = entry.get("step")
            if not isinstance(step, torch.Tensor):
                return
            if kind == "zero_":
                step.zero_()
            elif kind == "fill_":
                step.fill_(7)
            elif kind == "add_":
                step.add_(2)
            elif kind == "data":
                step.data = torch.tensor(3.0)
            else:
                entry["step"] = torch.tensor(float(step), dtype=torch.float64)
        self.each(edit)

    @rule(i=st.integers(0, 10), kind=st.sampled_from(["data", "set_", "replace", "mul_", "delete", "clear"]))
    def state_tensor(self, i, kind):
        def edit(opt, ps):
            p = ps[i % len(ps)]
            entry = opt.state.get(p)
            if not entry:
                return
            if kind == "clear":
                opt.state.pop(p)
                return
            names = [k for k, v in entry.items() if k != "step" and isinstance(v, torch.Tensor)]
            if not names:
                return
            name = names[0]
            v = entry[name]
            if kind == "data":
                v.data = torch.full_like(v, 0.5)
            elif kind == "set_":
                v.set_(torch.full_like(v, 0.25))
            elif kind == "replace":
                entry[name] = torch.full_like(v, 0.125)
            elif kind == "mul_":
                v.mul_(0.5)
            else:
                del entry[name]
        self.each(edit)

    # ------------------------------------------------------------------ groups

    @rule(kind=st.sampled_from(["append", "replace", "delete", "duplicate"]), i=st.integers(0, 10),
          shape=st.sampled_from(SHAPES))
    def group_params(self, kind, i, shape):
        def edit(opt, ps):
            group = opt.param_groups[0]["params"]
            if kind == "append" or (kind != "duplicate" and len(ps) == 1):
                new = torch.nn.Parameter(values(shape, 11))
                group.append(new)
                if group is not ps:
                    ps.append(new)
            elif kind == "replace":
                new = torch.nn.Parameter(values(shape, 12))
                j = i % len(group)
                group[j] = new
            elif kind == "delete":
                del group[i % len(group)]
            else:
                group.append(group[i % len(group)])
        self.each(edit)
        for opt, params in self.sides:  # the test's view of the params follows the groups
            params[:] = [p for g in opt.param_groups for p in g["params"]]

    @rule(shape=st.sampled_from(SHAPES), lr=st.sampled_from([0.0, 0.01, 0.3]))
    def add_group(self, shape, lr):
        def edit(opt, ps):
            new = torch.nn.Parameter(values(shape, 13))
            opt.add_param_group({"params": [new], "lr": lr})
        self.each(edit)
        for opt, params in self.sides:
            params[:] = [p for g in opt.param_groups for p in g["params"]]

    @rule(lr=st.sampled_from([0.0, 0.001, 0.1]))
    def set_lr(self, lr):
        self.each(lambda opt, ps: [g.__setitem__("lr", lr) for g in opt.param_groups])

    @rule()
    def state_dict_round_trip(self):
        self.each(lambda opt, ps: opt.load_state_dict(copy.deepcopy(opt.state_dict())))

    # ------------------------------------------------------------------ the oracle

    @invariant()
    def same_params_and_state(self):
        if not hasattr(self, "sides") or self.ended:
            return
        (opt, params), (ref, ref_params) = self.sides
        assert len(params) == len(ref_params)
        COUNTS["comparisons"] += 1
        for i, (p, q) in enumerate(zip(params, ref_params)):
            assert p.shape == q.shape and p.dtype == q.dtype, f"param {i}"
            assert torch.allclose(p, q, **_tolerance(q), equal_nan=True), \
                f"param {i}: max diff {(p - q).abs().max().item()} after {self.steps} steps"
            got, want = opt.state.get(p, {}), ref.state.get(q, {})
            assert got.keys() == want.keys(), f"param {i}: state {sorted(got)} vs {sorted(want)}"
            for k, v in want.items():
                if isinstance(v, torch.Tensor) and v.numel() and not v.is_sparse:
                    w = got[k]
                    if k == "step":
                        assert float(w) == float(v) or (v != v and w != w), f"param {i}: step {w} vs {v}"
                    else:
                        assert w.shape == v.shape and w.dtype == v.dtype and torch.allclose(
                            w, v, **_tolerance(v), equal_nan=True), f"param {i} {k}"


Twins.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                                   suppress_health_check=list(HealthCheck), database=None)
test_pygd_torch_follows_torch_under_random_edits = Twins.TestCase
