"""Builds pygd._native: the C++ kernels, compiled once per x86 ISA level and chosen at run time.

Each file in csrc/cpu/sweeps_<isa>.cpp is compiled with its own instruction-set flags; everything
else is compiled for the baseline of the target, never for the build machine's own CPU: a wheel
built here must run on any CPU of its architecture. PYGD_BUILD_JOBS caps parallel compile jobs.
"""

import os
import platform
import tempfile
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
    def build_extensions(self):
        compiler = self.compiler
        unix = compiler.compiler_type == "unix"
        for ext in self.extensions:
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
                ext.extra_compile_args += COMMON_FLAGS
                if compiler_accepts(compiler, [OPENMP_FLAG], "#include <omp.h>\nint main(void) { return omp_get_max_threads(); }\n"):
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

setup(ext_modules=[native], cmdclass={"build_ext": BuildNative})
