"""The stubs of what pygd compiles from its specs at import, which a type checker cannot see.

    python -m pygd._stubgen          # rewrites pygd/functional.pyi and pygd/optim/_classes.pyi
    python -m pygd._stubgen --check  # exit status 1 where a committed stub is not current

The functional steps and the optimizer classes' constructors are compiled from _specs.py by
_steps.py; the stubs render the same parameter lists (_steps.functional_parameters,
constructor_parameters) with annotations, so a stub says exactly what the compiled function takes.
tests/test_typing.py checks that the committed stubs are current.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Optional

from . import _steps
from ._specs import SPECS
from .optim import Optimizer

_HEADER = ("# Generated from pygd/_specs.py by `python -m pygd._stubgen`: edit the specs (or\n"
           "# pygd/_steps.py, pygd/_stubgen.py), not this file.\n")


def functional_stub() -> str:
    """pygd/functional.pyi: every functional step, with its docstring, and __all__."""
    names = "".join(f'\n    "{name}_",' for name in SPECS)  # one a line: the list keeps growing
    parts = [_HEADER, '"""' + _module_doc("functional") + '"""\n\n',
             "from ._typing import Arrays, Backend, CopyArrays, F, FactorArrays\n\n",
             f"__all__ = [{names}\n]\n"]
    parts += ["\n\n" + _steps.functional_stub(spec) for spec in SPECS.values()]
    return "".join(parts)


def classes_stub() -> str:
    """pygd/optim/_classes.pyi: each optimizer class with its compiled __init__."""
    from .optim import _classes

    by_spec = {cls._spec.name: cls for cls in vars(_classes).values()
               if isinstance(cls, type) and issubclass(cls, Optimizer)
               and cls.__module__ == _classes.__name__}
    parts = [_HEADER, '"""' + _module_doc("optim._classes") + '"""\n\n',
             "from collections.abc import Iterable\n\n",
             "from .._typing import Backend, FloatArray, ParamGroup\n",
             "from ._base import Optimizer\n"]
    for k, name in enumerate(SPECS):
        cls = by_spec[name]
        (base,) = cls.__bases__
        # One blank line after the imports, as isort lays out a stub; two between classes.
        parts += ["\n" if k == 0 else "\n\n", f"class {cls.__name__}({base.__name__}):\n",
                  f'    """{cls.__doc__}"""\n\n', _steps.constructor_stub(SPECS[name])]
    return "".join(parts)


def _module_doc(name: str) -> str:
    return importlib.import_module(f"pygd.{name}").__doc__ or ""


_ROOT = os.path.dirname(os.path.abspath(__file__))
STUBS: dict[str, Callable[[], str]] = {"functional.pyi": functional_stub,
                                       os.path.join("optim", "_classes.pyi"): classes_stub}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Writes the stubs (or, with --check, reports those that differ); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m pygd._stubgen", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a stub is stale")
    args = parser.parse_args(argv)
    stale = []
    for relative, render in STUBS.items():
        path = os.path.join(_ROOT, relative)
        text = render()
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        stale.append(relative)
        if not args.check:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
    for relative in stale:
        print(f"pygd/{relative} {'is stale' if args.check else 'written'}", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
