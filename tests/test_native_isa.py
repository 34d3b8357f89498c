"""ISA parity of the C++ kernels, without Python in the loop: tests/native/isa_parity.cpp runs every
update and norm at every ISA level the machine supports and checks each against the scalar level's
bits. Built here by the project's CMake (the kernel library the extension links), and, where an aarch64
cross compiler and qemu-user exist, as a static aarch64 binary run under qemu-aarch64, so that the
NEON level is checked on an x86 machine too."""

import os
import platform
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_parity(out_dir, *cmake_args):
    """tests/native's isa_parity, built by the project's own CMake (PYGD_KERNELS_ONLY: the static
    kernel library with its ISA units, as the extension links it, and the program); the binary."""
    configure = ["cmake", "-S", ROOT, "-B", out_dir, "-DPYGD_KERNELS_ONLY=ON",
                 "-DCMAKE_BUILD_TYPE=Release", *cmake_args]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    for cmd in (configure, ["cmake", "--build", out_dir, "--target", "isa_parity", "-j", "2"]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return os.path.join(out_dir, "tests", "native", "isa_parity")


def run_parity(command, expect_isas):
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("OK"), done.stdout
    tested = next(line for line in done.stdout.splitlines() if line.startswith("isas tested:")).split()[2:]
    assert set(expect_isas) <= set(tested), (expect_isas, tested)
    return done.stdout


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which(os.environ.get("CXX", "g++")) is None,
                    reason="needs cmake and a C++ compiler")
def test_every_isa_matches_scalar_bitwise_on_the_host(tmp_path):
    binary = build_parity(str(tmp_path / "host"))
    expected = ["scalar"]
    if platform.machine().lower() in ("aarch64", "arm64"):
        expected.append("neon")
    run_parity([binary], expected)


CROSS_CXX = "aarch64-linux-gnu-g++"
QEMU = "qemu-aarch64"


@pytest.mark.skipif(shutil.which(CROSS_CXX) is None or shutil.which(QEMU) is None or shutil.which("cmake") is None,
                    reason=f"needs {CROSS_CXX} and {QEMU} (apt-get install g++-aarch64-linux-gnu qemu-user "
                           "libc6-dev-arm64-cross)")
def test_neon_matches_scalar_bitwise_under_qemu(tmp_path):
    """A static aarch64 build (no sysroot needed at run time) under qemu-user: scalar and neon, NaN
    bits included (aarch64's scalar and vector instructions choose NaNs by the same rules)."""
    binary = build_parity(str(tmp_path / "aarch64"), "-DCMAKE_SYSTEM_NAME=Linux",
                          "-DCMAKE_SYSTEM_PROCESSOR=aarch64", f"-DCMAKE_CXX_COMPILER={shutil.which(CROSS_CXX)}",
                          # static, so no aarch64 sysroot is needed at run time; libgomp has no
                          # static build there (the thread pool needs no OpenMP)
                          "-DCMAKE_EXE_LINKER_FLAGS=-static", "-DCMAKE_DISABLE_FIND_PACKAGE_OpenMP=ON")
    run_parity([shutil.which(QEMU), binary, "--strict-nan"], ["scalar", "neon"])
