"""`optimizer.step()` of pygd.torch against torch.optim (fused, foreach) and DeepSpeedCPUAdam, on
torch tensors, beside pygd's bandwidth probe over the same bytes (the memory floor).

    python benchmarks/torch_step.py [--quick] [--json PATH] [--optimizers adam,adamw,sgd]
                                    [--workloads 16M,2000x4096,resnet50,gpt2-small]
                                    [--threads N] [--rounds N] [--seed N]

Workloads: one tensor of 16M elements; 2000 tensors of 4096; the parameter lists of ResNet-50 and
GPT-2 small; one tensor of 4096 (pygd/bench/model_shapes.py), as tensors of those shapes.
`--workloads` also takes a size such as 64x4096 (a list of equal tensors). All fp32.

Method: one process; every contender gets its own copies of the same random params, each .grad set
once and reused, so only step() is timed; every contender is warmed up (which fills its states),
then they run interleaved, one step() each per round in a rotating order, so that the machine's
noise hits them alike; the median of the rounds is reported. Tensors that fit the cache are cycled
through copies covering twice the last-level cache, as a step between two backward passes finds
them. Each workload's table states the issues' bar for pygd.torch beside the speedup measured.

--json writes {schema, created, command, wall_s, machine, versions, pygd (pygd.info()), settings,
results, bars, skipped}: a result per workload x optimizer x contender (every sample in ns, their
median and quartiles, GB/s, fraction_of_probe, speedup_vs_torch_fused), a bar per workload x
optimizer that the issues set one for (the bar, the speedup, met), and each contender not timed, why.
"""

import argparse
import dataclasses
import datetime
import gc
import json
import sys
import time
from dataclasses import dataclass

import numpy as np

import pygd
from pygd.bench import machine, model_shapes, report, timing, workloads
from pygd.bench.torch_contenders import (
    BASELINE,
    CONTENDERS,
    FLOOR,
    SUBJECT,
    Unsupported,
    import_module,
    initial_values,
)

SCHEMA = 1
DTYPE = np.float32


@dataclass(frozen=True)
class Bar:
    """The issues' bar on a workload: torch fused's step time / pygd.torch's must reach min_speedup
    (strict: exceed it)."""
    min_speedup: float
    strict: bool
    text: str

    def met(self, speedup):
        return speedup > self.min_speedup if self.strict else speedup >= self.min_speedup


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    shapes: tuple   # the shape of each tensor, in the model's parameter order
    bar: Bar = None  # None: a workload the issues set no bar for

    @property
    def elements(self):
        return sum(int(np.prod(shape)) for shape in self.shapes)


def _model(name, description, bar):
    shapes = tuple(shape for _, shape in model_shapes.MODELS[name]())
    return Workload(name, description, shapes, bar)


FASTER_THAN_FUSED = Bar(1.0, True, "faster than torch fused")
WORKLOADS = {w.name: w for w in (
    Workload("16M", "one tensor of 16M elements", ((16 << 20,),),
             Bar(1.0, False, "at most 1.0x torch fused's time")),
    Workload("2000x4096", "2000 tensors of 4096 elements", ((4096,),) * 2000,
             Bar(3.0, False, "at least 3x faster than torch fused")),
    _model("resnet50", "ResNet-50's parameters", FASTER_THAN_FUSED),
    _model("gpt2-small", "GPT-2 small's parameters (tied embeddings)", FASTER_THAN_FUSED),
    # The per-step cost of a small model: the bar is <= 20 us (absolute, read off the table).
    Workload("4096", "one tensor of 4096 elements", ((4096,),)),
)}
DEFAULT_OPTIMIZERS = ("adam", "adamw")
QUICK_OPTIMIZERS = ("adam",)
CONTENDER_ORDER = (SUBJECT, BASELINE, "torch-foreach", "deepspeed", FLOOR)

# Rounds: at least min_rounds (the large lists take ~0.1-1 s per round for all contenders), more
# where budget_s allows (the small workloads).
FULL = timing.Plan(warmup_s=0.5, warmup_calls=3, budget_s=10.0, min_rounds=30, max_rounds=1000)
QUICK = timing.Plan(warmup_s=0.05, warmup_calls=2, budget_s=1.0, min_rounds=7, max_rounds=100)


def workload(text):
    """A named workload, or a size such as 64x4096 (no bar)."""
    if text in WORKLOADS:
        return WORKLOADS[text]
    size = workloads.parse_size(text)
    return Workload(size.label, "a size from the command line", tuple((n,) for n in size.shapes))


def _build(optimizer, values, sets, names, skipped, where):
    """{name: step()} for each contender that runs this optimizer; its first call is a trial."""
    steps = {}
    for name in names:
        try:
            step = CONTENDERS[name].make(optimizer, values, sets)
            step()
        except Unsupported as error:
            skipped.append({"contender": name, "reason": str(error), **where})
        except Exception as error:  # e.g. a torch built without this fused kernel
            skipped.append({"contender": name, "reason": f"{type(error).__name__}: {error}",
                            **where})
        else:
            steps[name] = step
    return steps


def _entries(work, optimizer, sets, samples, other_load):
    bytes_per_step = optimizer.bytes_per_param(np.dtype(DTYPE).itemsize) * work.elements
    entries = {}
    for name, ns in samples.items():
        summary = timing.summarize(ns)
        entries[name] = {"workload": work.name, "optimizer": optimizer.key,
                         "label": optimizer.label, "contender": name,
                         "tensors": len(work.shapes), "elements": work.elements,
                         "bytes_per_step": bytes_per_step, "buffer_sets": sets,
                         "other_load": other_load, "samples_ns": ns, **summary,
                         "gbps": bytes_per_step / summary["median_ns"]}
    for entry in entries.values():
        entry["fraction_of_probe"] = (entries[FLOOR]["median_ns"] / entry["median_ns"]
                                      if FLOOR in entries else None)
        entry["speedup_vs_torch_fused"] = (entries[BASELINE]["median_ns"] / entry["median_ns"]
                                           if BASELINE in entries else None)
    return [entries[name] for name in CONTENDER_ORDER if name in entries]


def _verdict(work, optimizer, entries):
    """The issues' bar on this workload beside what was measured (None where it sets no bar)."""
    if work.bar is None:
        return None
    subject = next((e for e in entries if e["contender"] == SUBJECT), None)
    speedup = subject["speedup_vs_torch_fused"] if subject else None
    return {"workload": work.name, "optimizer": optimizer.key, "bar": work.bar.text,
            "min_speedup": work.bar.min_speedup, "strict": work.bar.strict, "speedup": speedup,
            "time_ratio": 1 / speedup if speedup else None,
            "met": work.bar.met(speedup) if speedup else None}


def time_workload(work, optimizer, names, plan, cache_bytes, rng, doc, progress):
    """Times every contender on one workload x optimizer; appends to doc, returns the entries."""
    values = initial_values(rng, work.shapes, DTYPE)
    arrays_bytes = (2 + optimizer.states) * np.dtype(DTYPE).itemsize * work.elements
    sets = workloads.buffer_sets(arrays_bytes, cache_bytes)
    where = {"workload": work.name, "optimizer": optimizer.key}
    first_skip = len(doc["skipped"])
    progress.start(f"{work.name} {optimizer.label}: building {len(names)} contenders")
    steps = _build(optimizer, values, sets, names, doc["skipped"], where)
    del values
    progress.start(f"{work.name} {optimizer.label}: {len(steps)} contenders, {sets} buffer set(s)")
    load = machine.OtherLoad()
    load.start()
    samples = timing.measure(steps, plan, sets, on_round=progress.round) if steps else {}
    other = load.stop()
    entries = _entries(work, optimizer, sets, samples, other)
    doc["results"] += entries
    verdict = _verdict(work, optimizer, entries)
    if verdict:
        doc["bars"].append(verdict)
    return entries, verdict, doc["skipped"][first_skip:]


# --------------------------------------------------------------------------------------- printing

COLUMNS = ("workload", "optimizer", "contender", "ms/step", "±", "GB/s", "% probe", "vs fused",
           "rounds")


def _row(entry, first):
    fraction, speedup = entry["fraction_of_probe"], entry["speedup_vs_torch_fused"]
    spread = (entry["q3_ns"] - entry["q1_ns"]) / 2 / entry["median_ns"]
    return (entry["workload"] if first else "", entry["label"] if first else "", entry["contender"],
            report.ms(entry["median_ns"]), f"{100 * spread:.0f}%", f"{entry['gbps']:.1f}",
            f"{100 * fraction:.0f}%" if fraction is not None else "-",
            f"{speedup:.2f}x" if speedup is not None else "-", str(entry["rounds"]))


def _verdict_text(verdict):
    if verdict["speedup"] is None:
        return f"bar: {SUBJECT} {verdict['bar']}: not measured"
    return (f"bar: {SUBJECT} {verdict['bar']}: speedup {verdict['speedup']:.2f}x (time ratio "
            f"{verdict['time_ratio']:.2f}): {'met' if verdict['met'] else 'NOT met'}")


def print_header(out, doc, plan):
    m, v, info, s = doc["machine"], doc["versions"], doc["pygd"], doc["settings"]
    cache = report.mib(m["llc_bytes"]) if m["llc_bytes"] else "unknown"
    out.print(f"# torch step() on {m['cpu']}: {m['usable_cpus']} usable CPUs, last-level cache "
              f"{cache}; Python {m['python']}, numpy {v['numpy']}, torch {v['torch']}")
    out.print(f"# pygd {info['version']}: backend {info['backend']}, ISA {info['isa']}; threads: "
              f"pygd {s['threads']}, torch {s['torch_threads']}; one process, fp32")
    out.print(f"# contenders: {', '.join(s['contenders'])}")
    for skip in doc["skipped"]:
        out.print(f"#   not timed: {skip['contender']} ({skip['reason']})")
    if s["quick"]:
        out.print("# --quick: fewer optimizers and rounds; indicative, not a record")
    out.print("# ms/step: median of the rounds (one step() each, contenders interleaved, grads set "
              "once); ±: half the interquartile range")
    out.print("# GB/s: bytes an ideal fused update moves (fp32: Adam/AdamW 28, SGD-mom 20 per "
              f"param) / time; % probe: {FLOOR} time / this time; vs fused: {BASELINE} time / this "
              "time (> 1: faster)")
    out.print(f"# rounds: at least {plan.rounds or plan.min_rounds}, after "
              f"{plan.warmup_calls}+ warm-up steps")


def print_group(out, work, entries, verdict, skipped):
    out.print()
    tensors = len(work.shapes)
    out.print(f"# {work.name}: {work.description}: {tensors} tensor{'s' if tensors > 1 else ''}, "
              f"{work.elements:,} parameters")
    for skip in skipped:
        out.print(f"#   not timed: {skip['contender']} ({skip['reason']})")
    if entries:
        for line in report.table(COLUMNS, [_row(e, i == 0) for i, e in enumerate(entries)], left=3):
            out.print(line)
        other = entries[0]["other_load"]
        if other is not None and other > report.NOISY_LOAD:
            out.print(f"#   other processes used {100 * other:.0f}% of the CPUs meanwhile: the "
                      "multi-threaded rows may be slowed")
    if verdict:
        out.print(f"#   {_verdict_text(verdict)}")


def print_summary(out, doc):
    if not doc["bars"]:
        return
    out.print()
    out.print(f"# the issues' bars for {SUBJECT} (speedup = {BASELINE} time / {SUBJECT} time)")
    rows = [(v["workload"], v["optimizer"], v["bar"],
             f"{v['speedup']:.2f}x" if v["speedup"] else "-",
             {True: "met", False: "NOT met", None: "-"}[v["met"]]) for v in doc["bars"]]
    for line in report.table(("workload", "optimizer", "bar", "speedup", "verdict"), rows, left=3):
        out.print(line)


# --------------------------------------------------------------------------------------- the run

def _set_threads(threads):
    """pygd's and torch's thread counts: both set to `threads` when given; returns torch's."""
    torch, _ = import_module("torch")
    if threads:
        pygd.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
    return torch.get_num_threads() if torch is not None else None


def run(args, out):
    start_ns = time.perf_counter_ns()
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = dataclasses.replace(plan, rounds=args.rounds)
    torch_threads = _set_threads(args.threads)
    ran, skipped = [], []
    for name in args.contenders:
        reason = CONTENDERS[name].unavailable()
        if reason is None:
            ran.append(name)
        else:
            skipped.append({"contender": name, "reason": reason, "workload": None,
                            "optimizer": None})
    doc = {"schema": SCHEMA, "created": datetime.datetime.now(datetime.timezone.utc)
           .isoformat(timespec="seconds"), "command": list(args.argv), "wall_s": None,
           "machine": machine.describe(), "versions": machine.versions(), "pygd": pygd.info(),
           "settings": {"quick": args.quick, "seed": args.seed, "threads": pygd.get_num_threads(),
                        "torch_threads": torch_threads, "dtype": np.dtype(DTYPE).name,
                        "optimizers": list(args.optimizers),
                        "workloads": [w.name for w in args.workloads], "contenders": ran,
                        "plan": plan.as_dict()},
           "results": [], "bars": [], "skipped": skipped}
    print_header(out, doc, plan)
    if SUBJECT not in ran:
        out.print(f"# {SUBJECT} is not timed: the table has no subject, only the comparators")
    rng = np.random.default_rng(args.seed)
    for work in args.workloads:
        for key in args.optimizers:
            entries, verdict, skips = time_workload(work, workloads.OPTIMIZERS[key], ran, plan,
                                                    doc["machine"]["llc_bytes"], rng, doc,
                                                    out.progress)
            print_group(out, work, entries, verdict, skips)
            gc.collect()  # free this group's tensors before the next group allocates its own
    print_summary(out, doc)
    doc["wall_s"] = (time.perf_counter_ns() - start_ns) / 1e9
    out.print(f"\n# {doc['wall_s']:.0f} s in all")
    return doc


def _comma_list(choices):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        bad = [item for item in items if item not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"{', '.join(bad) or text!r}: choose from "
                                             f"{', '.join(choices)}")
        return tuple(items)
    return parse


def _workload_list(text):
    try:
        return tuple(workload(item.strip()) for item in text.split(",") if item.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error}; or one of {', '.join(WORKLOADS)}") from None


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"{', '.join(QUICK_OPTIMIZERS)} only, fewer rounds: indicative")
    parser.add_argument("--workloads", type=_workload_list, default=tuple(WORKLOADS.values()),
                        help=f"of {', '.join(WORKLOADS)}, or a size such as 64x4096 "
                             "(default: the four)")
    parser.add_argument("--optimizers", type=_comma_list(tuple(workloads.OPTIMIZERS)),
                        help=f"default: {','.join(DEFAULT_OPTIMIZERS)} "
                             f"({','.join(QUICK_OPTIMIZERS)} with --quick)")
    parser.add_argument("--contenders", type=_comma_list(tuple(CONTENDERS)),
                        default=CONTENDER_ORDER,
                        help="default: " + ",".join(CONTENDER_ORDER))
    parser.add_argument("--rounds", type=int, help="exactly this many timed rounds")
    parser.add_argument("--threads", type=int, help="threads for pygd and torch (default: theirs)")
    parser.add_argument("--seed", type=int, default=0, help="the random inputs' seed")
    parser.add_argument("--json", metavar="PATH", help="write the results (every sample) here")
    args = parser.parse_args(argv)
    if args.optimizers is None:
        args.optimizers = QUICK_OPTIMIZERS if args.quick else DEFAULT_OPTIMIZERS
    args.argv = argv
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    out = report.Report()
    doc = run(args, out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        out.print(f"# wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
