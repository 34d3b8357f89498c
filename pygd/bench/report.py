"""What `pygd bench` prints: the header, a table row per contender as each group finishes, and a
progress line on stderr while a group is timed."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any, Optional, TextIO

from . import contenders, machine
from .probe import PROBE_CACHE_MULTIPLE
from .results import Document
from .workloads import numpy_dtype

# The share of the CPUs used by other processes above which a group's times are flagged as disturbed.
NOISY_LOAD = 0.1


def table(header: Sequence[object], rows: Sequence[Sequence[object]], left: int = 1) -> list[str]:
    """Text lines of aligned columns; the first `left` columns flush left, the rest right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells: Iterable[object]) -> str:
        return "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return [line(header), line("-" * w for w in widths)] + [line(r) for r in rows]


def dtype_label(name: str) -> str:
    """A dtype's short name in the table (fp32, fp64)."""
    return {"float32": "fp32", "float64": "fp64"}.get(name, name)


def ms(ns: float) -> str:
    """Milliseconds with 3 decimals, or 4 below 0.1 ms (a small step's few microseconds)."""
    value = ns / 1e6
    return f"{value:.4f}" if value < 0.1 else f"{value:.3f}"


def mib(nbytes: int) -> str:
    """A byte count in MiB, as the table prints it."""
    return f"{nbytes / (1 << 20):.0f} MiB"


class Progress:
    """One line on stderr: redrawn in place on a terminal, and printed once per task elsewhere (a CI
    log), so that a long run shows where it is."""

    # Redraw at most this often: a terminal write between rounds should not disturb the timing.
    INTERVAL_S = 0.2

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.task, self.shown, self.last = "", False, 0.0

    def start(self, task: str) -> None:
        """Shows a new task on the progress line."""
        self.task = task
        if self.live:
            self._draw(task)
        else:
            print(task, file=self.stream, flush=True)

    def round(self, done: int, total: int) -> None:
        """Shows `done` of `total` rounds of the current task (at most a few times a second)."""
        now = time.monotonic()
        if self.live and (now - self.last >= self.INTERVAL_S or done == total):
            self.last = now
            self._draw(f"{self.task}: round {done}/{total}")

    def clear(self) -> None:
        """Erases the progress line, if shown."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False

    def _draw(self, text: str) -> None:
        self.stream.write("\r\033[K" + text)
        self.stream.flush()
        self.shown = True


# The result table's columns and their widths: rows are printed group by group as the run goes, so
# the widths are fixed up front (a longer cell just pushes its row).
RESULT_COLUMNS = (("optimizer", 9), ("size", 9), ("dtype", 5), ("contender", 14), ("ms/step", 9),
                  ("±", 4), ("GB/s", 6), ("% probe", 7), ("vs fused", 8), ("runs", 5))
_TEXT_COLUMNS = 4  # flush left; the numbers flush right


def result_line(cells: Sequence[str]) -> str:
    """One row of the results table from its cells, aligned to the columns."""
    return "  ".join(c.ljust(w) if i < _TEXT_COLUMNS else c.rjust(w)
                     for i, (c, (_, w)) in enumerate(zip(cells, RESULT_COLUMNS))).rstrip()


def result_cells(entry: dict[str, Any], first: bool) -> tuple[str, ...]:
    """A table row for one result entry; optimizer, size and dtype only on a group's first row."""
    fraction, speedup = entry["fraction_of_probe"], entry["speedup_vs_torch_fused"]
    spread = (entry["q3_ns"] - entry["q1_ns"]) / 2 / entry["median_ns"]
    return (entry["label"] if first else "", entry["size"] if first else "",
            dtype_label(entry["dtype"]) if first else "", entry["contender"],
            ms(entry["median_ns"]), f"{100 * spread:.0f}%", f"{entry['gbps']:.1f}",
            f"{100 * fraction:.0f}%" if fraction is not None else "-",
            f"{speedup:.2f}x" if speedup is not None else "-", str(entry["rounds"]))


class Report:
    """Writes the run's text to `out` (the table) and its progress to `progress`."""

    def __init__(self, out: Optional[TextIO] = None, progress: Optional[Progress] = None) -> None:
        self.out = out or sys.stdout
        self.progress = progress or Progress()

    def print(self, text: str = "") -> None:
        """Prints a line of the report (after clearing the progress line)."""
        self.progress.clear()
        print(text, file=self.out, flush=True)

    def header(self, doc: Document, skipped: Sequence[dict[str, Any]]) -> None:
        """Prints the run's header: machine, versions, threads, load and settings."""
        m, v, info, settings = doc["machine"], doc["versions"], doc["pygd"], doc["settings"]
        cache = mib(m["llc_bytes"]) if m["llc_bytes"] else "unknown"
        self.print(f"# pygd bench on {m['cpu']}: {m['usable_cpus']} usable CPUs, last-level cache "
                   f"{cache}; Python {m['python']}, numpy {v['numpy']}")
        torch = (f"; torch {v['torch']} ({settings['torch_threads']} threads)"
                 if settings["torch_threads"] else "")
        self.print(f"# pygd {info['version']}: backend {info['backend']}, ISA {info['isa']} "
                   f"(runs {', '.join(info['isas']) or 'none'}), {info['threads']} threads "
                   f"(from {settings['threads_source']}){torch}")
        loadavg = doc["load"]["loadavg_start"]
        if loadavg is not None:
            self.print(f"# load average {loadavg[0]:.2f} (1 min), {loadavg[1]:.2f} (5 min)")
        if machine.busy(loadavg, m["usable_cpus"]):
            self.print(f"# warning: the machine is busy (load average {loadavg[0]:.2f} on "
                       f"{m['usable_cpus']} CPUs): figures will be slow and noisy, the "
                       "multi-threaded contenders most")
        self.print(f"# contenders: {', '.join(settings['contenders'])}")
        for skip in skipped:
            self.print(f"#   not timed: {skip['contender']} ({skip['reason']})")
        if settings["quick"]:
            plan = settings["plan"]
            self.print("# --quick: fewer optimizers, sizes and runs; indicative, not a record")
            if m["llc_bytes"] and plan.get("probe_cap_bytes") and (
                    PROBE_CACHE_MULTIPLE * m["llc_bytes"] > plan["probe_cap_bytes"]):
                self.print(f"#   it touches at most {mib(plan['probe_cap_bytes'])} per probe and "
                           f"{mib(plan['rotation_cap_bytes'])} per contender, less than this "
                           "cache asks for: some bytes may come from the cache")

    def probe(self, probes: Sequence[dict[str, Any]], unavailable: Optional[str]) -> None:
        """Prints the bandwidth probe's results (or why there are none)."""
        if unavailable:
            self.print(f"# probe: {unavailable}; the % probe column is left empty")
            return
        parts = [f"{dtype_label(p['dtype'])} {2 + p['states']} streams {p['gbps']:.1f} GB/s "
                 f"(±{100 * (p['q3_ns'] - p['q1_ns']) / 2 / p['median_ns']:.0f}%)" for p in probes]
        size = mib(max(p["elements"] * (2 + p["states"]) * numpy_dtype(p["dtype"]).itemsize
                       for p in probes))
        self.print(f"# this machine's in-place streaming bandwidth (native probe over {size}): "
                   + ", ".join(parts))

    def legend(self) -> None:
        """Prints what the table's columns mean."""
        self.print("# ms/step: median of the runs (one step each, contenders interleaved);"
                   " ±: half the interquartile range")
        self.print("# GB/s: bytes an ideal fused update moves (fp32: Adam/AdamW 28,"
                   " SGD-mom/RMSprop/Adagrad 20 per param) / time")
        self.print(f"# % probe: {contenders.FLOOR} time / this time (the probe row: same arrays,"
                   f" trivial math); vs fused: {contenders.BASELINE} time / this time (> 1: faster)")
        self.print()
        self.print(result_line([name for name, _ in RESULT_COLUMNS]))
        self.print(result_line(["-" * width for _, width in RESULT_COLUMNS]))

    def group(self, entries: Sequence[dict[str, Any]]) -> None:
        """Prints the rows of one workload (every contender)."""
        for i, entry in enumerate(entries):
            self.print(result_line(result_cells(entry, i == 0)))
        other = entries[0]["other_load"] if entries else None
        if other is not None and other > NOISY_LOAD:
            self.note(f"other processes used {100 * other:.0f}% of the CPUs meanwhile: the "
                      "multi-threaded rows above may be slowed (a thread waits for a busy core)")

    def note(self, text: str) -> None:
        """Prints a note under the table's current group."""
        self.print(f"#   {text}")
