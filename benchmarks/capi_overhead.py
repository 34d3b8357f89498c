"""The C ABI's per-call overhead, from C, from Numba (cffi, nopython) and from Python (cffi).

    python benchmarks/capi_overhead.py [--elements 4096] [--rounds 300] [--calls 200] [--json out.json]

From C: benchmarks/capi_overhead.cpp, built here by the project's CMake (PYGD_KERNELS_ONLY, target
capi_overhead, in build/capi-overhead/): one 4096-element float32 Adam step through
pygd_adam_step against the same driver called directly (cpu::run<Adam>, where pygd_adam_step
ends), interleaved round by round in one process. From Numba: an @njit loop calling
pygd_adam_step through cffi (pygd.capi.nopython()), and from Python: lib.pygd_adam_step through
cffi, and pygd.adam_ and pygd.capi.adam_ for scale; these interleaved round by round in this
process. Every figure is the median over rounds of the mean time per call in a round.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

import pygd
import pygd.capi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def c_figures(elements, rounds, calls):
    build = os.path.join(ROOT, "build", "capi-overhead")
    for cmd in (["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DPYGD_KERNELS_ONLY=ON",
                 "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", build, "--target", "capi_overhead", "-j", "2"]):
        subprocess.run(cmd, check=True, capture_output=True)
    out = subprocess.run([os.path.join(build, "capi_overhead"), str(elements), str(rounds), str(calls)],
                         check=True, capture_output=True, text=True).stdout
    values = dict(line.split() for line in out.splitlines())
    return {k: float(v) for k, v in values.items() if k in ("kernel", "capi", "capi_empty", "overhead")}, values["isa"]


def python_figures(elements, rounds, calls):
    import numba

    nffi, nlib = pygd.capi.nopython()
    step_fn = nlib.pygd_adam_step
    ffi, lib = pygd.capi.ffi, pygd.capi.lib
    p, g, m, v = (np.full(elements, x, np.float32) for x in (1.0, 0.5, 0.0, 0.0))
    tables = np.array([[a.ctypes.data] for a in (p, g, m, v)] + [[0]], dtype=np.uint64)
    sizes = np.array([elements], np.int64)
    hp = pygd.capi.hparams("adam")
    hp_bytes = np.frombuffer(ffi.buffer(hp), np.uint8).copy()

    @numba.njit
    def numba_calls(tables, sizes, hp_bytes, first, n, count):
        code = 0
        for t in range(first, first + n):
            code |= step_fn(0, count, nffi.from_buffer(sizes), nffi.from_buffer(tables[0]), nffi.from_buffer(tables[1]),
                            nffi.from_buffer(tables[2]), nffi.from_buffer(tables[3]), nffi.from_buffer(tables[4]),
                            t, nffi.from_buffer(hp_bytes), 1.0)
        return code

    c_tables = [ffi.new("void*[]", [ffi.cast("void*", a.ctypes.data)]) for a in (p, g, m, v)]
    c_sizes = ffi.new("int64_t[]", [elements])
    c_step = lib.pygd_adam_step
    null = ffi.NULL

    def cffi_calls(first, n, count):
        for t in range(first, first + n):
            c_step(0, count, c_sizes, *c_tables, null, t, hp, 1.0)

    def functional_calls(fn, first, n):
        for t in range(first, first + n):
            fn(p, g, m, v, step=t)

    assert numba_calls(tables, sizes, hp_bytes, 1, 1, 1) == 0  # compiles
    # *_empty: the same call over no tensors (its fixed cost; C's is capi_empty)
    timings = {"numba_cffi": [], "numba_cffi_empty": [], "python_cffi": [], "python_cffi_empty": [],
               "pygd.adam_": [], "pygd.capi.adam_": []}
    raw = ("numba_cffi", "numba_cffi_empty", "python_cffi", "python_cffi_empty")
    step = 1
    for _ in range(rounds):
        for name in timings:
            t0 = time.perf_counter_ns()
            if name.startswith("numba_cffi"):
                numba_calls(tables, sizes, hp_bytes, step, calls, 0 if name.endswith("empty") else 1)
            elif name.startswith("python_cffi"):
                cffi_calls(step, calls, 0 if name.endswith("empty") else 1)
            else:
                functional_calls(pygd.adam_ if name == "pygd.adam_" else pygd.capi.adam_, step, calls // 10)
            elapsed = time.perf_counter_ns() - t0
            timings[name].append(elapsed / (calls if name in raw else calls // 10))
            step += calls
            if step > 10**6:
                step = 1
    return {k: statistics.median(v) for k, v in timings.items()}


def machine():
    model = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "usable_cpus": len(os.sched_getaffinity(0)), "load": os.getloadavg(),
            "python": platform.python_version(), "pygd": pygd.__version__}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--elements", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    c, isa = c_figures(args.elements, args.rounds, args.calls)
    py = python_figures(args.elements, max(args.rounds // 3, 20), args.calls)
    doc = {"machine": machine(), "isa": isa, "elements": args.elements, "c_ns": c, "python_ns": py,
           "numba_minus_c_empty_ns": py["numba_cffi_empty"] - c["capi_empty"]}
    m = doc["machine"]
    print(f"# {m['cpu']}, {m['usable_cpus']} usable CPUs, load {m['load'][0]:.2f}; ISA {isa}; "
          f"one {args.elements}-element float32 Adam step per call; median ns per call")
    print(f"C:      driver alone {c['kernel']:8.0f}   pygd_adam_step {c['capi']:8.0f}   "
          f"overhead {c['overhead']:6.0f}   (pygd_adam_step over no tensors: {c['capi_empty']:.0f})")
    print(f"Numba:  pygd_adam_step via cffi {py['numba_cffi']:8.0f}   over no tensors {py['numba_cffi_empty']:6.0f}"
          f"   (the cffi call's cost above C's: {doc['numba_minus_c_empty_ns']:.0f})")
    print(f"Python: lib.pygd_adam_step via cffi {py['python_cffi']:8.0f}   over no tensors "
          f"{py['python_cffi_empty']:6.0f}   pygd.adam_ {py['pygd.adam_']:8.0f}   "
          f"pygd.capi.adam_ {py['pygd.capi.adam_']:8.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
