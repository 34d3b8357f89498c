"""One declaration per optimizer, which the other layers read instead of restating it.

An OptimizerSpec says everything about an optimizer but its math: its streams (in the kernel's
stream order, each with torch.optim's state name and, for an optional one, the condition on the
options that needs it), its options (the hyperparameters users pass: name, default, check, and the
kernel hyperparameters each sets), the rules between options, which kernel runs it and the
torch.optim class it mirrors. The math is the kernels' (csrc/include/pygd/, pygd/numba/, the
reference backend); nothing here computes an update.

From a spec, _steps.py compiles the functional step (`pygd.<name>_`) and the readers of a param
group that pygd.optim and pygd.torch use; pygd.optim's classes take their constructors from it.

Hyperparameters cross into the kernels by name: each kernel's Config (csrc/include/pygd/hparams.h)
names its fields, the native and CUDA modules export those names (`hyperparameters`) and read a
tuple in that order or a dict by name. `OptimizerSpec.hyperparameters` is that order (a spec whose
names differ from the kernel's fails at import); `pack(**values)` builds the tuple from names and
`named(hparams)` reads one back as a dict.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Optional

_native: Optional[ModuleType]
try:
    from . import _native  # only for the names and stream masks its kernels export
except ImportError:
    _native = None


@dataclass(frozen=True)
class Stream:
    name: str               # the functional API's argument (params, grads, exp_avgs, ...)
    torch_state: Optional[str] = None  # torch.optim's state key for it (None: params and grads)
    # For an optional stream: when the options need it, as a Python expression over option names
    # ("momentum != 0"; a bare flag name means flag=True). Messages quote it.
    needed_if: Optional[str] = None
    # The option whose value a new state starts at (Adagrad's initial_accumulator_value); else 0.
    initial: Optional[str] = None
    # Where torch.optim reads that option for a state it creates at a param's first step: the
    # param's group (Rprop's lr), or the optimizer's defaults (Adagrad, for a param added later).
    initial_from_group: bool = False
    # Whether the functional step takes it positionally (SGD's momentum_buffers, for compatibility);
    # other optional streams are keyword-only.
    positional: bool = False
    # Its shape, where it is not the param's: a factor of a param of dim > 1, torch's shape with its
    # last dim ("row") or its second-to-last ("col") 1; or "vector", the param's shape, kept only
    # for a param of dim <= 1 (Adafactor's row_var, col_var, variance). Each param of a call has
    # the streams of its own form; the entries of the other form are not read (None is fine).
    shape: Optional[str] = None
    # needed_if, compiled: the option's value -> whether the stream is needed.
    needed: Optional[Callable[[Any], bool]] = field(default=None, repr=False, compare=False)

    @property
    def needed_when(self) -> Optional[str]:
        """needed_if as messages say it: 'momentum != 0', 'amsgrad=True'."""
        if self.needed_if is None or not self.needed_if.isidentifier():
            return self.needed_if
        return f"{self.needed_if}=True"

    @property
    def option(self) -> str:
        """The option needed_if tests."""
        assert self.needed_if is not None, f"{self.name} is not optional"
        (name,) = {n.id for n in ast.walk(ast.parse(self.needed_if, mode="eval")) if isinstance(n, ast.Name)}
        return name


# How an option is checked (and normalized) before anything is written; _steps.py holds the code.
CHECKS = ("non_negative", "non_positive", "at_least_one", "not_nan", "unit_interval", "betas", "etas",
          "step_sizes", "eps_pair", "flag")
# The checks of options that are pairs, each setting two kernel hyperparameters.
PAIR_CHECKS = ("betas", "etas", "step_sizes", "eps_pair")
# The shapes a stream may have besides its param's (Stream.shape).
STREAM_SHAPES = ("row", "col", "vector")


@dataclass(frozen=True)
class Option:
    name: str               # the keyword (functional step, classes) and torch's param-group key
    default: object
    check: str              # one of CHECKS
    # The kernel hyperparameters it sets, in order: its own name by default; betas sets two; () for
    # an option the kernel does not read (an initial state value).
    kernel: Optional[tuple[str, ...]] = None
    functional: bool = True   # whether the functional step takes it (else its default is used)
    constructor: bool = True  # whether the optimizer classes take it (else their groups hold the default)
    keyword_only: bool = False  # in the classes' constructors, as in torch.optim's
    # For a pair: whether the functional step takes its two kernel names as options instead, as
    # torch.optim's functional API does where the pair's name is a stream's (Rprop's step_sizes).
    functional_split: bool = False
    # A scalar the optimizer keeps as per-tensor state (torch's state[state], a 0-dim tensor), not
    # a hyperparameter: the functional step requires it (no default), the classes keep it beside
    # the step count and pass each call its value; param groups never hold it. NAdam's mu_product.
    state: Optional[str] = None

    @property
    def sets(self) -> tuple[str, ...]:
        """The kernel hyperparameters the option sets."""
        return (self.name,) if self.kernel is None else self.kernel


@dataclass(frozen=True)
class Rule:
    """A condition between options the kernels rely on: `broken` (a Python expression over option
    names, after their checks) raises ValueError(message.format(**options))."""
    broken: str
    message: str


# A layout: each stream's torch state name after (params, grads), None where absent; those present.
_Layout = tuple[tuple[Optional[str], ...], tuple[str, ...]]


@dataclass(frozen=True)
class OptimizerSpec:
    name: str                 # the functional step is `<name>_`
    kernel: str               # the kernel that runs it (AdamW runs Adam's, decoupled)
    torch_class: Optional[str]  # the torch.optim class it mirrors (None: torch has none, as Lion)
    takes_step: bool          # whether the step count is an argument
    streams: tuple[Stream, ...]   # in the kernel's stream order
    options: tuple[Option, ...]   # in the order of torch.optim's constructor
    rules: tuple[Rule, ...] = ()
    doc: str = ""             # the functional step's docstring
    # Whether it is a trust-ratio optimizer (csrc/include/pygd/trust_ratio.h: each tensor's norms,
    # then its update; LAMB, LARS) rather than an elementwise one. Set from `trust_ratio` among its
    # options at bind time.
    trust_ratio: bool = False
    # The kernel's hyperparameter names, in the order its module reads a tuple (from the options'
    # `sets` until bound to the kernel at import).
    hyperparameters: tuple[str, ...] = ()
    # pack and deciding are None in the declarations, functions once bound (_bind): typed Any, as
    # the hot paths call them without a check.
    pack: Any = field(default=None, repr=False, compare=False)
    # Which optional streams a mapping of options makes present (see _deciding).
    deciding: Any = field(default=None, repr=False, compare=False)
    _layouts: dict[Any, _Layout] = field(default_factory=dict, repr=False, compare=False)

    @property
    def stream_names(self) -> tuple[str, ...]:
        """Every stream's name, in the kernel's order."""
        return tuple(s.name for s in self.streams)

    @property
    def optional_streams(self) -> frozenset[str]:
        """The streams the options, or a param's form (Stream.shape), may leave absent."""
        return frozenset(s.name for s in self.streams if s.needed_if or s.shape)

    @property
    def elementwise(self) -> bool:
        """Whether its kernel is an element-wise sweep, which takes every storage layout (and so a
        param copy, docs/low-precision.md): not the trust-ratio or the factored driver."""
        return not self.trust_ratio and not self.factored

    @property
    def factored(self) -> bool:
        """Whether some of its streams are shaped otherwise than the params (Stream.shape)."""
        return any(s.shape for s in self.streams)

    @property
    def torch_states(self) -> dict[str, str]:
        """{functional stream name: torch.optim state name} of its states."""
        return {s.name: s.torch_state for s in self.streams if s.torch_state}

    @property
    def defaults(self) -> dict[str, object]:
        """{option: default}, as torch.optim's `defaults` (before its flags such as foreach); the
        state scalars are not options of a group."""
        return {o.name: o.default for o in self.options if o.state is None}

    @property
    def state_scalars(self) -> tuple[Option, ...]:
        """The options that are per-tensor state (Option.state), in declaration order."""
        return tuple(o for o in self.options if o.state is not None)

    def named(self, hparams: tuple[Any, ...]) -> dict[str, Any]:
        """A hyperparameter tuple built by pack, as {name: value}."""
        return dict(zip(self.hyperparameters, hparams))

    def state_names(self, options: Mapping[str, Any]) -> tuple[Optional[str], ...]:
        """The torch state name of each stream after (params, grads) that `options` (a mapping by
        option name: a param group) needs, None where it is absent."""
        layout = self._layouts.get(self.deciding(options))
        return (layout or self._layout(options))[0]

    def needed_states(self, options: Mapping[str, Any]) -> tuple[str, ...]:
        """The torch state names `options` needs, in stream order."""
        # Asked at every step of every group: answered from a cache keyed by the deciding values.
        layout = self._layouts.get(self.deciding(options))
        return (layout or self._layout(options))[1]

    def _layout(self, options: Mapping[str, Any]) -> _Layout:
        names = tuple(s.torch_state if s.needed is None or s.needed(options[s.option]) else None
                      for s in self.streams[2:])
        layout = self._layouts[self.deciding(options)] = (names, tuple(n for n in names if n))
        return layout


_P, _G = Stream("params"), Stream("grads")
_LR = Option("lr", 1e-3, "non_negative")
_WEIGHT_DECAY = Option("weight_decay", 0.0, "non_negative")
_MAXIMIZE = Option("maximize", False, "flag", keyword_only=True)
# The trust-ratio optimizers' exclusion (optax's trust_ratio_mask): False applies the plain update.
_TRUST_RATIO = Option("trust_ratio", True, "flag")


def _adam(name: str, weight_decay: float, decoupled: bool, doc: str) -> OptimizerSpec:
    """Adam and AdamW: one kernel, the same streams and options, but for weight decay's default
    and the form of the decay (decoupled_weight_decay, which only Adam's constructor takes)."""
    return OptimizerSpec(
        name, "adam", "AdamW" if decoupled else "Adam", True,
        (_P, _G, Stream("exp_avgs", "exp_avg"), Stream("exp_avg_sqs", "exp_avg_sq"),
         Stream("max_exp_avg_sqs", "max_exp_avg_sq", needed_if="amsgrad")),
        (_LR, Option("betas", (0.9, 0.999), "betas", kernel=("beta1", "beta2")),
         Option("eps", 1e-8, "non_negative"), Option("weight_decay", weight_decay, "non_negative"),
         Option("amsgrad", False, "flag"), _MAXIMIZE,
         Option("decoupled_weight_decay", decoupled, "flag", kernel=("decoupled",), functional=False,
                constructor=not decoupled, keyword_only=True)),
        doc=doc)


_DECLARED = (
    OptimizerSpec(
        "sgd", "sgd", "SGD", True,
        (_P, _G, Stream("momentum_buffers", "momentum_buffer", needed_if="momentum != 0",
                        positional=True)),
        (_LR, Option("momentum", 0.0, "non_negative"), Option("dampening", 0.0, "not_nan"),
         _WEIGHT_DECAY, Option("nesterov", False, "flag"), _MAXIMIZE),
        (Rule("nesterov and (momentum <= 0.0 or dampening != 0.0)",
              "nesterov=True requires momentum > 0 and dampening == 0, got momentum={momentum!r}, "
              "dampening={dampening!r}"),),
        doc="""SGD, with optional momentum, dampening, Nesterov momentum and (coupled) weight decay.

    `momentum_buffers` is required when momentum != 0; at step 1 it is overwritten with the
    gradient (no dampening on the first step, as torch.optim.SGD), so its initial content is unused.
    """),
    _adam("adam", 0.0, False, """Adam, with coupled (L2) weight decay and optional AMSGrad.

    States start as zeros; `max_exp_avg_sqs` is required when amsgrad=True.
    """),
    _adam("adamw", 1e-2, True,
          """AdamW: Adam with decoupled weight decay, param *= 1 - lr * weight_decay before the update.
    """),
    OptimizerSpec(
        "rmsprop", "rmsprop", "RMSprop", False,
        (_P, _G, Stream("square_avgs", "square_avg"),
         Stream("momentum_buffers", "momentum_buffer", needed_if="momentum > 0"),
         Stream("grad_avgs", "grad_avg", needed_if="centered")),
        (Option("lr", 1e-2, "non_negative"), Option("alpha", 0.99, "unit_interval"),
         Option("eps", 1e-8, "non_negative"), _WEIGHT_DECAY, Option("momentum", 0.0, "non_negative"),
         Option("centered", False, "flag"), _MAXIMIZE),
        doc="""RMSprop, optionally centered and with momentum.

    `momentum_buffers` is required when momentum > 0, `grad_avgs` when centered=True; all states
    start as zeros.
    """),
    OptimizerSpec(
        "adagrad", "adagrad", "Adagrad", True,
        (_P, _G, Stream("state_sums", "sum", initial="initial_accumulator_value")),
        (Option("lr", 1e-2, "non_negative"), Option("lr_decay", 0.0, "non_negative"), _WEIGHT_DECAY,
         Option("initial_accumulator_value", 0.0, "non_negative", kernel=(), functional=False),
         Option("eps", 1e-10, "non_negative"), _MAXIMIZE),
        doc="""Adagrad with learning-rate decay lr / (1 + (step - 1) * lr_decay).

    `state_sums` starts at the initial accumulator value (torch's default: zeros).
    """),
    OptimizerSpec(
        "adamax", "adamax", "Adamax", True,
        (_P, _G, Stream("exp_avgs", "exp_avg"), Stream("exp_infs", "exp_inf")),
        (Option("lr", 2e-3, "non_negative"), Option("betas", (0.9, 0.999), "betas", kernel=("beta1", "beta2")),
         Option("eps", 1e-8, "non_negative"), _WEIGHT_DECAY, _MAXIMIZE),
        doc="""Adamax: Adam's bias-corrected first moment over an exponentially weighted infinity norm,
    exp_inf = max(beta2 * exp_inf, |grad| + eps), with (coupled) weight decay.

    States start as zeros.
    """),
    OptimizerSpec(
        "radam", "radam", "RAdam", True,
        (_P, _G, Stream("exp_avgs", "exp_avg"), Stream("exp_avg_sqs", "exp_avg_sq")),
        (_LR, Option("betas", (0.9, 0.999), "betas", kernel=("beta1", "beta2")),
         Option("eps", 1e-8, "non_negative"), _WEIGHT_DECAY,
         Option("decoupled_weight_decay", False, "flag", kernel=("decoupled",)), _MAXIMIZE),
        doc="""RAdam: Adam with its adaptive step rectified by the variance of the second moment's
    estimate, and plain bias-corrected momentum while that variance is intractable (the SMA length
    rho_t <= 5: the first steps, and every step for small beta2); coupled weight decay, or
    decoupled (param *= 1 - lr * weight_decay) with decoupled_weight_decay=True.

    States start as zeros.
    """),
    OptimizerSpec(
        "adadelta", "adadelta", "Adadelta", False,
        (_P, _G, Stream("square_avgs", "square_avg"), Stream("acc_deltas", "acc_delta")),
        (Option("lr", 1.0, "non_negative"), Option("rho", 0.9, "unit_interval"),
         Option("eps", 1e-6, "non_negative"), _WEIGHT_DECAY, _MAXIMIZE),
        doc="""Adadelta: delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad, both running
    averages with rho (square_avg of grad², acc_delta of delta²), then param -= lr * delta; coupled
    weight decay.

    States start as zeros.
    """),
    OptimizerSpec(
        "rprop", "rprop", "Rprop", False,
        (_P, _G, Stream("prevs", "prev"), Stream("step_sizes", "step_size", initial="lr", initial_from_group=True)),
        (Option("lr", 1e-2, "non_negative", kernel=(), functional=False),
         Option("etas", (0.5, 1.2), "etas", kernel=("etaminus", "etaplus")),
         Option("step_sizes", (1e-6, 50.0), "step_sizes", kernel=("step_size_min", "step_size_max"),
                functional_split=True),
         _MAXIMIZE),
        doc="""Rprop (resilient backpropagation): each element's step size grows by etaplus while its
    gradient keeps its sign and shrinks by etaminus when the sign flips (then that gradient counts as
    0, for this step and the next comparison), within step_sizes; param -= sign(grad) * step_size.

    `prevs` (the last gradients) start as zeros and `step_sizes` at lr (torch's initial step size).
    """),
    OptimizerSpec(
        "nadam", "nadam", "NAdam", True,
        (_P, _G, Stream("exp_avgs", "exp_avg"), Stream("exp_avg_sqs", "exp_avg_sq")),
        (Option("lr", 2e-3, "non_negative"), Option("betas", (0.9, 0.999), "betas", kernel=("beta1", "beta2")),
         Option("eps", 1e-8, "non_negative"), _WEIGHT_DECAY, Option("momentum_decay", 4e-3, "non_negative"),
         Option("decoupled_weight_decay", False, "flag", kernel=("decoupled",)), _MAXIMIZE,
         Option("mu_product", None, "unit_interval", constructor=False, state="mu_product")),
        doc="""NAdam: Adam with Nesterov momentum, through the momentum schedule
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)); coupled weight decay, or decoupled
    (param *= 1 - lr * weight_decay) with decoupled_weight_decay=True.

    `mu_product` is mu_1 * ... * mu_t, through this step: state the caller keeps, as torch keeps
    state["mu_product"] (pygd.optim.NAdam keeps it; `pygd.nadam_momentum(t, beta1, momentum_decay)`
    gives mu_t, so at step t it is the last step's times that). States start as zeros.
    """),
    OptimizerSpec(
        "asgd", "asgd", "ASGD", False,
        (_P, _G, Stream("axs", "ax")),
        (Option("lr", 1e-2, "non_negative", kernel=(), functional=False),
         Option("lambd", 1e-4, "non_negative"),
         Option("alpha", 0.75, "not_nan", kernel=(), functional=False),
         Option("t0", 1e6, "not_nan", kernel=(), functional=False),
         _WEIGHT_DECAY, Option("maximize", False, "flag"),
         Option("eta", None, "non_negative", constructor=False, state="eta"),
         Option("mu", None, "non_negative", constructor=False, state="mu")),
        doc="""ASGD (averaged SGD): param = param * (1 - lambd * eta) - eta * grad, and ax, the running
    average of the params, ax += mu * (param - ax) (ax = param while mu == 1); coupled weight decay.

    `eta` and `mu` are state the caller keeps, as torch keeps state["eta"] and state["mu"], here
    their values before this step: after step t they become lr / (1 + lambd * lr * t) ** alpha and
    1 / max(1, t - t0) (pygd.optim.ASGD keeps them, from its lr, alpha and t0). `axs` start as zeros.
    """),
    # Not a torch.optim class: the defaults are the paper's and lion-pytorch's (lr 1e-4: Lion's
    # sign update is larger per element than Adam's, so its lr is 3-10x smaller).
    OptimizerSpec(
        "lion", "lion", None, False,
        (_P, _G, Stream("exp_avgs", "exp_avg")),
        (Option("lr", 1e-4, "non_negative"), Option("betas", (0.9, 0.99), "betas", kernel=("beta1", "beta2")),
         _WEIGHT_DECAY, _MAXIMIZE),
        doc="""Lion (Chen et al. 2023): param -= lr * sign(beta1 * exp_avg + (1 - beta1) * grad), then
    exp_avg = beta2 * exp_avg + (1 - beta2) * grad; decoupled weight decay (param *= 1 - lr *
    weight_decay first), as the paper and optax. sign(0) is 0 and a NaN stays NaN.

    `exp_avgs` start as zeros.
    """),
    OptimizerSpec(
        "adafactor", "adafactor", "Adafactor", True,
        (_P, _G, Stream("row_vars", "row_var", shape="row"), Stream("col_vars", "col_var", shape="col"),
         Stream("variances", "variance", shape="vector")),
        (Option("lr", 1e-2, "non_negative"), Option("beta2_decay", -0.8, "non_positive"),
         Option("eps", (None, 1e-3), "eps_pair", kernel=("eps1", "eps2")), Option("d", 1.0, "at_least_one"),
         _WEIGHT_DECAY, _MAXIMIZE),
        doc="""Adafactor (Shazeer and Stern 2018) as torch.optim.Adafactor: per tensor, with t the
    step, rho = min(lr, 1 / sqrt(t)) and alpha = max(eps2, rms(param)) * rho (the param before
    weight decay); param *= 1 - lr * weight_decay; the second moment lerps toward grad**2 by
    t ** beta2_decay, factored for a param of dim > 1 (row_var, the mean over its last dim, and
    col_var, over its second-to-last: leading dims are a batch of matrices) into
    var = row_var * col_var / max(mean(row_var), eps1), full for dim <= 1 (variance);
    u = grad / sqrt(max(var, eps1**2)); param -= alpha / max(1, rms(u) / d) * u.

    eps = (eps1, eps2); eps1=None is the params' dtype's machine epsilon. For each param of dim > 1,
    `row_vars[i]` has its shape with the last dim 1 and `col_vars[i]` its shape with dim -2 1, and
    `variances[i]` is not read; for dim <= 1, `variances[i]` has its shape and `row_vars[i]`,
    `col_vars[i]` are not read (pass None). The norms and factor sums are the same bits whatever
    the thread count.

    States start as zeros.
    """),
    # Not torch.optim classes: optax's definitions and defaults (optax.lamb, optax.lars). A tensor
    # is one of optax's leaves: its trust ratio is its own. optax's masks are per param group in
    # pygd.optim (weight_decay=0.0 leaves a group undecayed, trust_ratio=False applies the plain
    # update to its tensors) and options of one functional call.
    OptimizerSpec(
        "lamb", "lamb", None, True,
        (_P, _G, Stream("exp_avgs", "exp_avg"), Stream("exp_avg_sqs", "exp_avg_sq")),
        (_LR, Option("betas", (0.9, 0.999), "betas", kernel=("beta1", "beta2")),
         Option("eps", 1e-6, "non_negative"), _WEIGHT_DECAY, _TRUST_RATIO, _MAXIMIZE),
        doc="""LAMB (You et al. 2019), as optax.lamb: Adam's bias-corrected direction
    u = m_hat / (sqrt(v_hat) + eps) + weight_decay * param, then, per tensor,
    param -= lr * ratio * u with ratio = ||param|| / ||u||, or 1 where either norm is 0.

    trust_ratio=False takes ratio = 1 (optax's masked-out leaves); weight_decay=0.0 is the weight
    decay mask's False. The norms are the same bits whatever the thread count. A NaN anywhere in a
    tensor's param or u makes its ratio, and so all of its params, NaN (as optax's).

    States start as zeros.
    """),
    # lr: optax requires one; 1.0 is timm's Lars default, and with trust_coefficient 0.001 it moves
    # each tensor by 0.1% of its norm per step (the "local learning rate" of You et al. 2017).
    OptimizerSpec(
        "lars", "lars", None, False,
        # positional, as SGD's: the default momentum needs it
        (_P, _G, Stream("momentum_buffers", "momentum_buffer", needed_if="momentum != 0", positional=True)),
        (Option("lr", 1.0, "non_negative"), Option("momentum", 0.9, "non_negative"), _WEIGHT_DECAY,
         Option("trust_coefficient", 0.001, "non_negative"), Option("eps", 0.0, "non_negative"),
         Option("nesterov", False, "flag"), _TRUST_RATIO, _MAXIMIZE),
        doc="""LARS (You et al. 2017), as optax.lars: u = grad + weight_decay * param, scaled per
    tensor by ratio = trust_coefficient * ||param|| / (||u|| + eps) (1 where either norm is 0) and
    by -lr, then optax's trace: buf = momentum * buf - lr * ratio * u, and param += buf (with
    nesterov, param += momentum * buf - lr * ratio * u).

    trust_ratio=False takes ratio = 1 (optax's trust_ratio_mask False); weight_decay=0.0 is the
    weight decay mask's False. The norms are the same bits whatever the thread count.

    `momentum_buffers` is required when momentum != 0 and starts as zeros (optax's trace).
    """),
)


def _kernel_order(spec: OptimizerSpec) -> tuple[str, ...]:
    """The order the kernel's module reads a hyperparameter tuple in: the names it exports, which
    must be those the spec's options set."""
    declared = tuple(name for o in spec.options for name in o.sets)
    exported = _native.hyperparameters.get(spec.kernel) if _native is not None else None
    if exported is None:
        return declared
    if sorted(exported) != sorted(declared):
        raise ImportError(f"pygd._native's {spec.kernel} kernel takes {exported}; "
                          f"pygd/_specs.py's {spec.name} options set {declared}: rebuild pygd")
    return tuple(exported)


def _check_streams(spec: OptimizerSpec) -> None:
    """The kernel's stream masks (which streams it writes, which may be absent) must say what the
    spec does: every stream but grads written, the optional ones those with `needed_if`."""
    if _native is None:
        return
    written, optional = _native.stream_masks[spec.kernel]
    bits: Callable[[set[str] | frozenset[str]], int] = lambda names: sum(  # noqa: E731
        1 << k for k, s in enumerate(spec.streams) if s.name in names)
    if written != bits(set(spec.stream_names) - {"grads"}) or optional != bits(spec.optional_streams):
        raise ImportError(f"pygd._native's {spec.kernel} kernel has stream masks "
                          f"(written={written:#b}, optional={optional:#b}) that differ from "
                          f"pygd/_specs.py's streams {spec.stream_names}: rebuild pygd")


def _packer(names: tuple[str, ...]) -> Callable[..., tuple[Any, ...]]:
    """pack(**values): the tuple of `names`' values in that order; every name required, no other.
    Compiled once (as dataclasses compile __init__) so that a call pays one call."""
    args = ", ".join(names)
    # names are this module's identifiers
    packer: Callable[..., tuple[Any, ...]] = eval(f"lambda *, {args}: ({args},)", {})
    return packer


def _compiled_tests(streams: tuple[Stream, ...]) -> tuple[Stream, ...]:
    """Each optional stream with `needed`, its needed_if as a function of its option's value."""
    return tuple(s if s.needed_if is None else Stream(
        s.name, s.torch_state, s.needed_if, s.initial, s.initial_from_group, s.positional, s.shape,
        eval(f"lambda {s.option}: bool({s.needed_if})", {}))  # noqa: S307 - declared above
        for s in streams)


def _deciding(streams: tuple[Stream, ...]) -> Callable[[Mapping[str, Any]], Any]:
    """deciding(options): each optional stream's test of its option, so that the layouts are keyed
    by decisions (at most 2**k of them), never by values (a schedule may change momentum)."""
    tests = [(s.option, needed) for s in streams if (needed := s.needed) is not None]
    if not tests:
        return lambda options: None
    if len(tests) == 1:
        ((option, needed),) = tests
        return lambda options: needed(options[option])
    return lambda options: tuple(needed(options[option]) for option, needed in tests)


def _bind(spec: OptimizerSpec) -> OptimizerSpec:
    _check_streams(spec)
    for o in spec.options:
        assert o.check in CHECKS, (spec.name, o.name, o.check)
    for s in spec.streams:
        assert s.shape is None or (s.shape in STREAM_SHAPES and s.needed_if is None), (spec.name, s.name)
    order = _kernel_order(spec)
    streams = _compiled_tests(spec.streams)
    return OptimizerSpec(spec.name, spec.kernel, spec.torch_class, spec.takes_step, streams,
                         spec.options, spec.rules, spec.doc,
                         any(o.name == "trust_ratio" for o in spec.options), order, _packer(order),
                         _deciding(streams))


SPECS = {spec.name: _bind(spec) for spec in _DECLARED}
# The kernels, by the spec that first names each: AdamW runs Adam's kernel.
KERNELS: dict[str, OptimizerSpec] = {}
for _spec in SPECS.values():
    KERNELS.setdefault(_spec.kernel, _spec)
