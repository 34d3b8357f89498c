"""pygd's type information: shipped with the package, true of the runtime, and what mypy sees.

- the marker and stubs are in the package that `import pygd` finds (as installed: a wheel's);
- each stub of a compiled module lists exactly the names the module exports;
- the stubs of what pygd compiles from its specs are current (`python -m pygd._stubgen`) and say
  what the compiled functions take;
- `mypy --strict` on a user's script (tests/typing/user_script.py) passes, revealing real types and
  rejecting misspelt keywords (skipped where mypy is not installed).
"""

import ast
import importlib
import importlib.util
import inspect
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import typing

import pytest

import pygd
from pygd import _backends, _steps, _stubgen, _typing
from pygd._specs import SPECS

PACKAGE = os.path.dirname(os.path.abspath(pygd.__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER_SCRIPT = os.path.join(ROOT, "tests", "typing", "user_script.py")
REGENERATE = "python -m pygd._stubgen"


@pytest.mark.parametrize("name", ["py.typed", "functional.pyi", os.path.join("optim", "_classes.pyi"),
                                  "_native.pyi", "_cuda.pyi"])
def test_the_package_ships_its_type_information(name):
    module = {"_native.pyi": "pygd._native", "_cuda.pyi": "pygd._cuda"}.get(name)
    if module is not None and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not built here, and its stub ships with it")
    assert os.path.isfile(os.path.join(PACKAGE, name)), f"{name} is missing from {PACKAGE}"


def _stub_names(path):
    """{top-level name: its ast node} of a stub, and {class name: {member names}}."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names, members = {}, {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            names.update((t.id, node) for t in node.targets)
        if isinstance(node, ast.ClassDef):
            members[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return names, members


def _exported(obj):
    return {n for n in dir(obj) if not n.startswith("__")}


def _check_stub(module, stub):
    names, members = _stub_names(os.path.join(PACKAGE, stub))
    # The stub's own aliases (_Problem, ...) are private names the module does not have.
    declared = {n for n, node in names.items()
                if not (n.startswith("_") and isinstance(node, ast.Assign))}
    assert declared == _exported(module), (
        f"{stub} declares {sorted(declared - _exported(module))} that {module.__name__} lacks, and "
        f"lacks {sorted(_exported(module) - declared)}: update the stub from its bindings")
    for cls, declared_members in members.items():
        runtime = {n for n in _exported(getattr(module, cls)) if not n.startswith("_")} | {"__init__"}
        assert declared_members == runtime, f"{stub}: {cls} declares {sorted(declared_members)}, has {sorted(runtime)}"


def test_native_stub_lists_the_module_names():
    native = pytest.importorskip("pygd._native", reason="pygd._native is not built here")
    _check_stub(native, "_native.pyi")


def test_cuda_stub_lists_the_module_names():
    try:
        cuda = importlib.import_module("pygd._cuda")
    except ImportError as exc:
        pytest.skip(f"pygd._cuda is not built or cannot load here ({exc})")
    _check_stub(cuda, "_cuda.pyi")


@pytest.mark.parametrize("relative", sorted(_stubgen.STUBS))
def test_generated_stubs_are_current(relative):
    with open(os.path.join(PACKAGE, relative), encoding="utf-8", newline="") as f:
        committed = f.read()
    assert committed == _stubgen.STUBS[relative](), (
        f"pygd/{relative} is not what the specs generate: run `{REGENERATE}` and commit it")


def _stub_signatures(relative):
    """{qualified name: [(name, kind, default or inspect.Parameter.empty)]} of a generated stub."""
    names, _ = _stub_names(os.path.join(PACKAGE, relative))
    found = {}
    for node in names.values():
        functions = [(node.name, node)] if isinstance(node, ast.FunctionDef) else [
            (f"{node.name}.{n.name}", n) for n in getattr(node, "body", ()) if isinstance(n, ast.FunctionDef)]
        for qualified, f in functions:
            a = f.args
            positional = [(p.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in a.args]
            defaults = [inspect.Parameter.empty] * (len(a.args) - len(a.defaults)) + [
                ast.literal_eval(d) for d in a.defaults]
            params = [(n, k, d) for (n, k), d in zip(positional, defaults)]
            params += [(p.arg, inspect.Parameter.KEYWORD_ONLY,
                        inspect.Parameter.empty if d is None else ast.literal_eval(d))
                       for p, d in zip(a.kwonlyargs, a.kw_defaults)]
            found[qualified] = params
    return found


def _runtime(function):
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_functional_stub_says_what_the_compiled_steps_take():
    stubs = _stub_signatures("functional.pyi")
    assert set(stubs) == set(pygd.functional.__all__)
    for name, params in stubs.items():
        assert params == _runtime(getattr(pygd, name)), name


def test_optimizer_stub_says_what_the_compiled_constructors_take():
    stubs = _stub_signatures(os.path.join("optim", "_classes.pyi"))
    classes = [c for c in pygd.optim.__all__ if c not in ("Optimizer", "to_arrays", "from_arrays")]
    assert set(stubs) == {f"{c}.__init__" for c in classes}
    for qualified, params in stubs.items():
        assert params == _runtime(getattr(pygd.optim, qualified.split(".")[0]).__init__), qualified


def test_each_option_annotation_admits_its_default():
    """The stubs annotate an option by its check (_steps.OPTION_TYPES): its default must be one."""
    kinds = {"float": float, "bool": bool, "tuple[float, float]": tuple, "tuple[float | None, float]": tuple}
    for spec in SPECS.values():
        for o in spec.options:
            if o.state is None:  # a state scalar has no default: the functional step requires it
                assert isinstance(o.default, kinds[_steps.OPTION_TYPES[o.check]]), (spec.name, o.name)


def test_backend_literal_names_every_backend():
    assert typing.get_args(_typing.Backend) == _backends.NAMES


def _site_packages():
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    paths.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    return {os.path.realpath(p) for p in paths}


def test_mypy_strict_on_a_user_script(tmp_path):
    """mypy --strict as a user runs it, outside the source tree: on an installed pygd (a wheel's
    files in site-packages) through its py.typed, else on the tree `import pygd` found here."""
    pytest.importorskip("mypy", reason="mypy is not installed (the `test` extra has it)")
    script = tmp_path / "user_script.py"
    shutil.copy(USER_SCRIPT, script)
    tree = os.path.dirname(PACKAGE)
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    command = [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"),
               "--no-error-summary", "--show-error-codes"]
    if os.path.realpath(tree) not in _site_packages():
        # A source tree (an editable install, whose import hook mypy does not follow): checked
        # with the project's own settings, which relax the Numba modules (see pyproject.toml).
        env["MYPYPATH"] = tree
        config = os.path.join(tree, "pyproject.toml")
        command += ["--config-file", config] if os.path.isfile(config) else []
    command += ["--strict", str(script)]
    ran = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = ran.stdout + ran.stderr
    errors = [line for line in output.splitlines() if ": error:" in line]
    assert ran.returncode == 0 and not errors, "mypy --strict on the user script:\n" + output

    revealed = dict(re.findall(r"user_script\.py:(\d+): note: Revealed type is \"(.*)\"", output))
    with open(USER_SCRIPT, encoding="utf-8") as f:
        expected = {str(n): line.split("# reveals:", 1)[1].strip()
                    for n, line in enumerate(f, 1) if "reveal_type(" in line and "# reveals:" in line}
    assert expected and set(revealed) == set(expected), (sorted(revealed), sorted(expected))
    for line, wanted in expected.items():
        for part in wanted.split(";"):
            assert part.strip() in revealed[line], f"line {line}: {part.strip()!r} not in {revealed[line]!r}"
