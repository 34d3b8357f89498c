"""pygd against its memory roofline, NumPy and torch.optim, measured side by side in one process.

For each optimizer (Adam, AdamW, SGD with momentum; fp32) and size, every contender gets its own
copy of the same inputs (params and grads ~ N(0, 1); states filled by the warm-up steps) and is
timed one step per round, round-robin, so the machine's noise hits all of them alike:

  pygd            pygd.adam_ / adamw_ / sgd_, native backend, one call for the whole list
  probe           pygd._backends.native.probe over the optimizer's own streams (p rw, g ro, states
                  rw): the same traffic with trivial math, i.e. the memory ceiling (DESIGN.md §2)
  numpy           the update written the obvious way with in-place ufuncs, one tensor at a time
  torch loop/foreach/fused   torch.optim with foreach=False / foreach=True / fused=True, only step()

GB/s counts the bytes an ideal fused update moves (DESIGN.md §2: Adam/AdamW 28, SGD-momentum 20
B/param fp32), whatever a contender actually moves. `t/fused` is the median time over torch fused's;
`% probe` is the achieved GB/s as a fraction of the probe's.

    PYTHONPATH=. python benchmarks/compare.py [--quick] [--sizes 1M,16M] [--optimizers adam,sgd]
                                              [--repeat N] [--threads N] [--json FILE]
"""

import argparse
import gc
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
import timeit
from dataclasses import dataclass

import numpy as np

import pygd
from pygd._backends import native

try:
    import torch
except ImportError:  # the torch columns are left out
    torch = None


# ------------------------------------------------------------------------------- the optimizers

def numpy_adam(p, g, m, v, t, *, lr, betas, eps, weight_decay, decoupled):
    b1, b2 = betas
    if decoupled:
        p *= 1 - lr * weight_decay
    elif weight_decay:
        g = g + weight_decay * p
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    denom = np.sqrt(v) / math.sqrt(1 - b2 ** t)
    denom += eps
    p -= lr / (1 - b1 ** t) * m / denom


def numpy_sgd(p, g, buf, t, *, lr, momentum):
    if t == 1:
        buf[...] = g
    else:
        buf *= momentum
        buf += g
    p -= lr * buf


@dataclass(frozen=True)
class Optimizer:
    label: str
    bytes_per_param: int  # fp32, DESIGN.md §2
    states: int           # state arrays beside params and grads (= the probe's extra streams)
    hp: dict              # hyperparameters, spelled alike by pygd and torch.optim
    pygd_step: object     # pygd.<name>_
    numpy_step: object    # (p, g, *states, t, **hp) on one array
    numpy_hp: dict        # extra keywords for numpy_step only
    torch_name: str       # torch.optim.<name>


OPTIMIZERS = {
    "adam": Optimizer("Adam", 28, 2, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
                      pygd.adam_, numpy_adam, dict(decoupled=False), "Adam"),
    "adamw": Optimizer("AdamW", 28, 2, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2),
                       pygd.adamw_, numpy_adam, dict(decoupled=True), "AdamW"),
    "sgd": Optimizer("SGD-mom", 20, 1, dict(lr=1e-2, momentum=0.9),
                     pygd.sgd_, numpy_sgd, {}, "SGD"),
}


# ------------------------------------------------------------------------------- the contenders
# Each maker takes the optimizer and the shared initial params/grads (lists of arrays) and returns a
# step() closure over its own copies.

def _own(opt, p0, g0):
    return ([a.copy() for a in p0], [a.copy() for a in g0],
            [[np.zeros_like(a) for a in p0] for _ in range(opt.states)])


def _bare(lists):
    """A list of one array is passed as the array itself (pygd's single-tensor call)."""
    return [x[0] if len(x) == 1 else x for x in lists]


def make_pygd(opt, p0, g0):
    p, g, states = _own(opt, p0, g0)
    args, steps = _bare([p, g, *states]), itertools.count(1)
    return lambda: opt.pygd_step(*args, step=next(steps), **opt.hp)


def make_probe(opt, p0, g0):
    p, g, states = _own(opt, p0, g0)
    streams = tuple(_bare([p, g, *states])) + (None,) * (2 - opt.states)
    return lambda: native.probe(streams, 1e-7)


def make_numpy(opt, p0, g0):
    p, g, states = _own(opt, p0, g0)
    tensors, steps, hp = list(zip(p, g, *states)), itertools.count(1), {**opt.hp, **opt.numpy_hp}

    def step():
        t = next(steps)
        for arrays in tensors:
            opt.numpy_step(*arrays, t, **hp)
    return step


def make_torch(**impl):
    def make(opt, p0, g0):
        params = [torch.from_numpy(a.copy()).requires_grad_() for a in p0]
        for q, g in zip(params, g0):
            q.grad = torch.from_numpy(g.copy())
        return getattr(torch.optim, opt.torch_name)(params, **opt.hp, **impl).step
    return make


CONTENDERS = {"pygd": make_pygd, "probe": make_probe, "numpy": make_numpy}
if torch is not None:
    CONTENDERS.update({"torch loop": make_torch(foreach=False), "torch foreach": make_torch(foreach=True),
                       "torch fused": make_torch(fused=True)})


# ------------------------------------------------------------------------------- the harness

def measure(steps, *, rounds, budget_s, min_rounds, warmup_s=0.3, min_warmup=3):
    """Samples (ns) of each step(), one per round, round-robin with the order rotated per round.

    Each step() is first warmed up (>= min_warmup calls and >= warmup_s), which also fills the
    optimizer states. `rounds` None: as many rounds as fit budget_s, at least min_rounds.
    """
    clock, round_ns = time.perf_counter_ns, 0
    for step in steps.values():
        start = clock()
        for i in itertools.count(1):
            t0 = clock()
            step()
            last = clock() - t0
            if i >= min_warmup and clock() - start >= warmup_s * 1e9:
                break
        round_ns += last
    if rounds is None:
        rounds = int(min(max(min_rounds, budget_s * 1e9 / max(round_ns, 1)), 2000))
    names, samples = list(steps), {name: [] for name in steps}
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                step = steps[name]
                t0 = clock()
                step()
                samples[name].append(clock() - t0)
    finally:
        gc.enable()
    return samples


def quantile(xs, q):
    return float(np.quantile(np.asarray(xs, dtype=np.float64), q))


# ------------------------------------------------------------------------------- sizes

def parse_size(text):
    """'16M' -> one tensor of 16 Mi elements; '2000x4096' -> a list of 2000 tensors of 4096."""
    text = text.strip()
    if "x" in text.lower():
        count, length = (int(x) for x in text.lower().split("x"))
        return text, [length] * count
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1].upper())
    return text, [int(text[:-1]) * scale if scale else int(text)]


def inputs(shapes, rng):
    return ([rng.standard_normal(n, dtype=np.float32) for n in shapes],
            [rng.standard_normal(n, dtype=np.float32) for n in shapes])


# ------------------------------------------------------------------------------- the 4096 latency

def latency(repeat):
    """µs per call of one Adam step on a 4096-element fp32 array, end to end from Python."""
    rng = np.random.default_rng(1)
    p, g = (rng.standard_normal(4096, dtype=np.float32) for _ in range(2))
    m, v = g.copy(), g * g
    hp = OPTIMIZERS["adam"].hp
    calls = {
        "pygd.adam_": lambda: pygd.adam_(p, g, m, v, step=10, **hp),
        "backend adam (no _validate)": lambda: native.adam((p, g, m, v, None), 10, 1e-3, 0.9, 0.999,
                                                           1e-8, 0.0, False, False, False),
        "probe (same 4 arrays)": lambda: native.probe((p, g, m, v), 1e-7),
    }
    if torch is not None:
        calls["torch fused Adam"] = make_torch(fused=True)(OPTIMIZERS["adam"], [p], [g])
    results = {}
    for name, call in calls.items():
        timer = timeit.Timer(call)
        number, _ = timer.autorange()  # >= 0.2 s a loop
        results[name] = [t / number * 1e6 for t in timer.repeat(repeat, number)]
    return results


# ------------------------------------------------------------------------------- output

def machine_info():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "pygd": pygd.info(), "numpy": np.__version__, "python": platform.python_version(),
            "torch": torch.__version__ if torch else None,
            "torch_threads": torch.get_num_threads() if torch else None}


def l3_bytes():
    try:
        text = open("/sys/devices/system/cpu/cpu0/cache/index3/size").read().strip()
        return int(text[:-1]) << {"K": 10, "M": 20}[text[-1]] if text[-1] in "KM" else int(text)
    except (OSError, ValueError, KeyError):
        return 32 << 20


HEADER = ("optimizer", "size", "contender", "median ms", "p10-p90 ms", "GB/s", "t/fused", "% probe")
WIDTHS = (9, 10, 14, 10, 17, 7, 8, 8)


def row(cells):
    return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, WIDTHS)))


def group_rows(opt, size, elements, samples):
    nbytes = opt.bytes_per_param * elements
    med = {name: statistics.median(s) for name, s in samples.items()}
    fused, probe = med.get("torch fused"), med.get("probe")
    for i, (name, s) in enumerate(samples.items()):
        yield row((opt.label if i == 0 else "", size if i == 0 else "", name,
                   f"{med[name] / 1e6:.3f}",
                   f"{quantile(s, 0.1) / 1e6:.3f}-{quantile(s, 0.9) / 1e6:.3f}",
                   f"{nbytes / med[name]:.1f}",
                   f"{med[name] / fused:.2f}x" if fused else "-",
                   f"{100 * probe / med[name]:.0f}%" if probe else "-"))


# ------------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", help="comma-separated: 1M,16M,64M,2000x4096 (default all)")
    ap.add_argument("--optimizers", help=f"comma-separated subset of {','.join(OPTIMIZERS)}")
    ap.add_argument("--repeat", type=int, help="timed rounds per group (default: fit a time budget, "
                    ">= 20)")
    ap.add_argument("--threads", type=int, help="threads for pygd and torch (default: all cores)")
    ap.add_argument("--json", help="write machine info and every sample (ns) to this file")
    ap.add_argument("--quick", action="store_true", help="smaller sizes and budget (~1 minute)")
    args = ap.parse_args(argv)

    quick = args.quick
    sizes = [parse_size(s) for s in (args.sizes or ("1M,16M,2000x4096" if quick else
                                                    "1M,16M,64M,2000x4096")).split(",")]
    names = (args.optimizers or ",".join(OPTIMIZERS)).lower().split(",")
    if unknown := set(names) - set(OPTIMIZERS):
        ap.error(f"unknown optimizers {sorted(unknown)}; choose from {list(OPTIMIZERS)}")
    if args.threads:
        pygd.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    timing = dict(rounds=args.repeat, budget_s=1.0 if quick else 6.0, min_rounds=10 if quick else 20,
                  warmup_s=0.1 if quick else 0.3)

    info = machine_info()
    print(f"# {info['cpu']}, {info['affinity']} cores; pygd {info['pygd']['version']} "
          f"{info['pygd']['backend']}/{info['pygd']['isa']} x{info['pygd']['threads']} threads; "
          f"numpy {info['numpy']}; "
          + (f"torch {info['torch']} x{info['torch_threads']} threads" if torch else "torch: not importable"))
    print("# fp32; median of interleaved rounds (p10-p90 spread); GB/s = ideal fused bytes "
          "(Adam/AdamW 28, SGD-mom 20 B/param) / time;\n# t/fused = time / torch fused time; "
          "% probe = GB/s / probe GB/s (probe = same streams, trivial math = memory ceiling)")
    if quick:
        print("# --quick: small budget and >= 10 rounds; indicative only")
    print(row(HEADER))
    print(row(["-" * w for w in WIDTHS]))

    rng, results, total_start = np.random.default_rng(0), [], time.perf_counter()
    for size, shapes in sizes:
        p0, g0 = inputs(shapes, rng)
        elements = sum(shapes)
        for name in names:
            opt = OPTIMIZERS[name]
            steps = {c: make(opt, p0, g0) for c, make in CONTENDERS.items()}
            samples = measure(steps, **timing)
            del steps
            gc.collect()  # free this group's copies before the next one allocates
            for line in group_rows(opt, size, elements, samples):
                print(line, flush=True)
            results.append({"optimizer": name, "size": size, "tensors": len(shapes),
                            "elements": elements, "bytes_per_param": opt.bytes_per_param,
                            "samples_ns": samples})
        del p0, g0
        ws = [(2 + OPTIMIZERS[n].states) * 4 * elements for n in names]
        if len(shapes) == 1 and max(ws) <= l3_bytes():
            print(f"#   {size}: {min(ws) >> 20}-{max(ws) >> 20} MiB per contender fits the "
                  f"{l3_bytes() >> 20} MiB L3; buffers are not rotated, so some may be cache-resident "
                  "(the other contenders' rounds evict part of it)")

    print("\n# one Adam call on a 4096-element fp32 array, end to end from Python (timeit loops)")
    lat = latency(5 if quick else 15)
    for name, us in lat.items():
        print(f"  {name:30s} {statistics.median(us):8.2f} us/call   "
              f"(p10-p90 {quantile(us, 0.1):.2f}-{quantile(us, 0.9):.2f})")

    print("\n# bars from the issue")
    print(f"  4096-element Adam call:  {statistics.median(lat['pygd.adam_']):.2f} us   (bar <= 5 us: "
          f"{'met' if statistics.median(lat['pygd.adam_']) <= 5 else 'MISSED'})")
    for r in results:
        if r["optimizer"] == "adam" and r["size"] == "2000x4096":
            med = {c: statistics.median(s) / 1e6 for c, s in r["samples_ns"].items()}
            print(f"  Adam 2000x4096 list:     {med['pygd']:.2f} ms   (bar <= 6 ms: "
                  f"{'met' if med['pygd'] <= 6 else 'MISSED'})"
                  + (f"; torch fused {med['torch fused']:.2f} ms" if "torch fused" in med else ""))
    print(f"\n# total {time.perf_counter() - total_start:.0f} s")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "argv": sys.argv[1:], "timing": timing, "groups": results,
                       "latency_4096_adam_us": lat}, f, indent=1)


if __name__ == "__main__":
    main()
