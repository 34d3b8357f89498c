"""pygd.info(), the ISA knob, the environment variables read at import, the GIL (threads:
test_threads.py; fork: test_fork.py)."""

import json
import os
import platform
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import pygd
from cases import ISAS

# Every level a build for this architecture may have, ascending (what PYGD_ISA and set_isa name).
ARCH_LEVELS = {"x86_64": ("scalar", "avx2", "avx512"), "aarch64": ("scalar", "neon")}
MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
LEVELS = ARCH_LEVELS.get(MACHINE, ("scalar",))
# The other architectures' names, which this one refuses as unknown.
FOREIGN = sorted({isa for levels in ARCH_LEVELS.values() for isa in levels} - set(LEVELS))


def test_info_keys_and_types():
    info = pygd.info()
    assert set(info) == {"version", "backend", "isa", "isas", "compiled_isas", "threads",
                         "threads_source", "usable_cores", "openmp", "native_error", "cuda_built",
                         "cuda_devices", "cuda_error"}
    assert info["version"] == pygd.__version__
    assert isinstance(info["threads"], int) and info["threads"] >= 1
    assert isinstance(info["openmp"], bool)


def test_native_extension_is_built():
    info = pygd.info()
    assert info["native_error"] is None, f"pygd._native did not import: {info['native_error']}"
    wanted = os.environ.get("PYGD_BACKEND", "").strip().lower()
    assert info["backend"] == (wanted if wanted in ("native", "numba", "reference") else "native"), info


def test_isa_lists_are_consistent(native):
    from pygd._backends import native as backend
    assert backend.ISAS == LEVELS
    info = pygd.info()
    assert info["isas"][0] == "scalar"
    assert set(info["isas"]) <= set(info["compiled_isas"]) <= set(LEVELS)
    assert info["isas"] == sorted(info["isas"], key=LEVELS.index)
    assert info["isa"] in info["isas"]


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="needs /proc/cpuinfo")
def test_supported_isas_follow_the_cpu(native):
    """Each compiled level is supported exactly when the CPU (and OS) report its features."""
    with open("/proc/cpuinfo") as f:  # x86 lists "flags", aarch64 "Features"
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith(("flags", "Features"))),
                     None)
    if flags is None:
        pytest.skip("no flags or Features line in /proc/cpuinfo")
    needs = {"avx2": {"avx2", "fma"}, "avx512": {"avx512f", "avx512dq"}, "neon": {"asimd"}}
    info = pygd.info()
    for isa, features in needs.items():
        if isa in info["compiled_isas"]:
            assert (isa in info["isas"]) == features.issubset(flags), isa


@pytest.mark.parametrize("isa", ISAS)
def test_set_isa(isa, native):
    pygd.set_isa(isa)
    assert pygd.info()["isa"] == isa
    p = np.zeros(100, np.float32)
    pygd.sgd_(p, np.ones(100, np.float32), step=1, lr=0.5)
    assert np.array_equal(p, np.full(100, -0.5, np.float32))


@pytest.mark.parametrize("isa", ["sse2", "AVX2x", ""] + FOREIGN + [i for i in LEVELS if i not in ISAS])
def test_set_isa_rejects_unknown_or_unsupported(isa, native):
    before = pygd.info()["isa"]
    with pytest.raises(ValueError, match=r"isa must be one of .* on this machine, got"):
        pygd.set_isa(isa)
    assert pygd.info()["isa"] == before


# ----------------------------------------------------------------------------- environment

_PROBE = textwrap.dedent("""
    import json, sys, warnings
    sys.path.insert(0, {root!r})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import pygd
    print(json.dumps({{"info": pygd.info(), "file": pygd.__file__,
                      "warnings": [[w.category.__name__, str(w.message)] for w in caught]}}))
""")


def fresh_import(tmp_path, **env):
    """pygd.info() and the warnings of an import of this same pygd in a new interpreter with `env`."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(pygd.__file__)))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYGD_")}
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", _PROBE.format(root=root)], env=environ, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert os.path.samefile(result["file"], pygd.__file__)
    return result["info"], result["warnings"]


@pytest.fixture
def import_with(tmp_path, native):
    return lambda **env: fresh_import(tmp_path, **env)


def test_default_isa_is_the_best(import_with):
    info, warnings = import_with()
    assert info["isa"] == info["isas"][-1] == ISAS[-1]
    assert warnings == []


@pytest.mark.parametrize("cap", LEVELS + (LEVELS[-1].upper(), " scalar "))
def test_pygd_isa_caps_the_level(import_with, cap):
    """PYGD_ISA=level: the best supported level <= level (so avx512 without AVX-512 gives avx2)."""
    level = LEVELS.index(cap.strip().lower())
    info, warnings = import_with(PYGD_ISA=cap)
    assert info["isa"] == [isa for isa in ISAS if LEVELS.index(isa) <= level][-1]
    assert warnings == []


def test_pygd_isa_unknown_warns_and_uses_the_best(import_with):
    info, warnings = import_with(PYGD_ISA="bogus")
    assert info["isa"] == ISAS[-1]
    assert [w[0] for w in warnings] == ["RuntimeWarning"]
    assert "PYGD_ISA='bogus'" in warnings[0][1]


@pytest.mark.parametrize("backend", ["native", "reference", "auto"])
def test_pygd_backend(import_with, backend):
    info, warnings = import_with(PYGD_BACKEND=backend)
    assert info["backend"] == ("reference" if backend == "reference" else "native")
    assert warnings == []


@pytest.mark.parametrize("backend", ["cuda", "bogus"])
def test_pygd_backend_unknown_fails_the_import(tmp_path, native, backend):
    """An explicit backend that cannot be every call's default raises (python-zstandard's policy):
    nothing falls back silently."""
    with pytest.raises(AssertionError, match=rf"ImportError: PYGD_BACKEND='{backend}' is not one of"):
        fresh_import(tmp_path, PYGD_BACKEND=backend)


# ----------------------------------------------------------------------------- the GIL

@pytest.mark.skipif(not getattr(sys, "_is_gil_enabled", lambda: True)(), reason="no GIL in this build")
def test_gil_is_released_while_the_kernel_runs(native):
    """No timing involved. With a switch interval far longer than the test, the interpreter never
    takes the GIL from a thread by force: a thread runs Python only when the one holding the GIL
    gives it up of its own accord. The watcher starts under that rule, so it is parked in go.wait()
    when start() returns; in the loop below, the only moments this thread gives the GIL up are
    inside the native step. The watcher records whether this thread was inside a step when it got
    to run: True proves that the kernel released the GIL. A kernel that held it would let the
    watcher run only at join(), after the loop, where it records False."""
    if threading.active_count() > 1:
        pytest.skip("another Python thread could be handed the GIL at a forced switch already due")
    params = np.zeros(1 << 20, np.float32)
    grads = np.ones_like(params)
    in_step, seen, go = [False], [], threading.Event()

    def watcher():
        go.wait()
        seen.append(in_step[0])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    thread = threading.Thread(target=watcher)
    try:
        thread.start()
        go.set()
        for _ in range(2000):  # until the watcher has run: normally during the first step
            in_step[0] = True
            pygd.sgd_(params, grads, step=1, lr=1e-6, backend="native")
            in_step[0] = False
            if seen:
                break
    finally:
        go.set()
        if thread.ident is not None:  # started
            thread.join()
        sys.setswitchinterval(interval)
    assert seen == [True]


def test_pygd_backend_native_without_the_extension_fails_the_import(tmp_path):
    """PYGD_BACKEND=native names the extension: where it cannot load, import pygd raises rather
    than run the NumPy reference (which the default, auto, falls back to with a warning)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(pygd.__file__)))
    code = textwrap.dedent(f"""
        import sys, warnings
        sys.path.insert(0, {root!r})
        sys.modules["pygd._native"] = None  # as if the extension were not built
        try:
            import pygd
        except ImportError as e:
            print("ImportError:", e)
    """)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYGD_")}
    for backend, expected in (("native", "ImportError: PYGD_BACKEND=native: the native extension "
                                         "is not available"),
                              ("auto", "")):
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", code],
                             env={**environ, "PYGD_BACKEND": backend}, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().startswith(expected), out.stdout


def test_a_missing_extension_is_named_as_not_built(tmp_path):
    """pygd without its compiled modules (a copy of the sources alone): the fallback warning says
    the extension is not built, not Python's "most likely due to a circular import"."""
    import shutil
    source = os.path.dirname(os.path.abspath(pygd.__file__))
    shutil.copytree(source, tmp_path / "pygd", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    code = textwrap.dedent(f"""
        import sys, warnings
        # An editable install finds the checkout's extension by name: only the copy may be seen.
        # (setuptools' finder is a class; scikit-build-core's an instance, from _pygd_editable.py)
        sys.meta_path = [f for f in sys.meta_path if not any("editable" in n.lower() for n in (
            getattr(f, "__name__", ""), type(f).__name__, type(f).__module__))]
        sys.path.insert(0, {str(tmp_path)!r})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import pygd
        assert pygd.__file__.startswith({str(tmp_path)!r}), pygd.__file__
        print(pygd.info()["native_error"])
        print(*[str(w.message) for w in caught], sep="\\n")
    """)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYGD_")}
    out = subprocess.run([sys.executable, "-c", code], env=environ, cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pygd._native is not built"), out.stdout
    assert "falling back to the slow NumPy reference" in out.stdout
    assert "circular" not in out.stdout
