"""ISA parity of the C++ kernels, without Python in the loop: tests/native/isa_parity.cpp runs every
update and norm at every ISA level the machine supports and checks each against the scalar level's
bits. Built here with the host compiler as setup.py builds the extension, and, where an aarch64
cross compiler and qemu-user exist, as a static aarch64 binary run under qemu-aarch64, so that the
NEON level is checked on an x86 machine too."""

import ast
import os
import platform
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from glob import glob

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = os.path.join(ROOT, "tests", "native", "isa_parity.cpp")


def setup_constants():
    """ISA_UNITS, ISA_TUNING, COMMON_FLAGS, OPENMP_FLAG as setup.py spells them (read, not run)."""
    with open(os.path.join(ROOT, "setup.py")) as f:
        tree = ast.parse(f.read())
    wanted = {"ISA_UNITS", "ISA_TUNING", "COMMON_FLAGS", "OPENMP_FLAG"}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], "id", None) in wanted:
            found[node.targets[0].id] = ast.literal_eval(node.value)
    assert set(found) == wanted, f"setup.py no longer defines {wanted - set(found)}"
    return found


def accepts(cxx, flags, tmp, code="int main() { return 0; }\n"):
    src = os.path.join(tmp, "probe.cpp")
    with open(src, "w") as f:
        f.write(code)
    done = subprocess.run([cxx, src, "-o", os.path.join(tmp, "probe"), *flags], capture_output=True)
    return done.returncode == 0


def build_parity(cxx, out_dir, x86, link_flags=()):
    """Compiles csrc/cpu/*.cpp and the parity program with `cxx` and links them; returns the binary.

    The one compile command of this test (a CMake target is to replace it). As setup.py does: every
    unit gets COMMON_FLAGS, -std=c++17 and -pthread (and OpenMP where the compiler has it); on
    x86-64 each ISA unit the compiler accepts is added with its own flags (and tuning) and defines
    its PYGD_BUILD_* macro for every unit; elsewhere the x86 units are left out (NEON needs no flag:
    sweeps.h decides it from the compiler's macros). Two compile jobs at a time."""
    consts = setup_constants()
    os.makedirs(out_dir, exist_ok=True)
    common = ["-std=c++17", *consts["COMMON_FLAGS"], "-pthread", "-I" + os.path.join(ROOT, "csrc", "include"),
              "-I" + os.path.join(ROOT, "csrc")]
    omp = consts["OPENMP_FLAG"]
    omp_probe = "#include <omp.h>\nint main(void) { return omp_get_max_threads(); }\n"
    if accepts(cxx, [omp, "-pthread", *link_flags], out_dir, omp_probe):
        common.append(omp)
    units, defines = [], []
    for src in sorted(glob(os.path.join(ROOT, "csrc", "cpu", "*.cpp"))) + [PROGRAM]:
        unit = consts["ISA_UNITS"].get(os.path.basename(src))
        flags = []
        if unit is not None:
            macro, isa_flags = unit
            if not (x86 and accepts(cxx, isa_flags, out_dir)):
                continue
            tuning = consts["ISA_TUNING"].get(os.path.basename(src), [])
            flags = isa_flags + (tuning if tuning and accepts(cxx, isa_flags + tuning, out_dir) else [])
            defines.append(f"-D{macro}=1")
        units.append((src, flags))

    def compile_one(unit):
        src, flags = unit
        obj = os.path.join(out_dir, os.path.basename(src) + ".o")
        cmd = [cxx, *common, *defines, *flags, "-c", src, "-o", obj]
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stderr}"
        return obj

    with ThreadPoolExecutor(max_workers=2) as pool:
        objects = list(pool.map(compile_one, units))
    binary = os.path.join(out_dir, "isa_parity")
    cmd = [cxx, *objects, "-o", binary, *[f for f in common if f in ("-pthread", omp)], *link_flags]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stderr}"
    return binary


def run_parity(command, expect_isas):
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("OK"), done.stdout
    tested = next(line for line in done.stdout.splitlines() if line.startswith("isas tested:")).split()[2:]
    assert set(expect_isas) <= set(tested), (expect_isas, tested)
    return done.stdout


def host_cxx():
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++")


@pytest.mark.skipif(host_cxx() is None, reason="needs a host C++ compiler (g++)")
def test_every_isa_matches_scalar_bitwise_on_the_host(tmp_path):
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    binary = build_parity(host_cxx(), str(tmp_path / "host"), x86)
    expected = ["scalar"]
    if platform.machine().lower() in ("aarch64", "arm64"):
        expected.append("neon")
    run_parity([binary], expected)


CROSS_CXX = "aarch64-linux-gnu-g++"
QEMU = "qemu-aarch64"


@pytest.mark.skipif(shutil.which(CROSS_CXX) is None or shutil.which(QEMU) is None,
                    reason=f"needs {CROSS_CXX} and {QEMU} (apt-get install g++-aarch64-linux-gnu qemu-user "
                           "libc6-dev-arm64-cross)")
def test_neon_matches_scalar_bitwise_under_qemu(tmp_path):
    """A static aarch64 build (no sysroot needed at run time) under qemu-user: scalar and neon, NaN
    bits included (aarch64's scalar and vector instructions choose NaNs by the same rules)."""
    binary = build_parity(shutil.which(CROSS_CXX), str(tmp_path / "aarch64"), x86=False, link_flags=["-static"])
    run_parity([shutil.which(QEMU), binary, "--strict-nan"], ["scalar", "neon"])
