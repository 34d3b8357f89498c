"""Building pygd from its sources as a user would, where it matters how: without a C++ compiler.

Needs the build requirements in this environment (pybind11, setuptools: the `test` extra has them)
and a source tree (a checkout, or an unpacked sdist) above this file.
"""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(ROOT, "setup.py")),
                                reason="no source tree above the tests")


def _source_copy(tmp_path):
    """The sources without build products (an earlier build's modules must not leak in)."""
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", ".venv*", "__pycache__", "*.so",
                                    ".git", ".asv", "*.whl")
    tree = tmp_path / "src"
    shutil.copytree(ROOT, tree, ignore=ignore)
    return tree


def test_without_a_compiler_the_wheel_is_python_alone(tmp_path):
    """CC and CXX that fail (and nvcc present or not): the build succeeds, without any compiled
    module, and the installed pygd runs its NumPy reference, saying why."""
    pytest.importorskip("pybind11")
    tree = _source_copy(tmp_path)
    env = dict(os.environ, CC="false", CXX="false")
    env.pop("PYGD_CUDA", None)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(tree), "--no-build-isolation",
                            "--no-deps", "-w", str(tmp_path / "wheels"), "-q"],
                           env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("pygd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pygd/functional.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd"))], names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = ("import sys, warnings\n"
            "sys.meta_path = [f for f in sys.meta_path if 'ditable' not in getattr(f, '__name__', '')]\n"
            f"sys.path.insert(0, {str(target)!r})\n"
            "warnings.simplefilter('ignore')\n"
            "import numpy as np, pygd\n"
            f"assert pygd.__file__.startswith({str(target)!r}), pygd.__file__\n"
            "p = np.ones(3)\n"
            "pygd.sgd_(p, np.ones(3), step=1, lr=0.5)\n"
            "assert p.tolist() == [0.5] * 3\n"
            "print(pygd.info()['native_error'])\n")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={k: v for k, v in os.environ.items() if not k.startswith("PYGD_")}, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("pygd._native is not built"), ran.stdout
