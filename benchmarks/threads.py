"""Threads under load: a 1-thread and a 2-thread Adam step of pygd and of torch fused, side by side,
on a quiet machine and with busy-loop processes on the cores.

    python benchmarks/threads.py [--sizes 1M,16M] [--rounds 60] [--threads 2]
                                 [--loads quiet,cores-1,cores] [--libraries pygd,torch]
                                 [--json PATH]

Each load setting starts its busy-loop processes (`cores-1`: one per core but one, `cores`: one per
core; `quiet`: none), lets the scheduler settle, then times every contender in rounds: one step
each per round, in a rotating order, so that the load hits them alike; the median of the rounds is
reported, and the ratio of the N-thread step to the 1-thread step of the same library under the
same load. The bar: pygd's ratio at most 1.25 under load, and on a quiet machine
2 threads at least 1.3x faster than one at 16M where the memory system allows (it says so when
the probe's own 2-thread bandwidth is no better than 1 thread's). fp32 throughout.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

import pygd
from pygd import functional
from pygd.bench import machine

BUSY_LOOP = "while True: pass"


def parse_size(text):
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
    return int(text[:-1] if scale > 1 else text) * scale


class PygdAdam:
    library = "pygd"

    def __init__(self, size, rng):
        self.p = rng.standard_normal(size, dtype=np.float32)
        self.g = rng.standard_normal(size, dtype=np.float32)
        self.m = np.zeros_like(self.p)
        self.v = np.zeros_like(self.p)
        self.t = 0

    def set_threads(self, n):
        pygd.set_num_threads(n)

    def step(self):
        self.t += 1
        functional.adam_(self.p, self.g, self.m, self.v, step=self.t, backend="native")


class TorchFusedAdam:
    library = "torch fused"

    def __init__(self, size, rng):
        import torch
        self.torch = torch
        p = torch.from_numpy(rng.standard_normal(size, dtype=np.float32)).requires_grad_()
        p.grad = torch.from_numpy(rng.standard_normal(size, dtype=np.float32))
        self.opt = torch.optim.Adam([p], fused=True)

    def set_threads(self, n):
        self.torch.set_num_threads(n)

    def step(self):
        self.opt.step()


def contenders(size, rng, libraries):
    made = [PygdAdam(size, rng)]
    if "torch" in libraries:
        try:
            made.append(TorchFusedAdam(size, rng))
        except ImportError:
            print("# torch is not installed: pygd alone")
    return made


def start_load(processes):
    busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(processes)]
    time.sleep(0.5 if busy else 0)
    return busy


def stop_load(busy):
    for proc in busy:
        proc.kill()
    for proc in busy:
        proc.wait()


def time_rounds(runs, rounds):
    """runs: {key: (contender, threads)}; the median seconds of one step of each, interleaved."""
    samples = {key: [] for key in runs}
    keys = list(runs)
    for key, (c, n) in runs.items():  # warm-up: states filled, pool started
        c.set_threads(n)
        c.step()
    for r in range(rounds):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for key in order:
            c, n = runs[key]
            c.set_threads(n)
            start = time.perf_counter()
            c.step()
            samples[key].append(time.perf_counter() - start)
    return {key: float(np.median(s)) for key, s in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,16M")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--loads", default="quiet,cores-1,cores")
    parser.add_argument("--libraries", default="pygd,torch",
                        help="pygd alone, or beside torch fused (whose OpenMP threads, spinning "
                             "after each of its steps, take cores from pygd's)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    loads = {"quiet": 0, "cores-1": max(cores - 1, 1), "cores": cores}
    rng = np.random.default_rng(0)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    pool = {size: contenders(size, rng, args.libraries.split(",")) for size in sizes}
    cpu = machine.describe()
    print(f"# {cpu.get('cpu', '')} {cores} cores; pygd {pygd.__version__} ({pygd.info()['isa']}); "
          f"load before: {os.getloadavg()[0]:.2f}")
    results = []
    for load in args.loads.split(","):
        busy = start_load(loads[load])
        try:
            for size in sizes:
                runs = {(c.library, n): (c, n) for c in pool[size] for n in (1, args.threads)}
                medians = time_rounds(runs, args.rounds)
                for c in pool[size]:
                    one, many = medians[(c.library, 1)], medians[(c.library, args.threads)]
                    results.append({"load": load, "busy_processes": loads[load], "size": size,
                                    "library": c.library, "one_thread_s": one,
                                    f"threads_{args.threads}_s": many, "ratio": many / one})
                    print(f"{load:8s} {size:>9d} {c.library:12s} 1 thread {one * 1e3:8.3f} ms  "
                          f"{args.threads} threads {many * 1e3:8.3f} ms  "
                          f"ratio {many / one:5.2f}")
        finally:
            stop_load(busy)
    pygd.set_num_threads(None)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cores": cores, "pygd": pygd.info(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
