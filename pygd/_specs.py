"""One declaration per optimizer, which the other layers read instead of restating it.

An OptimizerSpec says what a functional step takes (its streams, in the kernel's stream order, each
with torch.optim's state name and the option that makes an optional one needed), which kernel runs
it, the kernel's hyperparameters, and the torch.optim class it mirrors. The math is the kernels'
(csrc/include/pygd/, pygd/numba/, the reference backend); nothing here computes an update.

Hyperparameters cross into the kernels by name: each kernel's Config (csrc/include/pygd/hparams.h)
names its fields, the native and CUDA modules export those names (`hyperparameters`) and read a
tuple in that order or a dict by name; `OptimizerSpec.pack(**values)` builds the tuple from names,
in the order the module exports (a spec whose names differ from the kernel's fails at import), and
`OptimizerSpec.named(hparams)` reads one back as a dict.
"""

from dataclasses import dataclass, field

try:
    from . import _native  # only for the names its kernels export
except ImportError:
    _native = None


@dataclass(frozen=True)
class Stream:
    name: str                 # the functional API's argument (params, grads, exp_avgs, ...)
    torch_state: str = None   # torch.optim's state key for it (None: params and grads)
    needed_when: str = None   # for an optional stream: the option that needs it, as messages say
    # ... and as a test of that option's value (`option`: torch's name for it)
    option: str = None
    needed: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class OptimizerSpec:
    name: str                 # the functional step is `<name>_`
    kernel: str               # the kernel that runs it (AdamW runs Adam's, decoupled)
    torch_class: str          # the torch.optim class it mirrors
    takes_step: bool          # whether the step count is an argument
    streams: tuple            # Stream, in the kernel's stream order
    hyperparameters: tuple    # the kernel's, by name (their order: the kernel's, see module doc)
    pack: object = field(default=None, repr=False, compare=False)
    # Which optional streams a mapping of options makes present (see _deciding).
    deciding: object = field(default=None, repr=False, compare=False)
    _layouts: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def stream_names(self):
        return tuple(s.name for s in self.streams)

    @property
    def optional_streams(self):
        return frozenset(s.name for s in self.streams if s.needed_when)

    @property
    def torch_states(self):
        """{functional stream name: torch.optim state name} of its states."""
        return {s.name: s.torch_state for s in self.streams if s.torch_state}

    def named(self, hparams):
        """A hyperparameter tuple built by pack, as {name: value}."""
        return dict(zip(self.hyperparameters, hparams))

    def state_names(self, options):
        """The torch state name of each stream after (params, grads) that `options` (a mapping by
        torch's option names: a param group) needs, None where it is absent."""
        layout = self._layouts.get(self.deciding(options))
        return (layout or self._layout(options))[0]

    def needed_states(self, options):
        """The torch state names `options` needs, in stream order."""
        # Asked at every step of every group: answered from a cache keyed by the deciding values.
        layout = self._layouts.get(self.deciding(options))
        return (layout or self._layout(options))[1]

    def _layout(self, options):
        names = tuple(s.torch_state if s.needed is None or s.needed(options[s.option]) else None
                      for s in self.streams[2:])
        layout = self._layouts[self.deciding(options)] = (names, tuple(n for n in names if n))
        return layout


_P, _G = Stream("params"), Stream("grads")
# Adam and AdamW run one kernel: the same streams and hyperparameters (AdamW sets `decoupled`).
_ADAM_STREAMS = (_P, _G, Stream("exp_avgs", "exp_avg"), Stream("exp_avg_sqs", "exp_avg_sq"),
                 Stream("max_exp_avg_sqs", "max_exp_avg_sq", "amsgrad=True", "amsgrad", bool))
_ADAM_HYPERPARAMETERS = ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize",
                         "decoupled")

_DECLARED = (
    OptimizerSpec(
        "sgd", "sgd", "SGD", True,
        (_P, _G, Stream("momentum_buffers", "momentum_buffer", "momentum != 0", "momentum",
                        lambda momentum: momentum != 0)),
        ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")),
    OptimizerSpec("adam", "adam", "Adam", True, _ADAM_STREAMS, _ADAM_HYPERPARAMETERS),
    OptimizerSpec("adamw", "adam", "AdamW", True, _ADAM_STREAMS, _ADAM_HYPERPARAMETERS),
    OptimizerSpec(
        "rmsprop", "rmsprop", "RMSprop", False,
        (_P, _G, Stream("square_avgs", "square_avg"),
         Stream("momentum_buffers", "momentum_buffer", "momentum > 0", "momentum",
                lambda momentum: momentum > 0),
         Stream("grad_avgs", "grad_avg", "centered=True", "centered", bool)),
        ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")),
    OptimizerSpec(
        "adagrad", "adagrad", "Adagrad", True,
        (_P, _G, Stream("state_sums", "sum")),
        ("lr", "lr_decay", "weight_decay", "eps", "maximize")),
)


def _kernel_order(spec):
    """The order the kernel's module reads a hyperparameter tuple in: the names it exports, which
    must be the spec's."""
    exported = _native.hyperparameters.get(spec.kernel) if _native is not None else None
    if exported is None:
        return spec.hyperparameters
    if set(exported) != set(spec.hyperparameters):
        raise ImportError(f"pygd._native's {spec.kernel} kernel takes {exported}; "
                          f"pygd/_specs.py declares {spec.hyperparameters}: rebuild pygd")
    return tuple(exported)


def _check_streams(spec):
    """The kernel's stream masks (which streams it writes, which may be absent) must say what the
    spec does: every stream but grads written, the optional ones those with `needed_when`."""
    if _native is None:
        return
    written, optional = _native.stream_masks[spec.kernel]
    bits = lambda names: sum(1 << k for k, s in enumerate(spec.streams) if s.name in names)  # noqa: E731
    if written != bits(set(spec.stream_names) - {"grads"}) or optional != bits(spec.optional_streams):
        raise ImportError(f"pygd._native's {spec.kernel} kernel has stream masks "
                          f"(written={written:#b}, optional={optional:#b}) that differ from "
                          f"pygd/_specs.py's streams {spec.stream_names}: rebuild pygd")


def _packer(names):
    """pack(**values): the tuple of `names`' values in that order; every name required, no other.
    Compiled once (as dataclasses compile __init__) so that a step pays one call."""
    args = ", ".join(names)
    return eval(f"lambda *, {args}: ({args},)", {})  # names are this module's identifiers


def _deciding(streams):
    """deciding(options): each optional stream's test of its option, so that the layouts are keyed
    by decisions (at most 2**k of them), never by values (a schedule may change momentum)."""
    tests = [(s.option, s.needed) for s in streams if s.needed is not None]
    if not tests:
        return lambda options: None
    if len(tests) == 1:
        ((option, needed),) = tests
        return lambda options: needed(options[option])
    return lambda options: tuple(needed(options[option]) for option, needed in tests)


def _bind(spec):
    _check_streams(spec)
    order = _kernel_order(spec)
    return OptimizerSpec(spec.name, spec.kernel, spec.torch_class, spec.takes_step, spec.streams,
                         order, _packer(order), _deciding(spec.streams))


SPECS = {spec.name: _bind(spec) for spec in _DECLARED}
# The kernels, by the spec that first names each: AdamW runs Adam's kernel.
KERNELS = {}
for _spec in SPECS.values():
    KERNELS.setdefault(_spec.kernel, _spec)
