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

import itertools
import linecache

from . import _backends, _validate
from ._validate import MAX_STEP

# Per check (_specs.CHECKS): the expression that normalizes option `{n}` (a valid float passes
# through untouched), or raises naming it.
_CHECKED = {
    "non_negative": '{n} if type({n}) is float and {n} >= 0.0 else _v.non_negative("{n}", {n})',
    "not_nan": '{n} if type({n}) is float and {n} == {n} else _v.not_nan("{n}", {n})',
    "unit_interval": ('{n} if type({n}) is float and 0.0 <= {n} <= 1.0 '
                      'else _v.in_unit_interval("{n}", {n}, include_one=True)'),
    "flag": "bool({n})",
}
_BETAS = """\
    if type({n}) is tuple and len({n}) == 2 and type({n}[0]) is float and type({n}[1]) is float \\
            and 0.0 <= {n}[0] < 1.0 and 0.0 <= {n}[1] < 1.0:
        {a}, {b} = {n}
    else:
        {a}, {b} = _v.betas({n})"""
_STEP = "    step = step if type(step) is int and 1 <= step < _MAX_STEP else _v.step_count(step)"
_counter = itertools.count()


def _option_checks(options):
    """Lines that check each option and set the kernel's names from it."""
    lines = []
    for o in options:
        if o.check == "betas":
            a, b = o.sets
            lines.append(_BETAS.format(n=o.name, a=a, b=b))
        else:
            target = o.sets[0] if o.sets else o.name
            lines.append(f"    {target} = {_CHECKED[o.check].format(n=o.name)}")
    return lines


def _rule_checks(spec):
    lines = []
    for k, rule in enumerate(spec.rules):
        lines += [f"    if {rule.broken}:",
                  f"        raise ValueError(_rules[{k}].message.format(**locals()))"]
    return lines


def _kernel_tuple(spec):
    return "(" + "".join(f"{name}, " for name in spec.hyperparameters) + ")"


def _compile(source, name, namespace):
    filename = f"<pygd._steps {name} {next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - source built above from specs
    return namespace[name]


def _namespace(spec):
    return {"_v": _validate, "_MAX_STEP": MAX_STEP, "_rules": spec.rules,
            "_for_call": _backends.for_call, "_buffer_error": _validate.buffer_error,
            "_defaults": {o.name: o.default for o in spec.options}}


def functional_step(spec):
    """pygd.<spec.name>_, compiled from the spec."""
    required = [s.name for s in spec.streams if not s.needed_if]
    positional = required + [f"{s.name}=None" for s in spec.streams if s.needed_if and s.positional]
    keywords = ["step"] if spec.takes_step else []
    for o in spec.options:
        if o.functional:
            keywords.append(f'{o.name}=_defaults["{o.name}"]')
        keywords += [f"{s.name}=None" for s in spec.streams
                     if s.needed_if and not s.positional and s.option == o.name]
    keywords.append('backend="auto"')
    body = [_STEP] if spec.takes_step else []
    body += _option_checks([o for o in spec.options if o.functional])
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
    body += [f"    streams = {streams}",
             f'    problem = _for_call(backend, params).steps["{spec.kernel}"](',
             f"        streams, {'step' if spec.takes_step else 1}, {_kernel_tuple(spec)})",
             "    if problem is not None:",
             f'        raise _buffer_error(problem, "{spec.kernel}", streams)']
    name = f"{spec.name}_"
    source = "\n".join([f"def {name}({', '.join(positional)}, *, {', '.join(keywords)}):",
                        f'    """{spec.doc}"""', *body, ""])
    step = _compile(source, name, _namespace(spec))
    step.__module__ = "pygd.functional"
    return step


def group_reader(spec):
    """hparams(group): a pygd.optim param group's options checked as the functional step checks
    them (TypeError/ValueError naming the option), as the kernel's hyperparameter tuple."""
    body = [f'    {o.name} = group["{o.name}"]' for o in spec.options]
    body += _option_checks(spec.options) + _rule_checks(spec)
    body.append(f"    return {_kernel_tuple(spec)}")
    source = "\n".join(["def hparams(group):", *body, ""])
    return _compile(source, "hparams", _namespace(spec))


def torch_group_reader(spec):
    """hparams(group): a torch.optim param group, which torch has checked (its lr and betas may be
    tensors), as the kernel's hyperparameter tuple."""
    body = []
    for o in spec.options:
        if o.check == "betas":
            body.append(f'    {o.sets[0]}, {o.sets[1]} = (float(b) for b in group["{o.name}"])')
        elif o.sets:
            convert = "bool" if o.check == "flag" else "float"
            body.append(f'    {o.sets[0]} = {convert}(group["{o.name}"])')
    body.append(f"    return {_kernel_tuple(spec)}")
    source = "\n".join(["def hparams(group):", *body, ""])
    return _compile(source, "hparams", {})


def optimizer_constructor(spec, base):
    """__init__(self, params, <options as torch.optim's constructor takes them>, *, backend) of a
    pygd.optim class: the group defaults, including those its constructor does not take (AdamW's
    decoupled_weight_decay), handed to base.__init__ (pygd.optim's Optimizer)."""
    positional = [f'{o.name}=_defaults["{o.name}"]' for o in spec.options
                  if o.constructor and not o.keyword_only]
    keywords = [f'{o.name}=_defaults["{o.name}"]' for o in spec.options
                if o.constructor and o.keyword_only] + ['backend="auto"']
    defaults = ", ".join(f'"{o.name}": {o.name if o.constructor else f"_defaults[{o.name!r}]"}'
                         for o in spec.options)
    source = "\n".join([
        f"def __init__(self, params, {', '.join(positional)}, *, {', '.join(keywords)}):",
        f"    _base.__init__(self, params, {{{defaults}}}, backend)", ""])
    return _compile(source, "__init__", {**_namespace(spec), "_base": base})
