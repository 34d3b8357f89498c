"""Every public callable of pygd's API has a docstring (the API reference of docs/ is made of them).

Public: what each public module's __all__ lists (else the names it defines without a leading
underscore), and the public methods and properties of each public class. Docstrings inherited from
a base class count, as they do in the reference (a schedule's lr_at is its base's).
"""

import importlib
import inspect
import pkgutil

import pytest

# The modules whose names are pygd's API; pygd.torch and pygd.numba need their optional extras.
MODULES = ["pygd", "pygd.functional", "pygd.optim", "pygd.schedules", "pygd.data", "pygd.clip",
           "pygd.accumulation", "pygd.runtime", "pygd.cli", "pygd.bench", "pygd.torch", "pygd.numba"]
OPTIONAL = {"pygd.torch": "torch", "pygd.numba": "numba"}


def _modules():
    bench = importlib.import_module("pygd.bench")
    return MODULES + [f"pygd.bench.{m.name}" for m in pkgutil.iter_modules(bench.__path__)]


def _public(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__]
    return names


def _undocumented(obj, name):
    doc = getattr(obj, "__doc__", None) or ""
    # A dataclass or namedtuple without a docstring gets one made of its fields: "Size(label, ...)".
    return not doc.strip() or (inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("))


def _members(cls):
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            yield name, value.fget
        elif isinstance(value, (staticmethod, classmethod)):
            yield name, value.__func__
        elif callable(value):
            yield name, getattr(cls, name)


@pytest.mark.parametrize("module_name", _modules())
def test_every_public_callable_has_a_docstring(module_name):
    if module_name in OPTIONAL:
        pytest.importorskip(OPTIONAL[module_name])
    module = importlib.import_module(module_name)
    missing = [] if (module.__doc__ or "").strip() else [module_name]
    for name in _public(module):
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        if _undocumented(obj, name):
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(obj):
            missing += [f"{module_name}.{name}.{member}" for member, f in _members(obj)
                        if not inspect.getdoc(f) and not _inherited_doc(obj, member)]
    assert not missing, f"public callables without a docstring: {', '.join(missing)}"


def _inherited_doc(cls, member):
    return any(getattr(getattr(base, member, None), "__doc__", None) for base in cls.__mro__[1:])
