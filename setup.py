"""Builds pygd._native: the C++ kernels, compiled once per x86 ISA level and chosen at run time.

Each file in csrc/cpu/sweeps_<isa>.cpp is compiled with its own instruction-set flags; everything
else is compiled for the baseline of the target, never for the build machine's own CPU: a wheel
built here must run on any CPU of its architecture. PYGD_BUILD_JOBS caps parallel compile jobs.

Builds pygd._cuda, the CUDA kernels (csrc/cuda/), when nvcc is found (CUDA_HOME or CUDA_PATH, then
PATH, then /usr/local/cuda): PYGD_CUDA=1 requires it, PYGD_CUDA=0 skips it. Once attempted, a failed
CUDA build fails the build. PYGD_CUDA_ARCHS (e.g. "80,90") replaces the architectures chosen below.
"""

import os
import platform
import re
import shutil
import subprocess
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from glob import glob

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

IS_X86_64 = platform.machine().lower() in ("x86_64", "amd64")

# Per-ISA translation units and the flags each needs. Splitting unaligned 256-bit loads (gcc's
# generic tuning) only costs time on every CPU that runs the AVX2 path, hence ISA_TUNING.
ISA_UNITS = {
    "sweeps_avx2.cpp": ("PYGD_BUILD_AVX2", ["-mavx2", "-mfma"]),
    "sweeps_avx512.cpp": ("PYGD_BUILD_AVX512", ["-mavx512f", "-mavx512dq"]),
}
# Added to an ISA unit's flags where the compiler knows them (gcc does, clang does not).
ISA_TUNING = {
    "sweeps_avx2.cpp": ["-mno-avx256-split-unaligned-load", "-mno-avx256-split-unaligned-store"],
}
# -fno-math-errno lets sqrt become one (vector) instruction: with errno semantics gcc keeps a scalar
# libm fallback per element, which alone makes Adam 2.4x slower. No -ffast-math: the rules of
# IEEE arithmetic (NaN, inf, exact rounding) are part of the numerics we promise. -ffp-contract=off
# so only the multiply-adds the math headers spell as fmadd are fused.
COMMON_FLAGS = ["-O3", "-fno-math-errno", "-ffp-contract=off"]
OPENMP_FLAG = "-fopenmp"
# With OpenMP, pygd reads its thread limit (csrc/cpu/thread_count.cpp); it starts no OpenMP threads.
OPENMP_PROBE = "#include <omp.h>\nint main(void) { return omp_get_max_threads(); }\n"


def compiler_accepts(compiler, flags, code="int main(void) { return 0; }\n"):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.cpp")
        with open(src, "w") as f:
            f.write(code)
        try:
            objects = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
            compiler.link_shared_object(objects, os.path.join(tmp, "probe.so"), extra_postargs=flags)
        except Exception:
            return False
    return True


class BuildNative(build_ext):
    def run(self):
        # A module built earlier but not now (PYGD_CUDA=0 after a CUDA build) must not reach the
        # wheel from the build directory.
        wanted = {ext.name for ext in self.extensions}
        for name in ("pygd._native", "pygd._cuda"):
            if name not in wanted:
                self._remove_built(name)
        super().run()

    def build_extensions(self):
        compiler = self.compiler
        unix = compiler.compiler_type == "unix"
        if not compiler_accepts(compiler, []):
            # Every module needs the C++ compiler (pygd._cuda too, for its host code): without one,
            # pygd installs as Python alone and runs its NumPy reference, as the README says.
            if os.environ.get("PYGD_CUDA", "").strip() == "1":
                raise RuntimeError("PYGD_CUDA=1 but no working C++ compiler was found")
            warnings.warn("pygd: no working C++ compiler was found; installing without the native "
                          "extension (pygd then runs its slow NumPy reference, with a warning)")
            for ext in self.extensions:
                self._remove_built(ext.name)
            self.extensions = []
            return
        for ext in self.extensions:
            if isinstance(ext, CudaExtension):
                continue
            sources = []
            for src in ext.sources:
                unit = ISA_UNITS.get(os.path.basename(src))
                if unit is None:
                    sources.append(src)
                elif unix and IS_X86_64 and compiler_accepts(compiler, unit[1]):
                    sources.append(src)
                    ext.define_macros.append((unit[0], "1"))
                    tuning = ISA_TUNING.get(os.path.basename(src), [])
                    if tuning and compiler_accepts(compiler, unit[1] + tuning):
                        unit[1].extend(tuning)
            ext.sources = sources
            if unix:
                ext.extra_compile_args += COMMON_FLAGS + ["-pthread"]  # the thread pool
                ext.extra_link_args.append("-pthread")
                if compiler_accepts(compiler, [OPENMP_FLAG], OPENMP_PROBE):
                    ext.extra_compile_args.append(OPENMP_FLAG)
                    ext.extra_link_args.append(OPENMP_FLAG)

        # Give each ISA unit its flags: the hook sees one source file at a time.
        compile_one = compiler._compile

        def compile_with_isa_flags(obj, src, ext, cc_args, extra_postargs, pp_opts):
            unit = ISA_UNITS.get(os.path.basename(src))
            flags = list(extra_postargs) + (unit[1] if unit else [])
            return compile_one(obj, src, ext, cc_args, flags, pp_opts)

        compiler._compile = compile_with_isa_flags
        super().build_extensions()

    def _remove_built(self, name):
        """Removes module `name` from the build directory (never from the source tree)."""
        for stale in glob(os.path.join(self.build_lib, *name.split(".")) + ".*"):
            os.remove(stale)

    def build_extension(self, ext):
        if isinstance(ext, CudaExtension):
            ext.extra_objects = ext.compile_cuda(self.build_temp, self.force)
        super().build_extension(ext)


# ----------------------------------------------------------------------------- pygd._cuda

CUDA_SOURCES = sorted(glob("csrc/cuda/*.cu"))
# nvcc, as for the CPU: -ffp-contract=off's counterpart --fmad=false, so only the multiply-adds the
# math headers spell as fmadd are fused (the kernels' own arithmetic uses explicitly rounded
# intrinsics; this covers the rest, such as the step scalars made on the device). No --use_fast_math.
NVCC_FLAGS = ["-std=c++17", "-O3", "--fmad=false", "-Xcompiler", "-fPIC", "-Xcompiler", "-fvisibility=hidden"]
# Machine code for the lowest architecture of each generation from Volta (7.x) to Hopper (9.0): a
# cubin runs on every later minor version of its major one (sm_80 code runs on 8.6, 8.7 and 8.9), and
# these kernels are memory-bound, so per-minor builds would add compile time and nothing else. PTX of
# the newest runs, JIT-compiled, on the GPUs after it (Blackwell). The toolkit decides the lowest:
# CUDA 13 dropped sm_70 and sm_72, so there 7.x means sm_75, which Volta GPUs cannot run.
CUDA_GENERATIONS = ((70, 80), (80, 90), (90, 100))  # [first, end) of each major's minors


def find_nvcc():
    """The nvcc to build with, or None."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        home = os.environ.get(var)
        if home and os.path.isfile(os.path.join(home, "bin", "nvcc")):
            return os.path.join(home, "bin", "nvcc")
    found = shutil.which("nvcc")
    if found:
        return found
    default = "/usr/local/cuda/bin/nvcc"
    return default if os.path.isfile(default) else None


def nvcc_output(nvcc, *args):
    done = subprocess.run([nvcc, *args], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def cuda_archs(nvcc):
    """The SASS architectures to build (see CUDA_GENERATIONS), or PYGD_CUDA_ARCHS's."""
    wanted = os.environ.get("PYGD_CUDA_ARCHS", "").strip()
    if wanted:
        return sorted(int(a) for a in re.split(r"[,;\s]+", wanted) if a)
    known = {int(a) for a in re.findall(r"compute_(\d+)", nvcc_output(nvcc, "--list-gpu-arch"))}
    known = known or {70, 80, 90}  # an nvcc before --list-gpu-arch (CUDA 11.0) builds all three
    return [min(a for a in known if first <= a < end) for first, end in CUDA_GENERATIONS
            if any(first <= a < end for a in known)]


def cuda_library_dir(nvcc):
    """The directory holding libcudart_static.a, from where nvcc says its toolkit is (nvcc may be a
    wrapper script or a symlink outside the toolkit)."""
    dryrun = nvcc_output(nvcc, "--dryrun", "-c", "probe.cu")
    top = re.search(r"^#\$ TOP=(.*)$", dryrun, re.M)
    target = re.findall(r"^#\$ _TARGET_DIR_=(.+)$", dryrun, re.M)
    top = os.path.normpath(top.group(1)) if top else os.path.dirname(os.path.dirname(nvcc))
    candidates = [os.path.join(top, "lib64"), os.path.join(top, "lib")]
    candidates += [os.path.join(top, t, "lib") for t in target]
    for lib in candidates:
        if os.path.isfile(os.path.join(lib, "libcudart_static.a")):
            return lib
    raise RuntimeError(f"libcudart_static.a not found beside {nvcc} (looked in {candidates})")


class CudaExtension(Pybind11Extension):
    """pygd._cuda: module.cpp built by the C++ compiler as any pybind11 module, linked with the
    objects nvcc makes of csrc/cuda/*.cu and with the CUDA runtime, statically: the module then
    imports where no toolkit is installed (it needs only the driver, and only to run a kernel)."""

    def __init__(self, nvcc):
        super().__init__(
            "pygd._cuda",
            ["csrc/cuda/module.cpp"],
            include_dirs=["csrc/include", "csrc"],
            depends=CUDA_SOURCES + sorted(glob("csrc/cuda/*.h") + glob("csrc/cuda/*.cuh")
                                          + glob("csrc/include/pygd/*.h")),
            cxx_std=17,
            libraries=["cudart_static", "dl", "pthread", "rt"],
            library_dirs=[cuda_library_dir(nvcc)],
            # The runtime's symbols stay inside the module: torch and CuPy load a cudart of their own.
            extra_link_args=["-Wl,--exclude-libs,ALL"],
        )
        self.nvcc = nvcc
        archs = cuda_archs(nvcc)
        self.gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]
        self.gencode.append(f"-gencode=arch=compute_{max(archs)},code=compute_{max(archs)}")

    def compile_cuda(self, build_temp, force):
        """Compiles each .cu file that changed (in parallel: one optimizer per file); the objects."""
        out = os.path.join(build_temp, "csrc", "cuda")
        os.makedirs(out, exist_ok=True)
        newest_input = max(os.path.getmtime(f) for f in self.depends)
        jobs = []
        for src in CUDA_SOURCES:
            obj = os.path.join(out, os.path.basename(src) + ".o")
            if force or not os.path.exists(obj) or os.path.getmtime(obj) < newest_input:
                jobs.append([self.nvcc, *NVCC_FLAGS, *self.gencode, "-Icsrc/include", "-Icsrc",
                             "-c", src, "-o", obj])
        workers = int(os.environ.get("PYGD_BUILD_JOBS", "0")) or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for job, done in zip(jobs, pool.map(lambda cmd: subprocess.run(cmd, capture_output=True, text=True), jobs)):
                print(" ".join(job))
                if done.returncode != 0:
                    raise RuntimeError(f"nvcc failed on {job[-3]}:\n{done.stdout}{done.stderr}")
        return [os.path.join(out, os.path.basename(src) + ".o") for src in CUDA_SOURCES]


def cuda_extensions():
    """[pygd._cuda] when it is to be built (PYGD_CUDA, nvcc found), else []."""
    mode = os.environ.get("PYGD_CUDA", "").strip()
    if mode == "0":
        return []
    nvcc = find_nvcc()
    if nvcc is None:
        if mode == "1":
            raise RuntimeError("PYGD_CUDA=1 but no nvcc was found (CUDA_HOME, CUDA_PATH, PATH, /usr/local/cuda)")
        return []
    return [CudaExtension(nvcc)]


ParallelCompile("PYGD_BUILD_JOBS").install()

native = Pybind11Extension(
    "pygd._native",
    sorted(glob("csrc/cpu/*.cpp") + glob("csrc/bindings/*.cpp")),
    include_dirs=["csrc/include", "csrc"],
    depends=sorted(glob("csrc/**/*.h", recursive=True) + glob("csrc/**/*.inl", recursive=True)),
    cxx_std=17,
    # Without a compiler pip still installs pygd; it then runs the NumPy reference, with a warning.
    optional=True,
)

setup(ext_modules=[native, *cuda_extensions()], cmdclass={"build_ext": BuildNative})
