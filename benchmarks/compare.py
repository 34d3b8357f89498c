"""pygd against its memory roofline, NumPy and torch.optim, measured side by side in one process.

For each optimizer (Adam, AdamW, SGD with momentum; fp32) and size, every contender gets its own
copy of the same inputs (params and grads ~ N(0, 1); states filled by real warm-up steps) and is
timed one step per round, round-robin with the order rotated each round, so the machine's noise
hits all of them alike:

  pygd           pygd.adam_ / adamw_ / sgd_ (native backend): one call for the whole list
  probe          pygd._backends.native.probe over the optimizer's own streams (p rw, g ro, states
                 rw) with trivial math: the memory ceiling for that pattern (DESIGN.md §2)
  numpy          the update written the obvious way with in-place ufuncs, one tensor at a time
  torch loop / foreach / fused   torch.optim with foreach=False / foreach=True / fused=True;
                 params are torch.from_numpy tensors with .grad set; only step() is timed

GB/s counts the bytes an ideal fused update moves (DESIGN.md §2: Adam/AdamW 28, SGD-momentum 20
B/param fp32), whatever a contender really moves. t/fused = median time / torch fused's median;
% probe = GB/s as a fraction of the probe's; other = share of the CPUs that other processes used
while the group was timed (a noisy neighbour stalls the multi-threaded contenders most).

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
except ImportError:  # the torch rows are left out
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
    numpy_step: object    # (p, g, *states, t, **hp, **numpy_hp) on one array
    numpy_hp: dict
    torch_name: str       # torch.optim.<name>


ADAM_HP = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
OPTIMIZERS = {
    "adam": Optimizer("Adam", 28, 2, dict(ADAM_HP, weight_decay=0.0), pygd.adam_, numpy_adam,
                      dict(decoupled=False), "Adam"),
    "adamw": Optimizer("AdamW", 28, 2, dict(ADAM_HP, weight_decay=1e-2), pygd.adamw_, numpy_adam,
                       dict(decoupled=True), "AdamW"),
    "sgd": Optimizer("SGD-mom", 20, 1, dict(lr=1e-2, momentum=0.9), pygd.sgd_, numpy_sgd, {}, "SGD"),
}


# ------------------------------------------------------------------------------- the contenders
# A maker takes the optimizer and the shared initial params/grads (lists of arrays) and returns a
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
    CONTENDERS.update({"torch loop": make_torch(foreach=False),
                       "torch foreach": make_torch(foreach=True),
                       "torch fused": make_torch(fused=True)})


def build(opt, p0, g0):
    """The step() of each contender that runs here, after one trial step (counted as warm-up)."""
    steps = {}
    for name, make in CONTENDERS.items():
        try:
            step = make(opt, p0, g0)
            step()
        except Exception as error:  # e.g. a torch without CPU fused kernels: leave the row out
            print(f"#   {opt.label}: {name} skipped ({type(error).__name__}: {error})")
        else:
            steps[name] = step
    return steps


# ------------------------------------------------------------------------------- the harness

def measure(steps, *, rounds, budget_s, min_rounds, warmup_s, min_warmup=3):
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
        rounds = int(min(max(min_rounds, budget_s * 1e9 / max(round_ns, 1)), 1000))
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


def latency(repeat):
    """µs per call of one Adam step on a 4096-element fp32 array, end to end from Python."""
    rng = np.random.default_rng(1)
    p, g = (rng.standard_normal(4096, dtype=np.float32) for _ in range(2))
    m, v = 0.1 * g, g * g
    hp = OPTIMIZERS["adam"].hp
    calls = {
        "pygd.adam_": lambda: pygd.adam_(p, g, m, v, step=10, **hp),
        "backend adam, no _validate": lambda: native.adam((p, g, m, v, None), 10, 1e-3, 0.9, 0.999,
                                                          1e-8, 0.0, False, False, False),
        "probe, same 4 arrays": lambda: native.probe((p, g, m, v), 1e-7),
    }
    if torch is not None:
        calls["torch fused Adam step()"] = make_torch(fused=True)(OPTIMIZERS["adam"], [p], [g])
    results = {}
    for name, call in calls.items():
        timer = timeit.Timer(call)
        number, _ = timer.autorange()  # loops of >= 0.2 s
        results[name] = [t / number * 1e6 for t in timer.repeat(repeat, number)]
    return results


def quantile(xs, q):
    return float(np.quantile(np.asarray(xs, dtype=np.float64), q))


# ------------------------------------------------------------------------------- the machine

class OtherLoad:
    """The share of the machine's CPUs that something other than this process used (other
    processes, hypervisor steal) between start() and stop(): the noise on a shared machine. Our
    threads park at a barrier while another process holds a core, so this mostly slows the
    multi-threaded contenders."""

    @staticmethod
    def _now():
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:9]]
            busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # - idle, iowait
        except (OSError, ValueError):
            busy = math.nan
        return busy, time.process_time(), time.perf_counter()

    def start(self):
        self.before = self._now()

    def stop(self):
        busy, ours, wall = (now - then for now, then in zip(self._now(), self.before))
        return max(0.0, (busy - ours) / (wall * (os.cpu_count() or 1)))


def l3_bytes():
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as f:
            text = f.read().strip()
        return int(text[:-1]) << {"K": 10, "M": 20}[text[-1]] if text[-1] in "KM" else int(text)
    except (OSError, ValueError, KeyError):
        return None


def machine_info():
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                     platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "l3_bytes": l3_bytes(), "pygd": pygd.info(), "numpy": np.__version__,
            "python": platform.python_version(), "torch": torch.__version__ if torch else None,
            "torch_threads": torch.get_num_threads() if torch else None}


# ------------------------------------------------------------------------------- sizes and output

def parse_size(text):
    """'16M' -> one tensor of 16 Mi elements; '2000x4096' -> a list of 2000 tensors of 4096."""
    text = text.strip()
    if "x" in text.lower():
        count, length = (int(x) for x in text.lower().split("x"))
        return text, [length] * count
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1].upper())
    return text, [int(text[:-1]) * scale if scale else int(text)]


HEADER = ("optimizer", "size", "contender", "median ms", "p10-p90 ms", "GB/s", "t/fused", "% probe",
          "rounds", "other")
WIDTHS = (9, 9, 13, 9, 17, 6, 7, 7, 6, 5)


def row(cells):
    return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, WIDTHS)))


def group_rows(opt, size, elements, samples, other):
    nbytes = opt.bytes_per_param * elements
    med = {name: statistics.median(s) for name, s in samples.items()}
    fused, probe = med.get("torch fused"), med.get("probe")
    for i, (name, s) in enumerate(samples.items()):
        first = i == 0
        yield row((opt.label if first else "", size if first else "", name,
                   f"{med[name] / 1e6:.3f}",
                   f"{quantile(s, 0.1) / 1e6:.3f}-{quantile(s, 0.9) / 1e6:.3f}",
                   f"{nbytes / med[name]:.1f}",
                   f"{med[name] / fused:.2f}x" if fused else "-",
                   f"{100 * probe / med[name]:.0f}%" if probe else "-",
                   str(len(s)) if first else "", f"{100 * other:.0f}%" if first else ""))


# ------------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", help="comma-separated, e.g. 1M,16M,64M,2000x4096 (the default)")
    ap.add_argument("--optimizers", help=f"comma-separated subset of {','.join(OPTIMIZERS)}")
    ap.add_argument("--repeat", type=int, help="timed rounds per group (default: as many as fit a "
                    "time budget, at least 20)")
    ap.add_argument("--threads", type=int, help="threads for pygd and torch (default: all cores)")
    ap.add_argument("--json", help="write machine info and every sample (ns) to this file")
    ap.add_argument("--quick", action="store_true", help="1M,4M,2000x4096, >= 10 rounds (~1 min)")
    args = ap.parse_args(argv)

    sizes = [parse_size(s) for s in (args.sizes or ("1M,4M,2000x4096" if args.quick else
                                                    "1M,16M,64M,2000x4096")).split(",")]
    names = (args.optimizers or ",".join(OPTIMIZERS)).lower().split(",")
    if unknown := set(names) - set(OPTIMIZERS):
        ap.error(f"unknown optimizers {sorted(unknown)}; choose from {list(OPTIMIZERS)}")
    if args.threads:
        pygd.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    timing = (dict(rounds=args.repeat, budget_s=0.5, min_rounds=10, warmup_s=0.05) if args.quick else
              dict(rounds=args.repeat, budget_s=4.0, min_rounds=20, warmup_s=0.3))

    info = machine_info()
    pi = info["pygd"]
    print(f"# {info['cpu']}, {info['affinity']} cores, L3 {(info['l3_bytes'] or 0) >> 20} MiB; "
          f"pygd {pi['version']} {pi['backend']}/{pi['isa']} x{pi['threads']} threads; "
          f"numpy {info['numpy']}; "
          + (f"torch {info['torch']} x{info['torch_threads']} threads" if torch else "torch: not importable"))
    print("# fp32, one step per contender per round, interleaved; median and p10-p90 over rounds.\n"
          "# GB/s = ideal fused bytes (Adam/AdamW 28, SGD-mom 20 B/param) / time; t/fused = time / "
          "torch fused time;\n# % probe = GB/s / probe GB/s (probe: same streams, trivial math = "
          "memory ceiling); other = share of the CPUs used by other processes while timing")
    if args.quick:
        print("# --quick: small budget and >= 10 rounds; indicative only")
    print(row(HEADER))
    print(row(["-" * w for w in WIDTHS]))

    rng, results, start, load = np.random.default_rng(0), [], time.perf_counter(), OtherLoad()
    for size, shapes in sizes:
        p0 = [rng.standard_normal(n, dtype=np.float32) for n in shapes]
        g0 = [rng.standard_normal(n, dtype=np.float32) for n in shapes]
        elements = sum(shapes)
        for name in names:
            opt = OPTIMIZERS[name]
            steps = build(opt, p0, g0)
            load.start()
            samples = measure(steps, **timing)
            other = load.stop()
            del steps
            gc.collect()  # free this group's arrays before the next group allocates its own
            for line in group_rows(opt, size, elements, samples, other):
                print(line, flush=True)
            results.append({"optimizer": name, "size": size, "tensors": len(shapes),
                            "elements": elements, "bytes_per_param": opt.bytes_per_param,
                            "other_load": other, "samples_ns": samples})
        del p0, g0
        working_sets = [(2 + OPTIMIZERS[n].states) * 4 * elements for n in names]
        if info["l3_bytes"] and max(working_sets) <= info["l3_bytes"]:
            mib = sorted({w >> 20 for w in working_sets})
            print(f"#   {size}: {'-'.join(map(str, mib[::max(len(mib) - 1, 1)]))} MiB per contender fits "
                  "the L3; buffers are not rotated, so part of it may still be cached when its turn comes")

    print("\n# one Adam step on a 4096-element fp32 array, end to end from Python (timeit loops)")
    lat = latency(5 if args.quick else 15)
    for name, us in lat.items():
        print(f"  {name:28s} {statistics.median(us):7.2f} us/call  "
              f"(p10-p90 {quantile(us, 0.1):.2f}-{quantile(us, 0.9):.2f})")

    print("\n# bars from the issue")
    us = statistics.median(lat["pygd.adam_"])
    print(f"  Adam, one 4096 array:   {us:6.2f} us   bar <= 5 us: {'met' if us <= 5 else 'MISSED'}")
    for r in results:
        if r["optimizer"] == "adam" and r["size"] == "2000x4096":
            med = {c: statistics.median(s) / 1e6 for c, s in r["samples_ns"].items()}
            print(f"  Adam, 2000x4096 list:   {med['pygd']:6.2f} ms   bar <= 6 ms: "
                  f"{'met' if med['pygd'] <= 6 else 'MISSED'}"
                  + (f"   (torch fused {med['torch fused']:.2f} ms)" if "torch fused" in med else ""))
    busiest = max(results, key=lambda r: r["other_load"], default=None)
    if busiest and busiest["other_load"] > 0.1:
        print(f"\n# WARNING: other processes used up to {100 * busiest['other_load']:.0f}% of the CPUs "
              "while timing; multi-threaded contenders stall at barriers then (see `other`)")
    print(f"\n# total {time.perf_counter() - start:.0f} s")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "argv": sys.argv[1:], "timing": timing, "groups": results,
                       "latency_4096_adam_us": lat}, f, indent=1)


if __name__ == "__main__":
    main()
