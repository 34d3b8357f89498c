"""The C ABI from outside Python: C programs built by the system compiler against the installed
header and library (pygd.get_include(), pygd.get_library(), as `pygd --cflags --libs` and the
pkg-config file give them), and the Numba loop that calls it through cffi. Each skips where its
tool is missing (cc, pkg-config, numba, cffi)."""

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import float64_reference
import pygd
from cases import NATIVE, assert_close, subprocess_env

ROOT = Path(__file__).resolve().parent.parent
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")

pytestmark = [pytest.mark.skipif(not NATIVE, reason="pygd was built without its native code (no libpygd)")]
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler")


def build(source, out, flags=None):
    """Compiles C99 `source` against pygd.h and libpygd; returns the executable's path."""
    from pygd import _paths
    flags = flags if flags is not None else [*_paths.cflags().split(), *_paths.libs().split()]
    exe = str(out / Path(source).stem)
    cmd = [CC, "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror", "-pedantic", str(source),
           *flags, "-lm", "-o", exe]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stderr}"
    return exe


def run(*cmd, env=None):
    """Runs a program (a Python child imports the pygd these tests import: cases.subprocess_env)."""
    cwd = None
    if env is None and cmd[0] == sys.executable:
        env, cwd = subprocess_env()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}: {done.stderr}"
    return done.stdout


# ----------------------------------------------------------------------------- examples/c

def logistic_regression_in_python(epochs):
    """examples/c/logistic_regression.c, line for line, with pygd.adam_ for its Adam steps."""
    mask, state = 2**64 - 1, [0x9E3779B97F4A7C15]

    def uniform():
        s = state[0]
        s ^= s >> 12
        s ^= (s << 25) & mask
        s ^= s >> 27
        state[0] = s
        return float(((s * 0x2545F4914F6CDD1D) & mask) >> 11) * (1.0 / 9007199254740992.0)

    truth = [1.5, -2.0, 0.5, 0.0, 3.0, -1.0, 0.25, -0.75]
    xs, ys = [], []
    for _ in range(512):
        z, row = 0.5, []
        for t in truth:
            row.append(2.0 * uniform() - 1.0)
            z += t * row[-1]
        xs.append(row)
        ys.append(1.0 if z + 0.5 * (uniform() - 0.5) > 0.0 else 0.0)
    w, b = np.zeros(8), np.zeros(1)
    gw, gb = np.zeros(8), np.zeros(1)
    m, v = [np.zeros(8), np.zeros(1)], [np.zeros(8), np.zeros(1)]
    for epoch in range(1, epochs + 1):
        acc_w, acc_b = [0.0] * 8, 0.0
        wl, bl = w.tolist(), float(b[0])
        for row, y in zip(xs, ys):
            z = bl
            for j in range(8):
                z += wl[j] * row[j]
            p = 1.0 / (1.0 + math.exp(-z))
            r = (p - y) / 512
            for j in range(8):
                acc_w[j] += r * row[j]
            acc_b += r
        gw[:], gb[0] = acc_w, acc_b
        pygd.adam_([w, b], [gw, gb], m, v, step=epoch, lr=0.05)
    return w, b


@needs_cc
def test_the_c_example_trains_and_matches_pygd_adam_bitwise(tmp_path):
    exe = build(ROOT / "examples" / "c" / "logistic_regression.c", tmp_path)
    out = run(exe, "60")
    lines = out.splitlines()
    assert "rejected: lr must be >= 0, got -1.0" in lines
    w = np.array([float(line.split()[1]) for line in lines if line.startswith("w ")])
    b = np.array([float(line.split()[1]) for line in lines if line.startswith("b ")])
    ref_w, ref_b = logistic_regression_in_python(60)
    assert w.tobytes() == ref_w.tobytes() and b.tobytes() == ref_b.tobytes()
    full = run(exe)
    assert float(full.split("accuracy ")[1].split()[0]) > 0.95


# ----------------------------------------------------------------------------- from the header alone

SHAPES = [(1,), (7,), (33,), (1031,), (16, 9)]
OPTIONS = dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True, maximize=True)


def _steps_input(path, dtype, steps, rng):
    sizes = [int(np.prod(s)) for s in SHAPES]
    params = [rng.standard_normal(n).astype(dtype) for n in sizes]
    grads = [[rng.standard_normal(n).astype(dtype) for n in sizes] for _ in range(steps)]
    with open(path, "wb") as f:
        f.write(np.int32(0 if dtype == np.float32 else 1).tobytes())
        f.write(np.array([len(sizes), steps, *sizes], np.int64).tobytes())
        f.write(np.concatenate(params).tobytes())
        for g in grads:
            f.write(np.concatenate(g).tobytes())
    return sizes, params, grads


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_a_program_from_the_header_alone_matches_the_reference(tmp_path, dtype):
    exe = build(ROOT / "tests" / "capi" / "adam_from_header.c", tmp_path)
    steps = 6
    sizes, params, grads = _steps_input(tmp_path / "in.bin", dtype, steps, np.random.default_rng(3))
    run(exe, "steps", str(tmp_path / "in.bin"), str(tmp_path / "out.bin"))
    out = np.fromfile(tmp_path / "out.bin", dtype).reshape(4, -1)
    got = [np.split(stream, np.cumsum(sizes)[:-1]) for stream in out]

    # pygd.adam_, bit for bit
    mine = [p.copy() for p in params]
    states = [[np.zeros_like(p) for p in params] for _ in range(3)]
    for t in range(1, steps + 1):
        pygd.adam_(mine, grads[t - 1], states[0], states[1], step=t, max_exp_avg_sqs=states[2], **OPTIONS)
    for stream, ours in zip(got, [mine, *states]):
        assert all(a.tobytes() == b.tobytes() for a, b in zip(stream, ours))

    # the float64 oracle, within the tests' bound (cases.py)
    ref = [p.astype(np.float64) for p in params]
    ref_states = {k: [np.zeros(n) for n in sizes] for k in ("exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs")}
    for t in range(1, steps + 1):
        float64_reference.step("adam", ref, [g.astype(np.float64) for g in grads[t - 1]], ref_states, t, OPTIONS)
    assert_close(got[0], ref, dtype, steps, "params")
    for k, name in enumerate(("exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"), start=1):
        assert_close(got[k], ref_states[name], dtype, steps, name)


@needs_cc
def test_bad_input_from_c_is_a_code_and_a_message_never_a_crash(tmp_path):
    exe = build(ROOT / "tests" / "capi" / "adam_from_header.c", tmp_path)
    lines = run(exe, "errors").splitlines()
    assert lines == [
        "1: params is NULL",
        "1: params[0] is NULL",
        "1: sizes[0] must be >= 0, got -1",
        "1: count must be >= 0, got -5",
        "1: params[0] is not aligned to its dtype's size",
        "1: params[0] and exp_avgs[0] share memory; every array this call writes must have memory of its own",
        "2: dtype must be PYGD_FLOAT32 (0) or PYGD_FLOAT64 (1), got 42; pygd updates native-endian float32 and "
        "float64 arrays",
        "1: step must be >= 1 and < 2**62 (the 1-based step count), got 0",
        "1: hparams is NULL",
        "1: max_exp_avg_sqs is required when amsgrad=True",
        "1: betas[0] must be in [0, 1), got 1.0",
        "1: hparams.size is 0; set it with pygd_adam_hparams_init(&hparams, sizeof hparams)",
        f"3: this libpygd (pygd {pygd.__version__}) has ABI version 1, the caller's pygd.h has 2: build against "
        "the pygd.h it ships",
        "unchanged 1",
    ]


@needs_cc
@pytest.mark.skipif(shutil.which("pkg-config") is None, reason="no pkg-config")
@pytest.mark.parametrize("source", ["installed", "cli"])
def test_pkg_config_file_builds_a_program(tmp_path, source):
    """The pygd.pc installed beside libpygd (pygd/lib/pkgconfig/), and the one `pygd --pkg-config`
    writes."""
    if source == "installed":
        directory = Path(pygd.get_library()).parent / "pkgconfig"
        assert (directory / "pygd.pc").is_file()
    else:
        directory = tmp_path
        out = run(sys.executable, "-m", "pygd", "--pkg-config")
        (directory / "pygd.pc").write_text(out)
    env = dict(os.environ, PKG_CONFIG_PATH=str(directory))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "pygd"], capture_output=True, text=True, env=env,
                           check=True).stdout.split()
    exe = build(ROOT / "tests" / "capi" / "adam_from_header.c", tmp_path, flags)
    assert "unchanged 1" in run(exe, "errors")


@pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler")
def test_the_header_is_also_cpp(tmp_path):
    source = tmp_path / "uses_pygd.cpp"
    source.write_text("#include <pygd.h>\n"
                      "int main() { pygd_adam_hparams h; pygd_adam_hparams_init(&h, sizeof h);\n"
                      "  return pygd_check_abi(PYGD_ABI_VERSION) == PYGD_OK && h.lr == 1e-3 ? 0 : 1; }\n")
    from pygd import _paths
    exe = str(tmp_path / "uses_pygd")
    done = subprocess.run([shutil.which("c++"), "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", str(source),
                           *_paths.cflags().split(), *_paths.libs().split(), "-o", exe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run(exe)


# ----------------------------------------------------------------------------- ctypes (README)

def test_the_readmes_ctypes_snippet_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- ctypes-snippet -->\n```python\n", 1)[1].split("\n```\n", 1)[0]
    out = run(sys.executable, "-c", block)
    assert out == "1 lr must be >= 0, got -1.0\n"


# ----------------------------------------------------------------------------- Numba over cffi

def test_the_numba_loop_over_the_c_abi_matches_pygd_adam():
    pytest.importorskip("numba")
    pytest.importorskip("cffi")
    out = run(sys.executable, str(ROOT / "examples" / "numba_capi.py"), "40")
    assert "agree bit for bit" in out
