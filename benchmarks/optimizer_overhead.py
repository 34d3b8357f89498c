"""What an optimizer class adds to the functional call it makes: Optimizer.step(grads) against
pygd.adam_(...) (and sgd_) on the same arrays, for 1 to 1000 small tensors, interleaved round by
round in one process, median of many rounds.

    python benchmarks/optimizer_overhead.py [--rounds 2000] [--json out.json]

The issue's bar: step() costs at most 5 us + 0.2 us per tensor more than the functional call.
Tensors hold 16 elements so that the kernel itself is negligible and the difference is Python.
"""

import argparse
import json
import statistics
import time

import numpy as np

import pygd
from pygd import optim

TENSORS = (1, 10, 100, 1000)


def contenders(n, kind):
    rng = np.random.default_rng(n)
    shapes = [(16,)] * n
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    p_class = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    p_func = [p.copy() for p in p_class]
    if kind == "adam":
        opt = optim.Adam(p_class, lr=1e-3)
        # Allocated param by param, as the class allocates its state: the native overlap check
        # sorts array addresses, and its cost depends on how the streams interleave in memory.
        m, v = [], []
        for p in p_func:
            m.append(np.zeros_like(p))
            v.append(np.zeros_like(p))
        counter = [0]

        def functional():
            counter[0] += 1
            pygd.adam_(p_func, grads, m, v, step=counter[0], lr=1e-3)
    else:
        opt = optim.SGD(p_class, lr=1e-3, momentum=0.9)
        bufs = [np.zeros_like(p) for p in p_func]
        counter = [0]

        def functional():
            counter[0] += 1
            pygd.sgd_(p_func, grads, bufs, step=counter[0], lr=1e-3, momentum=0.9)
    return {"class": lambda: opt.step(grads), "functional": functional}


def measure(rounds, repeat):
    results = []
    for kind in ("adam", "sgd-momentum"):
        for n in TENSORS:
            fns = contenders(n, kind)
            samples = {name: [] for name in fns}
            for fn in fns.values():  # warm-up: the first step allocates state
                fn()
            for _ in range(rounds):
                for name, fn in fns.items():
                    t0 = time.perf_counter_ns()
                    for _ in range(repeat):
                        fn()
                    samples[name].append((time.perf_counter_ns() - t0) / repeat / 1e3)
            med = {name: statistics.median(s) for name, s in samples.items()}
            overhead = med["class"] - med["functional"]
            bar = 5.0 + 0.2 * n
            results.append({"optimizer": kind, "tensors": n, "functional_us": med["functional"],
                            "class_us": med["class"], "overhead_us": overhead, "bar_us": bar,
                            "p10_p90_overhead_us": _spread(samples)})
            print(f"{kind:13s} {n:5d} tensors: functional {med['functional']:8.2f} us, "
                  f"class {med['class']:8.2f} us, overhead {overhead:6.2f} us "
                  f"(bar {bar:.1f} us) {'ok' if overhead <= bar else 'OVER'}", flush=True)
    return results


def _spread(samples):
    diffs = sorted(c - f for c, f in zip(samples["class"], samples["functional"]))
    return [diffs[len(diffs) // 10], diffs[len(diffs) * 9 // 10]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400, help="interleaved rounds per point")
    parser.add_argument("--repeat", type=int, default=10, help="calls timed together per sample")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    print(f"pygd {pygd.__version__}, {pygd.info()['isa']}, {pygd.get_num_threads()} threads; "
          f"median of {args.rounds} rounds x {args.repeat} calls")
    results = measure(args.rounds, args.repeat)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": pygd.info(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
