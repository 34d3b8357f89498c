"""The per-optimizer parts of the C ABI (csrc/capi/), generated from the specs.

    python -m pygd._capigen          # rewrites them
    python -m pygd._capigen --check  # exit status 1 where a committed file is not current

From each spec in pygd/_specs.py (and the kernel's hyperparameter order the native module
exports), two files:

- `csrc/capi/pygd.h`, between its GENERATED markers: per optimizer, its hyperparameter struct
  (its size first, then the fields its functional step's options set, in the kernel's order),
  `pygd_<name>_hparams_init` (torch's defaults) and `pygd_<name>_step`, one pointer table per
  stream, in the kernel's stream order.
- `csrc/capi/specs.inc`, included by csrc/capi/capi.cpp: per optimizer its declaration as data
  (fields, defaults, the check of each option, the rules, the condition that needs each optional
  stream, each as the spec words it) and the two functions, which call capi.cpp's one generic
  driver. The math and the drivers are the kernels' own; a new optimizer is a new spec and a
  regeneration.

tests/test_capi.py checks that both are current.
"""

from __future__ import annotations

import argparse
import ast
import os
import string
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Optional

from ._specs import SPECS, OptimizerSpec, Option
from ._version import __version__

# The optimizers the C ABI leaves out, with the reason. Its step takes each tensor as a flat size
# (count, sizes[]); a factored optimizer's state (Adafactor's row_var and col_var) follows each
# param's shape, which that signature does not carry.
SKIPPED = {name: "its factored state (row_var, col_var) needs each param's shape, which the C ABI's "
                 "(count, sizes) does not carry" for name, spec in SPECS.items() if spec.factored}
# The optimizers the C ABI has, in the specs' order.
C_SPECS = {name: spec for name, spec in SPECS.items() if name not in SKIPPED}
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPI_DIR = os.path.join(_ROOT, "csrc", "capi")
_BEGIN = "/* BEGIN GENERATED (python -m pygd._capigen, from pygd/_specs.py): do not edit by hand. */\n"
_END = "/* END GENERATED */\n"
_INC_HEADER = ("// Generated from pygd/_specs.py by `python -m pygd._capigen`: edit the specs (or\n"
               "// pygd/_capigen.py), not this file. Included by csrc/capi/capi.cpp.\n")
# The check kinds (_specs.CHECKS) as capi.cpp's Check enum names them: of one field; of a pair
# checked element by element (betas: "betas[0]", "betas[1]"); of a pair checked as one (etas).
_CHECK_ENUM = {"non_negative": "kNonNegative", "not_nan": "kNotNan", "unit_interval": "kUnitInterval"}
_PAIR_EACH = {"betas": "kBetas"}
_PAIR_WHOLE = {"etas": "kEtas", "step_sizes": "kStepSizes"}


def takes(o: Option) -> bool:
    """Whether the functional step takes the option (as itself, or split into its two names)."""
    return o.functional or bool(getattr(o, "functional_split", False))


def _option_of(spec: OptimizerSpec) -> dict[str, Option]:
    """{kernel hyperparameter: the option that sets it}."""
    return {name: o for o in spec.options for name in o.sets}


def struct_fields(spec: OptimizerSpec) -> list[tuple[str, bool]]:
    """(name, is_flag) of the struct's fields: the kernel hyperparameters the functional step's
    options set, in the kernel's order."""
    by = _option_of(spec)
    return [(n, by[n].check == "flag") for n in spec.hyperparameters if takes(by[n])]


def _defaults(spec: OptimizerSpec) -> dict[str, object]:
    """{kernel hyperparameter: its default}, betas split in two."""
    out: dict[str, object] = {}
    for o in spec.options:
        values = tuple(o.default) if len(o.sets) == 2 else (o.default,)  # type: ignore[arg-type]
        out.update(zip(o.sets, values))
    return out


def _c_number(value: object) -> str:
    """A default in C. None (an option the caller must give: NAdam's mu_product, state it keeps) is
    NaN, which every check rejects until the caller sets it."""
    if value is None:
        return "std::numeric_limits<double>::quiet_NaN()"
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(float(value))  # type: ignore[arg-type]


def _c_expr(source: str, flags: set[str]) -> str:
    """A spec's condition (a Python expression over option names) in C, over the struct `h`."""
    def emit(node: ast.AST) -> str:
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            return "(" + op.join(emit(v) for v in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"!{emit(node.operand)}"
        if isinstance(node, ast.Compare):
            ops = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
            parts, left = [], node.left
            for cmp, right in zip(node.ops, node.comparators):
                parts.append(f"{emit(left)} {ops[type(cmp)]} {emit(right)}")
                left = right
            return "(" + " && ".join(parts) + ")"
        if isinstance(node, ast.Name):
            return f"(h.{node.id} != 0)" if node.id in flags else f"h.{node.id}"
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return _c_number(node.value)
        raise ValueError(f"pygd._capigen cannot write {ast.dump(node)} in C")
    return emit(ast.parse(source, mode="eval").body)


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _message(template: str, flags: set[str]) -> list[str]:
    """A rule's message (str.format over option names, `!r` conversions) as appends to `out`."""
    lines = []
    for literal, field, _spec, conversion in string.Formatter().parse(template):
        if literal:
            lines.append(f"out += {_c_string(literal)};")
        if field is not None:
            if conversion not in ("r", None):
                raise ValueError(f"pygd._capigen: conversion !{conversion} in {template!r}")
            lines.append(f"out += flag_repr(h.{field});" if field in flags else f"out += py_repr(h.{field});")
    return lines


def _comment(text: str) -> str:
    """A C comment of `text`, wrapped at 100 columns."""
    lines = textwrap.wrap(text, 94)
    return "/* " + "\n * ".join(lines) + " */\n"


def _stream_params(spec: OptimizerSpec) -> list[str]:
    return [f"void* const* {s.name}" for s in spec.streams]


def _prototype(spec: OptimizerSpec, indent: str, prefix: str = "") -> str:
    struct = f"pygd_{spec.name}_hparams"
    params = ["int32_t dtype", "int64_t count", "const int64_t* sizes", *_stream_params(spec)]
    if spec.takes_step:
        params.append("int64_t step")
    params += [f"const {struct}* hparams", "double grad_scale"]
    lines, line = [], f"{prefix}int32_t pygd_{spec.name}_step("
    for k, p in enumerate(params):
        piece = p + (", " if k < len(params) - 1 else ")")
        if len(line) + len(piece) > 98:
            lines.append(line.rstrip())
            line = indent
        line += piece
    lines.append(line)
    return "\n".join(lines)


def header_part() -> str:
    """The generated region of pygd.h (between the markers)."""
    out = [f'#define PYGD_VERSION_STRING "{__version__}"\n']
    for spec in C_SPECS.values():
        struct = f"pygd_{spec.name}_hparams"
        defaults = _defaults(spec)
        fields = struct_fields(spec)
        streams = ", ".join(s.name for s in spec.streams)
        optional = [f"{s.name} (needed when {s.needed_when}, else it may be NULL)"
                    for s in spec.streams if s.needed_if]
        first = (spec.doc.strip().splitlines() or [""])[0]
        mirrors = f"torch.optim.{spec.torch_class}, " if spec.torch_class else ""
        out.append("\n" + _comment(f"---- {spec.name}: {mirrors}pygd.{spec.name}_. {first}"))
        out.append(f"typedef struct {struct} {{\n")
        out.append(f"  uint32_t size; /* sizeof({struct}): set by pygd_{spec.name}_hparams_init */\n")
        for name, flag in fields:
            kind = "int32_t" if flag else "double"
            default = "none: NaN until set (required)" if defaults[name] is None else _c_number(defaults[name])
            out.append(f"  {kind} {name}; /* default {default} */\n")
        out.append(f"}} {struct};\n")
        out.append(f"/* Sets torch's defaults; `size` is sizeof *hparams. */\n"
                   f"PYGD_API void pygd_{spec.name}_hparams_init({struct}* hparams, uint32_t size);\n")
        note = (f"Streams: {streams}. The grads are read (and stored back divided by grad_scale when it "
                "is not 1: GradScaler's loss scale), the others updated in place.")
        if optional:
            note += " " + "; ".join(optional) + "."
        note += (" step: the 1-based step count." if spec.takes_step
                 else " No step count: the update does not depend on it.")
        out.append(_comment(note))
        out.append(_prototype(spec, "    ", "PYGD_API ") + ";\n")
    return "".join(out)


def header(capi_dir: str = CAPI_DIR) -> str:
    """pygd.h with its generated region current."""
    path = os.path.join(capi_dir, "pygd.h")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    begin, end = text.index(_BEGIN) + len(_BEGIN), text.index(_END)
    return text[:begin] + header_part() + text[end:]


def specs_inc(capi_dir: str = CAPI_DIR) -> str:
    """csrc/capi/specs.inc."""
    out = [_INC_HEADER]
    for spec in C_SPECS.values():
        name, struct = spec.name, f"pygd_{spec.name}_hparams"
        defaults = _defaults(spec)
        fields = struct_fields(spec)
        flags = {n for n, f in fields if f}
        in_struct = {n for n, _ in fields}
        out.append(f"\n// ---- {name}\nnamespace {{\n\n")
        out.append(f"{struct} {name}_defaults() {{\n  {struct} d;\n  std::memset(&d, 0, sizeof d);\n"
                   "  d.size = sizeof d;\n")
        out += [f"  d.{n} = {_c_number(defaults[n])};\n" for n, _ in fields]
        out.append("  return d;\n}\n\n")
        out.append(f"const {struct} k_{name}_defaults = {name}_defaults();\n\n")
        out.append(f"const Spec k_{name} = make_spec(\n    {_c_string(name)}, {_c_string(spec.kernel)}, "
                   f"{'true' if spec.takes_step else 'false'}, sizeof({struct}), &k_{name}_defaults,\n")
        # fields: every kernel hyperparameter, from the struct or (options the step does not take)
        # from the default the functional step uses
        items = []
        for n in spec.hyperparameters:
            if n in in_struct:
                items.append(f"      Field::from_struct({_c_string(n)}, offsetof({struct}, {n}), "
                             f"{'true' if n in flags else 'false'})")
            else:
                items.append(f"      Field::fixed({_c_string(n)}, {_c_number(defaults[n])})")
        out.append("    {\n" + ",\n".join(items) + "},\n")
        checks = []
        for o in spec.options:
            if not takes(o) or o.check == "flag":
                continue
            if o.check in _PAIR_EACH:
                for k, n in enumerate(o.sets):
                    checks.append(f"      {{Check::{_PAIR_EACH[o.check]}, \"{o.name}[{k}]\", offsetof({struct}, {n})}}")
            elif o.check in _PAIR_WHOLE:
                a, b = o.sets
                checks.append(f"      {{Check::{_PAIR_WHOLE[o.check]}, {_c_string(o.name)}, offsetof({struct}, {a}), "
                              f"offsetof({struct}, {b})}}")
            else:
                if o.check not in _CHECK_ENUM:
                    raise ValueError(f"pygd._capigen: {spec.name}'s option {o.name} has check {o.check!r}, "
                                     "which the C ABI lacks: add it to _CHECK_ENUM here and to Check in "
                                     "csrc/capi/capi.cpp (with pygd/_validate.py's words)")
                checks.append(f"      {{Check::{_CHECK_ENUM[o.check]}, {_c_string(o.name)}, "
                              f"offsetof({struct}, {o.sets[0]})}}")
        out.append("    {\n" + ",\n".join(checks) + "},\n")
        rules = []
        for rule in spec.rules:
            body = "\n".join(f"          {line}" for line in _message(rule.message, flags))
            rules.append(f"      {{[](const void* p) {{ const auto& h = *static_cast<const {struct}*>(p); "
                         f"return {_c_expr(rule.broken, flags)}; }},\n"
                         f"       [](const void* p, std::string& out) {{\n"
                         f"          const auto& h = *static_cast<const {struct}*>(p);\n{body}\n        }}}}")
        out.append("    {\n" + ",\n".join(rules) + "},\n" if rules else "    {},\n")
        streams = []
        for s in spec.streams:
            if s.needed_if:
                streams.append(f"      {{{_c_string(s.name)}, [](const void* p) {{ const auto& h = "
                               f"*static_cast<const {struct}*>(p); return {_c_expr(s.needed_if, flags)}; }}, "
                               f"{_c_string(str(s.needed_when))}}}")
            else:
                streams.append(f"      {{{_c_string(s.name)}, nullptr, nullptr}}")
        out.append("    {\n" + ",\n".join(streams) + "});\n\n}  // namespace\n\n")
        out.append(f"extern \"C\" PYGD_API void pygd_{name}_hparams_init({struct}* hparams, uint32_t size) {{\n"
                   f"  init_hparams(k_{name}, hparams, size);\n}}\n\n")
        args = ", ".join(s.name for s in spec.streams)
        step = "step" if spec.takes_step else "1"
        definition = _prototype(spec, "    ", 'extern "C" PYGD_API ')
        out.append(f"{definition} {{\n"
                   f"  void* const* streams[] = {{{args}}};\n"
                   f"  return run(k_{name}, dtype, count, sizes, streams, {step}, hparams, grad_scale);\n}}\n")
    return "".join(out)


FILES: dict[str, Callable[[str], str]] = {"pygd.h": header, "specs.inc": specs_inc}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Writes the files (or, with --check, reports those that differ); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m pygd._capigen", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")
    parser.add_argument("--root", default=_ROOT, help="the source tree (default: the one above this module)")
    args = parser.parse_args(argv)
    capi_dir = os.path.join(args.root, "csrc", "capi")
    if not os.path.isdir(capi_dir):
        print(f"pygd._capigen: no {capi_dir} (run it in a source checkout)", file=sys.stderr)
        return 2
    stale = []
    for relative, render in FILES.items():
        path = os.path.join(capi_dir, relative)
        text = render(capi_dir)
        try:
            with open(path, encoding="utf-8") as f:
                current: Optional[str] = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        stale.append(relative)
        if not args.check:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
    for relative in stale:
        print(f"csrc/capi/{relative} {'is stale' if args.check else 'written'}", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
