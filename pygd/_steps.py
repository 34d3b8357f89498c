"""What each optimizer's spec (_specs.py) compiles to: its functional step and its param-group readers.

- `functional_step(spec)`: `pygd.<name>_(params, grads, <states>, *, step, <options>, backend)`.
  It checks every option (and the rules between them, and the states they require), then hands
  the streams and the kernel's hyperparameter tuple to the backend in one call; the backend checks
  the arrays before writing and returns a problem that _validate words as the exception.
- `group_reader(spec)`: a param group (pygd.optim) checked as the step checks its options, read as
  the kernel's tuple.
- `torch_group_reader(spec)`: a torch.optim param group (torch has checked it) read as the tuple.
- `optimizer_constructor(spec, base)`: a pygd.optim class's __init__, torch.optim's arguments.

Compiled from source, as dataclasses compile __init__: a 4096-element step costs ~3 us in all, so
its checks are inline expressions whose common case (a valid float) calls no function. The source
is registered with linecache, so tracebacks and inspect show it.
"""

from __future__ import annotations

import itertools
import linecache
from collections.abc import Callable
from typing import Any, NamedTuple, Optional

from . import _backends, _dlpack, _validate
from ._specs import PAIR_CHECKS, OptimizerSpec, Option, Stream
from ._validate import MAX_STEP

# Per check (_specs.CHECKS): the expression that normalizes option `{n}` (a valid float passes
# through untouched), or raises naming it.
_CHECKED = {
    "non_negative": '{n} if type({n}) is float and {n} >= 0.0 else _v.non_negative("{n}", {n})',
    "non_positive": '{n} if type({n}) is float and {n} <= 0.0 else _v.non_positive("{n}", {n})',
    "at_least_one": '{n} if type({n}) is float and {n} >= 1.0 else _v.at_least_one("{n}", {n})',
    "not_nan": '{n} if type({n}) is float and {n} == {n} else _v.not_nan("{n}", {n})',
    "unit_interval": ('{n} if type({n}) is float and 0.0 <= {n} <= 1.0 '
                      'else _v.in_unit_interval("{n}", {n}, include_one=True)'),
    "flag": "bool({n})",
}
# Pairs (_specs.PAIR_CHECKS): a tuple of two valid floats passes through, anything else is checked
# (and its message made) by the _validate function named after the check.
_PAIR = """\
    if type({n}) is tuple and len({n}) == 2 and type({n}[0]) is float and type({n}[1]) is float \\
            and {valid}:
        {a}, {b} = {n}
    else:
        {a}, {b} = _v.{check}({n})"""
_PAIR_VALID = {"betas": "0.0 <= {n}[0] < 1.0 and 0.0 <= {n}[1] < 1.0",
               "etas": "0.0 < {n}[0] < 1.0 < {n}[1]",
               "step_sizes": "0.0 <= {n}[0] <= {n}[1]",
               "eps_pair": "0.0 <= {n}[0] and 0.0 <= {n}[1]"}
_STEP = "    step = step if type(step) is int and 1 <= step < _MAX_STEP else _v.step_count(step)"
_counter = itertools.count()


def _option_checks(options: list[Option] | tuple[Option, ...], split: bool = False) -> list[str]:
    """Lines that check each option and set the kernel's names from it (in the functional step,
    `split`, from the two names of a functional_split pair)."""
    lines = []
    for o in options:
        if o.check in PAIR_CHECKS:
            a, b = o.sets
            # A split pair is held by its two names (its own names a stream there).
            n = f"({a}, {b})" if split and o.functional_split else o.name
            lines.append(_PAIR.format(n=n, a=a, b=b, check=o.check, valid=_PAIR_VALID[o.check].format(n=n)))
        else:
            target = o.sets[0] if o.sets else o.name
            lines.append(f"    {target} = {_CHECKED[o.check].format(n=o.name)}")
    return lines


def _rule_checks(spec: OptimizerSpec) -> list[str]:
    lines = []
    for k, rule in enumerate(spec.rules):
        lines += [f"    if {rule.broken}:",
                  f"        raise ValueError(_rules[{k}].message.format(**locals()))"]
    return lines


def _kernel_tuple(spec: OptimizerSpec) -> str:
    return "(" + "".join(f"{name}, " for name in spec.hyperparameters) + ")"


def _compile(source: str, name: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    filename = f"<pygd._steps {name} {next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - source built above from specs
    compiled: Callable[..., Any] = namespace[name]
    return compiled


def _namespace(spec: OptimizerSpec) -> dict[str, Any]:
    return {"_v": _validate, "_MAX_STEP": MAX_STEP, "_rules": spec.rules,
            "_for_call": _backends.for_call, "_buffer_error": _validate.buffer_error,
            "_host_views": _dlpack.host_views,
            "_defaults": {o.name: o.default for o in spec.options}}


# A group reader's value for a state scalar (Option.state): its caller puts each call's in its place.
_STATE_PLACEHOLDER = "1.0"


class Parameter(NamedTuple):
    """One parameter of a compiled function, as its source and its stub (functional.pyi,
    optim/_classes.pyi) write it: both are rendered from the same list, so they cannot differ."""
    name: str
    annotation: str  # in the stubs' namespace (pygd._typing's names); "" for self
    default: Optional[str] = None  # the default's source in the compiled namespace; None: required
    value: object = None  # the default's value, which the stub writes


# The stubs' annotation of an option, by its check (_specs.CHECKS): what the check accepts as is.
OPTION_TYPES = {"non_negative": "float", "non_positive": "float", "at_least_one": "float",
                "not_nan": "float", "unit_interval": "float",
                "betas": "tuple[float, float]", "etas": "tuple[float, float]",
                "step_sizes": "tuple[float, float]", "eps_pair": "tuple[float | None, float]",
                "flag": "bool"}
_ARRAYS, _OPTIONAL_ARRAYS, _FACTOR_ARRAYS = "Arrays[F]", "Arrays[F] | None", "FactorArrays[F]"
_BACKEND = Parameter("backend", "Backend", '"auto"', "auto")
# Mode (C) of the low-precision layouts (docs/low-precision.md): float32 master params, and a
# bfloat16/float16 copy of them written in the same pass (write-only; the native backend).
# pygd.optim's extension (docs/low-precision.md, mode B): float32 states for bfloat16/float16 params.
_STATE_DTYPE = Parameter("state_dtype", "str | None", "None", None)
_PARAM_COPY = Parameter("param_copy", "CopyArrays | None", "None", None)


def _option(o: Option) -> Parameter:
    if o.state is not None:  # required: per-tensor state the caller keeps
        return Parameter(o.name, OPTION_TYPES[o.check])
    return Parameter(o.name, OPTION_TYPES[o.check], f'_defaults["{o.name}"]', o.default)


def _optional_stream(s: Stream) -> Parameter:
    return Parameter(s.name, _OPTIONAL_ARRAYS, "None", None)


_Parameters = tuple[list[Parameter], list[Parameter]]


def functional_parameters(spec: OptimizerSpec) -> _Parameters:
    """(positional, keyword-only) Parameters of pygd.<spec.name>_: the streams its options do not
    make optional (and SGD's momentum_buffers) by position; the step count, the options, each
    optional stream after the option that needs it, and backend by keyword."""
    positional = [Parameter(s.name, _FACTOR_ARRAYS if s.shape else _ARRAYS) for s in spec.streams if not s.needed_if]
    positional += [_optional_stream(s) for s in spec.streams if s.needed_if and s.positional]
    keywords = [Parameter("step", "int")] if spec.takes_step else []
    for o in spec.options:
        if o.functional_split:
            keywords += [Parameter(name, "float", f'_defaults["{o.name}"][{i}]', o.default[i])  # type: ignore[index]
                         for i, name in enumerate(o.sets)]
        elif o.functional:
            keywords.append(_option(o))
        keywords += [_optional_stream(s) for s in spec.streams
                     if s.needed_if and not s.positional and s.option == o.name]
    return positional, keywords + ([_PARAM_COPY] if spec.elementwise else []) + [_BACKEND]


def render_parameters(positional: list[Parameter], keywords: list[Parameter],
                      stub_indent: Optional[str] = None) -> str:
    """The parameter list of a def: as compiled (defaults from the compiled namespace), or, given
    the def's indent, for a stub (annotated, the defaults' values, one parameter a line)."""
    def one(p: Parameter) -> str:
        if stub_indent is None:
            return p.name if p.default is None else f"{p.name}={p.default}"
        text = f"{p.name}: {p.annotation}" if p.annotation else p.name
        if p.default is None:
            return text
        return f'{text} = "{p.value}"' if isinstance(p.value, str) else f"{text} = {p.value!r}"
    items = [*map(one, positional), "*", *map(one, keywords)]
    if stub_indent is None:
        return ", ".join(items)
    return "".join(f"\n{stub_indent}    {item}," for item in items) + f"\n{stub_indent}"


def functional_step(spec: OptimizerSpec) -> Callable[..., None]:
    """pygd.<spec.name>_, compiled from the spec."""
    positional, keywords = functional_parameters(spec)
    body = [_STEP] if spec.takes_step else []
    body += _option_checks([o for o in spec.options if o.functional or o.functional_split], split=True)
    # Options the step does not take set the kernel's names from their defaults (AdamW: decoupled).
    body += [f'    {o.sets[0]} = bool(_defaults["{o.name}"])' for o in spec.options
             if not o.functional and o.sets]
    body += _rule_checks(spec)
    for s in spec.streams:
        if s.needed_if:
            body += [f"    if {s.needed_if}:",
                     f'        _v.required("{s.name}", {s.name}, "{s.needed_when}")',
                     "    else:",
                     f"        {s.name} = None"]
    streams = "(" + "".join(f"{s.name}, " for s in spec.streams) + ")"
    body += [f"    streams = {streams}"]
    if spec.elementwise:
        body += ["    if param_copy is not None:",
                 "        streams = _v.with_param_copy(streams, param_copy, _for_call(backend, params))"]
    body += [f"    hparams = {_kernel_tuple(spec)}",
             f'    problem = _for_call(backend, params).steps["{spec.kernel}"](',
             f"        streams, {'step' if spec.takes_step else 1}, hparams)",
             "    if problem is not None:",
             # Host arrays that speak DLPack (torch CPU tensors, JAX arrays), as NumPy views.
             "        viewed = _host_views(problem, streams)",
             "        if viewed is not None:",
             "            streams = viewed",
             f'            problem = _for_call(backend, streams[0]).steps["{spec.kernel}"](',
             f"                streams, {'step' if spec.takes_step else 1}, hparams)",
             "        if problem is not None:",
             f'            raise _buffer_error(problem, "{spec.kernel}", streams)']
    name = f"{spec.name}_"
    source = "\n".join([f"def {name}({render_parameters(positional, keywords)}):",
                        f'    """{spec.doc}"""', *body, ""])
    step = _compile(source, name, _namespace(spec))
    step.__module__ = "pygd.functional"
    return step


def functional_stub(spec: OptimizerSpec) -> str:
    """pygd.<spec.name>_'s declaration in functional.pyi: the parameters it is compiled with."""
    return (f"def {spec.name}_({render_parameters(*functional_parameters(spec), '')}) -> None:\n"
            f'    """{spec.doc}"""\n')


def group_reader(spec: OptimizerSpec) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """hparams(group): a pygd.optim param group's options checked as the functional step checks
    them (TypeError/ValueError naming the option), as the kernel's hyperparameter tuple."""
    options = [o for o in spec.options if o.state is None]
    body = [f'    {o.name} = group["{o.name}"]' for o in options]
    body += [f"    {o.name} = {_STATE_PLACEHOLDER}" for o in spec.state_scalars]
    body += _option_checks(options) + _rule_checks(spec)
    body.append(f"    return {_kernel_tuple(spec)}")
    source = "\n".join(["def hparams(group):", *body, ""])
    return _compile(source, "hparams", _namespace(spec))


def torch_group_reader(spec: OptimizerSpec) -> Callable[[Any], tuple[Any, ...]]:
    """hparams(group): a torch.optim param group, which torch has checked (its lr and betas may be
    tensors), as the kernel's hyperparameter tuple."""
    body = [f"    {o.name} = {_STATE_PLACEHOLDER}" for o in spec.state_scalars]
    for o in spec.options:
        if o.state is not None:
            continue
        if o.check == "eps_pair":  # eps1 None: the dtype's machine epsilon (_validate.EPS_OF_DTYPE)
            body.append(f'    {o.sets[0]}, {o.sets[1]} = (-1.0 if b is None else float(b) for b in group["{o.name}"])')
        elif o.check in PAIR_CHECKS:
            body.append(f'    {o.sets[0]}, {o.sets[1]} = (float(b) for b in group["{o.name}"])')
        elif o.sets:
            convert = "bool" if o.check == "flag" else "float"
            body.append(f'    {o.sets[0]} = {convert}(group["{o.name}"])')
    body.append(f"    return {_kernel_tuple(spec)}")
    source = "\n".join(["def hparams(group):", *body, ""])
    return _compile(source, "hparams", {})


def constructor_parameters(spec: OptimizerSpec) -> _Parameters:
    """(positional, keyword-only) Parameters of a pygd.optim class's __init__: self, params and the
    options its constructor takes, in torch.optim's order; its keyword-only options and backend."""
    params = Parameter("params", "Iterable[FloatArray] | Iterable[ParamGroup]")
    positional = [Parameter("self", ""), params]
    positional += [_option(o) for o in spec.options if o.constructor and not o.keyword_only]
    keywords = [_option(o) for o in spec.options if o.constructor and o.keyword_only]
    return positional, keywords + [_BACKEND, _STATE_DTYPE]


def optimizer_constructor(spec: OptimizerSpec, base: type) -> Callable[..., None]:
    """__init__(self, params, <options as torch.optim's constructor takes them>, *, backend) of a
    pygd.optim class: the group defaults, including those its constructor does not take (AdamW's
    decoupled_weight_decay), handed to base.__init__ (pygd.optim's Optimizer)."""
    defaults = ", ".join(f'"{o.name}": {o.name if o.constructor else f"_defaults[{o.name!r}]"}'
                         for o in spec.options if o.state is None)
    source = "\n".join([
        f"def __init__({render_parameters(*constructor_parameters(spec))}):",
        f"    _base.__init__(self, params, {{{defaults}}}, backend, state_dtype)", ""])
    return _compile(source, "__init__", {**_namespace(spec), "_base": base})


def constructor_stub(spec: OptimizerSpec) -> str:
    """The __init__ of a pygd.optim class in optim/_classes.pyi: the parameters it is compiled with."""
    return f"    def __init__({render_parameters(*constructor_parameters(spec), '    ')}) -> None: ...\n"
