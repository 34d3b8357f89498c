"""One `pygd bench` run: the probe, then each optimizer x size x dtype with every contender, into
the JSON document of results.py, printing as it goes."""

from __future__ import annotations

import datetime
import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

import pygd

from . import machine, probe, results, timing
from .contenders import BASELINE, CONTENDERS, FLOOR, Step, Unsupported
from .report import NOISY_LOAD, Report
from .results import Document
from .workloads import OPTIMIZERS, Size, Workload, make_workload


@dataclass(frozen=True)
class Settings:
    """What one `pygd bench` run times, and how (the command line's choices)."""

    optimizers: tuple[str, ...]   # keys of workloads.OPTIMIZERS
    sizes: tuple[Size, ...]
    dtypes: tuple[str, ...]       # "float32", "float64"
    contenders: tuple[str, ...]   # keys of contenders.CONTENDERS
    plan: timing.Plan
    threads: Optional[int]        # None: the defaults of pygd and torch (all cores)
    seed: int
    quick: bool

    def as_dict(self, ran: Sequence[str], torch_threads: Optional[int]) -> dict[str, Any]:
        """For the JSON: `ran` the contenders available here (the others are in "skipped")."""
        info = pygd.info()
        return {"quick": self.quick, "seed": self.seed, "threads": info["threads"],
                "threads_source": info["threads_source"], "torch_threads": torch_threads,
                "optimizers": list(self.optimizers),
                "sizes": [s.label for s in self.sizes], "dtypes": list(self.dtypes),
                "contenders": list(ran), "plan": self.plan.as_dict()}


def _torch_threads(settings: Settings, usable: Sequence[str]) -> Optional[int]:
    """Sets torch's threads like pygd's when asked to; torch's count when a torch contender runs."""
    if not any(name.startswith("torch") or name == "deepspeed" for name in usable):
        return None
    import torch
    if settings.threads:
        torch.set_num_threads(settings.threads)
    threads: int = torch.get_num_threads()
    return threads


def _build(work: Workload, names: Sequence[str], doc: Document) -> dict[str, Step]:
    """{name: step()} for each contender that runs this workload. Its first call is a trial (and
    counts as warm-up); a contender that cannot make or run the step is recorded as skipped."""
    steps: dict[str, Step] = {}
    for name in names:
        try:
            step = CONTENDERS[name].make(work)
            step()
        except Unsupported as error:
            doc["skipped"].append(results.skip_entry(name, str(error), work))
        except Exception as error:  # e.g. a torch built without this fused kernel
            doc["skipped"].append(results.skip_entry(name, f"{type(error).__name__}: {error}", work))
        else:
            steps[name] = step
    return steps


def _entries(work: Workload, samples: dict[str, list[int]], other_load: Optional[float]
             ) -> list[dict[str, Any]]:
    """The result entries of one group, with GB/s, % probe and the speedup over torch fused."""
    entries: list[dict[str, Any]] = []
    for name, ns in samples.items():
        summary = timing.summarize(ns)
        entries.append({"optimizer": work.optimizer.key, "label": work.optimizer.label,
                        "states": work.optimizer.states, "size": work.size.label,
                        "dtype": work.dtype.name, "contender": name, "tensors": len(work.size.shapes),
                        "elements": work.size.elements, "bytes_per_step": work.bytes_per_step,
                        "buffer_sets": work.sets, "other_load": other_load, "samples_ns": ns,
                        **summary, "gbps": work.bytes_per_step / summary["median_ns"],
                        "fraction_of_probe": None, "speedup_vs_torch_fused": None})
    by_name = {e["contender"]: e for e in entries}
    for entry in entries:
        if FLOOR in by_name:
            entry["fraction_of_probe"] = by_name[FLOOR]["median_ns"] / entry["median_ns"]
        if BASELINE in by_name:
            entry["speedup_vs_torch_fused"] = by_name[BASELINE]["median_ns"] / entry["median_ns"]
    return entries


def _measure_probe(settings: Settings, doc: Document, report: Report, rng: np.random.Generator) -> None:
    """This machine's bandwidth for each stream pattern the chosen optimizers and dtypes use."""
    reason = probe.unavailable()
    if reason is None:
        patterns = sorted({(dtype, OPTIMIZERS[key].states)
                           for dtype in settings.dtypes for key in settings.optimizers})
        for dtype, states in patterns:
            report.progress.start(f"[probe] {dtype}, {2 + states} streams")
            doc["probe"].append(probe.measure(states, dtype, settings.plan,
                                              doc["machine"]["llc_bytes"], rng,
                                              on_round=report.progress.round))
    report.probe(doc["probe"], reason)  # (without it the probe contender is skipped too)


def _time_group(work: Workload, names: Sequence[str], settings: Settings, doc: Document,
                report: Report, label: str, until_ns: Optional[int]
                ) -> tuple[list[dict[str, Any]], Optional[float]]:
    """Times one workload with every contender; returns its result entries and the other load."""
    report.progress.start(f"{label}: {len(names)} contenders, {work.sets} buffer "
                          f"set{'s' if work.sets > 1 else ''} each")
    first_skip = len(doc["skipped"])
    steps = _build(work, names, doc)
    for skip in doc["skipped"][first_skip:]:
        report.note(f"{work.optimizer.label} {work.size.label}: {skip['contender']} not timed "
                    f"({skip['reason']})")
    if not steps:
        return [], None
    load = machine.OtherLoad()
    load.start()
    samples = timing.measure(steps, settings.plan, work.sets, on_round=report.progress.round,
                             until_ns=until_ns)
    other = load.stop()
    return _entries(work, samples, other), other


def run(settings: Settings, report: Report, command: Sequence[str]) -> Document:
    """Runs the benchmark, printing through `report`; returns the JSON document."""
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    start_ns = time.perf_counter_ns()
    if settings.threads:
        pygd.set_num_threads(settings.threads)
    ran: list[str] = []
    skipped: list[dict[str, Any]] = []
    for name in settings.contenders:
        reason = CONTENDERS[name].unavailable()
        if reason is None:
            ran.append(name)
        else:
            skipped.append(results.skip_entry(name, reason))
    doc = results.new_document(created, command, machine.describe(), machine.versions(),
                               pygd.info(), settings.as_dict(ran, _torch_threads(settings, ran)))
    doc["skipped"] = skipped
    doc["load"]["loadavg_start"] = machine.load_average()
    report.header(doc, skipped)

    rng = np.random.default_rng(settings.seed)
    _measure_probe(settings, doc, report, rng)
    report.legend()

    groups = [(size, dtype, key) for size in settings.sizes for dtype in settings.dtypes
              for key in settings.optimizers]
    busiest, budget = 0.0, settings.plan.run_budget_s
    deadline_ns = start_ns + int(budget * 1e9) if budget else None
    for i, (size, dtype, key) in enumerate(groups, 1):
        until_ns = None
        if deadline_ns is not None:  # this group's share of the time left
            now = time.perf_counter_ns()
            until_ns = now + max(0, deadline_ns - now) // (len(groups) - i + 1)
        work = make_workload(OPTIMIZERS[key], size, dtype, rng, doc["machine"]["llc_bytes"],
                             settings.plan.rotation_cap_bytes)
        label = f"[{i}/{len(groups)}] {work.optimizer.label} {size.label} {dtype}"
        entries, other = _time_group(work, ran, settings, doc, report, label, until_ns)
        doc["results"] += entries
        report.group(entries)
        busiest = max(busiest, other or 0.0)
        del work, entries
        gc.collect()  # free this group's arrays before the next group allocates its own

    doc["wall_s"] = (time.perf_counter_ns() - start_ns) / 1e9
    doc["load"]["loadavg_end"] = machine.load_average()
    doc["load"]["busiest_other_load"] = busiest
    report.print()
    report.print(f"# {doc['wall_s']:.0f} s in all"
                 + (f"; other processes used up to {100 * busiest:.0f}% of the CPUs while timing,"
                    " which slows the multi-threaded contenders most"
                    if busiest > NOISY_LOAD else ""))
    return doc
