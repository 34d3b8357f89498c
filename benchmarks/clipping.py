"""clip_grad_norm_ beside torch.nn.utils.clip_grad_norm_ and a NumPy norm, interleaved round by
round in one process, median of many rounds.

    python benchmarks/clipping.py [--rounds 30]

Two cases each: a max_norm so large that nothing is clipped (pygd then only reads the grads once),
and one so small that every call scales (a read pass, then a read-write pass).
"""

import argparse
import statistics
import time

import numpy as np

import pygd

WORKLOADS = {"16M, one tensor": [(16 * 2**20,)], "2000 x 4096": [(4096,)] * 2000}
NOTHING_TO_CLIP, ALWAYS_CLIP = 1e30, 1e-3


def contenders(grads):
    fns = {
        "pygd norm only": lambda: pygd.clip_grad_norm_(grads, NOTHING_TO_CLIP),
        "pygd norm + scale": lambda: pygd.clip_grad_norm_(grads, ALWAYS_CLIP),
        "numpy norm": lambda: np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads)),
    }
    try:
        import torch
    except ImportError:
        return fns
    params = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    fns["torch norm only"] = lambda: torch.nn.utils.clip_grad_norm_(params, NOTHING_TO_CLIP)
    fns["torch norm + scale"] = lambda: torch.nn.utils.clip_grad_norm_(params, ALWAYS_CLIP)
    return fns


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"pygd {pygd.__version__}, {pygd.info()['isa']}, {pygd.get_num_threads()} threads, fp32, "
          f"median of {args.rounds} rounds")
    for name, shapes in WORKLOADS.items():
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        fns = contenders(grads)
        samples = {k: [] for k in fns}
        for fn in fns.values():
            fn()
        for _ in range(args.rounds):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                samples[k].append(time.perf_counter() - t0)
        print(name)
        for k, v in samples.items():
            print(f"  {k:20s} {statistics.median(v) * 1e3:8.3f} ms  "
                  f"(p10-p90 {np.percentile(v, 10) * 1e3:.3f}-{np.percentile(v, 90) * 1e3:.3f})")


if __name__ == "__main__":
    main()
