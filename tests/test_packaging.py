"""Building pygd from its sources as a user would: the sdist, and a wheel where no compiler is.

Needs the build requirements in this environment (scikit-build-core, pybind11, cmake, ninja: the
`test` extra has them), since these builds run without build isolation (no index needed), and a
source tree (a checkout, or an unpacked sdist) above this file.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = [
    pytest.mark.skipif(not os.path.isfile(os.path.join(ROOT, "CMakeLists.txt")),
                       reason="no source tree above the tests"),
    pytest.mark.skipif(shutil.which("cmake") is None, reason="no cmake here (the test extra has it)"),
]
BUILD_TIMEOUT = 900
# What must never travel in an sdist or come from the source tree into a wheel.
BUILD_PRODUCTS = (".so", ".pyd", ".dylib", ".o", ".whl")


def _requires_build_backend():
    pytest.importorskip("scikit_build_core")
    pytest.importorskip("pybind11")


def _source_copy(tmp_path):
    """The sources as a checkout has them, without an earlier build's products."""
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", ".venv*", "__pycache__", "*.so",
                                    ".git", ".asv", "*.whl", ".mypy_cache", ".pytest_cache",
                                    ".hypothesis")
    tree = tmp_path / "src"
    shutil.copytree(ROOT, tree, ignore=ignore)
    return tree


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYGD_", "CUDA"))}
    env.update(extra)
    return env


def _run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, timeout=BUILD_TIMEOUT, **kwargs)
    return done, done.stdout[-4000:] + done.stderr[-4000:]


def _run_python(code, paths, cwd):
    """Runs `code` with `paths` first on sys.path and this environment's site-packages after them,
    but none of its .pth files (-S): an editable install of pygd here must not win the import."""
    site_packages = [p for p in sys.path if p.endswith("site-packages")]
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths] + site_packages!r}\n"
    return _run([sys.executable, "-S", "-c", prelude + code], cwd=cwd, env=_clean_env())


def _pip_wheel(tree, out, env):
    return _run([sys.executable, "-m", "pip", "wheel", str(tree), "--no-build-isolation",
                 "--no-deps", "-w", str(out), "-q"], env=env)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """An sdist built the way a release is, with PYGD_CUDA=0 and no nvcc on PATH (the case that
    once left csrc/cuda/ out)."""
    _requires_build_backend()
    tmp = tmp_path_factory.mktemp("sdist")
    tree = _source_copy(tmp)
    # A stale compiled module in the tree, as an old in-place build leaves: never in the sdist.
    (tree / "pygd" / "_native.cpython-311-x86_64-linux-gnu.so").write_bytes(b"stale")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if not os.path.isfile(os.path.join(p, "nvcc")))
    code = f"from scikit_build_core.build import build_sdist; print(build_sdist({str(tmp / 'dist')!r}))"
    done, log = _run([sys.executable, "-c", code], cwd=tree, env=_clean_env(PYGD_CUDA="0", PATH=path))
    assert done.returncode == 0, log
    (archive,) = (tmp / "dist").glob("pygd-*.tar.gz")
    return archive


def _sdist_names(archive):
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        return top, {n[len(top) + 1:] for n in tar.getnames() if n.startswith(top + "/")}


def test_sdist_holds_every_source_and_no_build_product(sdist):
    top, names = _sdist_names(sdist)
    assert top == "pygd-" + _version()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout:
        expected = {n for n in tracked.stdout.splitlines() if not n.startswith((".github/", ".ci/"))
                    and os.path.isfile(os.path.join(ROOT, n))}
    else:  # an unpacked sdist: the files beside these tests
        expected = {os.path.relpath(os.path.join(d, f), ROOT)
                    for d, _, fs in os.walk(ROOT) for f in fs if "__pycache__" not in d
                    and not f.endswith(BUILD_PRODUCTS) and f != "PKG-INFO" and "build" not in d}
    missing = sorted(n for n in expected if n not in names)
    assert not missing, f"the sdist lacks {missing[:20]}"
    for needed in ("LICENSE", "CMakeLists.txt", "cmake/isa_units.cmake", "csrc/cuda/CMakeLists.txt",
                   "csrc/cuda/module.cpp", "csrc/cuda/adam.cu", "tests/cases.py", "tests/conftest.py",
                   "tests/float64_reference.py", "examples/first_steps.py", "PKG-INFO"):
        assert needed in names, needed
    assert any(n.startswith("benchmarks/") for n in names)
    products = [n for n in names if n.endswith(BUILD_PRODUCTS) or n.startswith("build/")]
    assert not products, products


def _version():
    scope = {}
    with open(os.path.join(ROOT, "pygd", "_version.py")) as f:
        exec(f.read(), scope)
    return scope["__version__"]


@pytest.fixture(scope="module")
def unpacked(sdist, tmp_path_factory):
    target = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(sdist) as tar:
        tar.extractall(target)
    return target / ("pygd-" + _version())


@pytest.mark.skipif(shutil.which("nvcc") is None and not os.path.isfile("/usr/local/cuda/bin/nvcc"),
                    reason="no nvcc here")
def test_sdist_configures_the_cuda_module_where_nvcc_is(unpacked, tmp_path):
    """The sdist made without nvcc has all CUDA sources: where nvcc is, its build configures with
    PYGD_CUDA=1 (every .cu file the build lists exists; configuring runs nvcc's compiler check)."""
    _requires_build_backend()
    import pybind11
    done, log = _run(["cmake", "-S", str(unpacked), "-B", str(tmp_path / "b"), "-G", "Ninja",
                      "-DPYGD_CUDA=1", f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
                      f"-DPython_EXECUTABLE={sys.executable}"], env=_clean_env())
    assert done.returncode == 0, log
    targets, log = _run(["cmake", "--build", str(tmp_path / "b"), "--target", "help"])
    assert "_cuda" in targets.stdout, log


def test_sdist_installs_and_its_tests_run(unpacked, tmp_path):
    """pip installs the sdist (its CPU build), and the tests it carries pass against that install."""
    _requires_build_backend()
    site = tmp_path / "site"
    done, log = _run([sys.executable, "-m", "pip", "install", str(unpacked), "--no-build-isolation",
                      "--no-deps", "--target", str(site), "-q"], env=_clean_env(PYGD_CUDA="0"))
    assert done.returncode == 0, log
    code = "import pygd; print(pygd.__file__, pygd.info()['backend'])"
    ran, log = _run_python(code, [site], cwd=tmp_path)
    assert ran.returncode == 0 and ran.stdout.split() == [str(site / "pygd" / "__init__.py"), "native"], log
    for shipped in ("lib/libpygd.so", "include/pygd.h", "lib/pkgconfig/pygd.pc"):  # the C ABI
        assert (site / "pygd" / shipped).is_file(), shipped
    tests = ["tests/test_functional.py", "tests/test_specs.py", "tests/test_validate.py"]
    if importlib.util.find_spec("cffi") is not None:  # the C ABI, from this install's files
        tests += ["tests/test_capi.py", "tests/test_capi_examples.py"]
    # The million-element parity runs are the main suite's: here they would only repeat its minute.
    skip = ["--deselect", "tests/test_functional.py::test_native_matches_float64_reference_large"]
    code = f"import pytest; sys.exit(pytest.main(['-q', '-x', '-p', 'no:cacheprovider', *{skip!r}, *{tests!r}]))"
    ran, log = _run_python(code, [site, unpacked / "tests"], cwd=unpacked)
    assert ran.returncode == 0, log
    assert " passed" in ran.stdout, log


def test_without_a_compiler_the_wheel_is_python_alone(tmp_path):
    """CC and CXX that fail (nvcc present or not), and a stale compiled module in the tree: the
    build succeeds without any compiled module, and the installed pygd runs its NumPy reference,
    saying why."""
    _requires_build_backend()
    tree = _source_copy(tmp_path)
    (tree / "pygd" / "_native.cpython-311-x86_64-linux-gnu.so").write_bytes(b"stale")
    done, log = _pip_wheel(tree, tmp_path / "wheels", _clean_env(CC="false", CXX="false"))
    assert done.returncode == 0, log
    (wheel,) = (tmp_path / "wheels").glob("pygd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for typed in ("pygd/py.typed", "pygd/functional.pyi", "pygd/optim/_classes.pyi", "pygd/_native.pyi",
                  "pygd/_cuda.pyi"):
        assert typed in names, typed
    assert not [n for n in names if n.endswith(BUILD_PRODUCTS)], names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = ("import warnings\n"
            "warnings.simplefilter('ignore')\n"
            "import numpy as np, pygd\n"
            f"assert pygd.__file__.startswith({str(target)!r}), pygd.__file__\n"
            "p = np.ones(3)\n"
            "pygd.sgd_(p, np.ones(3), step=1, lr=0.5)\n"
            "assert p.tolist() == [0.5] * 3\n"
            "try:\n"
            "    pygd.get_library()\n"
            "except FileNotFoundError as e:\n"
            "    print('no libpygd:', e)\n"
            "try:\n"
            "    import pygd.capi\n"
            "except ImportError as e:\n"
            "    print('no pygd.capi:', e)\n"
            "print(pygd.info()['native_error'])\n")
    ran, log = _run_python(code, [target], cwd=tmp_path)
    assert ran.returncode == 0, log
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("no libpygd: this pygd has no libpygd.so (it was installed without a C++"), lines
    if importlib.util.find_spec("cffi") is not None:
        assert lines[1].startswith("no pygd.capi: pygd.capi needs libpygd, pygd's C ABI library"), lines
    assert lines[-1].startswith("pygd._native is not built"), ran.stdout


@pytest.mark.parametrize("missing", ["compiler", "nvcc"])
def test_cuda_required_but_impossible_fails_clearly(tmp_path, missing):
    """PYGD_CUDA=1 where the C++ compiler or nvcc is missing: the build fails, saying which."""
    _requires_build_backend()
    tree = _source_copy(tmp_path)
    env = _clean_env(PYGD_CUDA="1")
    if missing == "compiler":
        env.update(CC="false", CXX="false")
        expected = "PYGD_CUDA=1 but no working C++ compiler was found"
    else:
        env.update(CUDACXX=str(tmp_path / "no-such-nvcc"))
        expected = "PYGD_CUDA=1 but no nvcc was found"
    done, log = _pip_wheel(tree, tmp_path / "wheels", env)
    assert done.returncode != 0
    assert expected in done.stdout + done.stderr, log


@pytest.mark.skipif(shutil.which("nvcc") is None and not os.path.isfile("/usr/local/cuda/bin/nvcc"),
                    reason="no nvcc here")
def test_no_stale_cuda_module_after_a_cuda_build(tmp_path):
    """A CUDA build, then PYGD_CUDA=0 in the same tree (its build directory reused): the second
    wheel has no pygd._cuda."""
    _requires_build_backend()
    tree = _source_copy(tmp_path)
    done, log = _pip_wheel(tree, tmp_path / "cuda", _clean_env(PYGD_CUDA_ARCHS="90-real"))
    assert done.returncode == 0, log
    (wheel,) = (tmp_path / "cuda").glob("pygd-*.whl")
    assert any(n.startswith("pygd/_cuda.") for n in zipfile.ZipFile(wheel).namelist())
    done, log = _pip_wheel(tree, tmp_path / "cpu", _clean_env(PYGD_CUDA="0"))
    assert done.returncode == 0, log
    (wheel,) = (tmp_path / "cpu").glob("pygd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("pygd/_cuda.") and not n.endswith(".pyi")], names
    assert any(n.startswith("pygd/_native.") and n.endswith(".so") for n in names), names
