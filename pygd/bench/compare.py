"""Two `pygd bench` runs side by side: what got slower or faster beyond the noise.

Rows are matched by (optimizer, size, dtype, contender). A row changed when both hold:

- its median moved by more than `threshold` (relative, 10% by default): smaller moves are not worth
  a CI failure even when they are real, and
- the two runs' interquartile ranges do not overlap (for a slowdown the new first quartile lies
  above the old third quartile; for a speed-up the reverse): the move exceeds the spread that both
  runs measured, so the noise either run saw cannot explain it.

Only pygd's own rows (contender "pygd" or "pygd-<backend>") are regressions, the ones that fail a CI
job. A comparator that moved is shown as context: it says that the machine, or that library, changed
between the runs, which may explain pygd's rows too; so does the probe's bandwidth, shown first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .report import dtype_label, ms, table
from .results import Document, row_key

DEFAULT_THRESHOLD = 0.10


def is_pygd(contender: str) -> bool:
    """Whether a contender name is pygd's (pygd, or a variant: pygd-...)."""
    return contender == "pygd" or contender.startswith("pygd-")


def verdict(old: dict[str, Any], new: dict[str, Any], threshold: float) -> str:
    """'slower', 'faster' or 'same' for one row's old and new entries."""
    if new["median_ns"] > old["median_ns"] * (1 + threshold) and new["q1_ns"] > old["q3_ns"]:
        return "slower"
    if new["median_ns"] * (1 + threshold) < old["median_ns"] and new["q3_ns"] < old["q1_ns"]:
        return "faster"
    return "same"


@dataclass(frozen=True)
class Change:
    """One row of both runs: its old and new entries and the verdict ("slower", "faster", "same")."""

    old: dict[str, Any]
    new: dict[str, Any]
    verdict: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The row this change is of: (optimizer, size, dtype, contender)."""
        return row_key(self.new)

    @property
    def ratio(self) -> float:
        """The new median time over the old one (above 1: slower)."""
        ratio: float = self.new["median_ns"] / self.old["median_ns"]
        return ratio

    @property
    def label(self) -> str:
        """The change in words, as the comparison's table prints it."""
        if self.verdict == "same":
            return "within noise"
        pygd_row = is_pygd(self.new["contender"])
        if self.verdict == "slower":
            return "REGRESSION" if pygd_row else "slower (comparator)"
        return "improvement" if pygd_row else "faster (comparator)"


@dataclass
class Comparison:
    """Two runs compared (see compare()): the changes, the rows only one run has, the probes."""

    threshold: float
    changes: list[Change] = field(default_factory=list)  # one per matched row
    only_old: list[tuple[str, str, str, str]] = field(default_factory=list)  # row keys
    only_new: list[tuple[str, str, str, str]] = field(default_factory=list)
    # (old probe entry, new probe entry)
    probes: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        """The pygd rows that got slower beyond the noise."""
        return [c for c in self.changes if c.verdict == "slower" and is_pygd(c.new["contender"])]

    @property
    def improvements(self) -> list[Change]:
        """The pygd rows that got faster beyond the noise."""
        return [c for c in self.changes if c.verdict == "faster" and is_pygd(c.new["contender"])]


def compare(old_doc: Document, new_doc: Document, threshold: float = DEFAULT_THRESHOLD) -> Comparison:
    """Two result documents side by side: a Comparison of the rows both have (each judged against
    the noise and `threshold`), the rows only one has, and the probes both have."""
    old = {row_key(e): e for e in old_doc["results"]}
    new = {row_key(e): e for e in new_doc["results"]}
    comparison = Comparison(threshold,
                            [Change(old[k], new[k], verdict(old[k], new[k], threshold))
                             for k in new if k in old],
                            [k for k in old if k not in new], [k for k in new if k not in old])
    old_probes = {(p["dtype"], p["states"]): p for p in old_doc.get("probe", [])}
    comparison.probes = [(old_probes[k], p) for p in new_doc.get("probe", [])
                         if (k := (p["dtype"], p["states"])) in old_probes]
    return comparison


def _describe(doc: Document) -> str:
    machine, info = doc.get("machine", {}), doc.get("pygd", {})
    return (f"{doc.get('created', '?')}, {machine.get('cpu', '?')}, pygd {info.get('version', '?')} "
            f"{info.get('backend', '?')}/{info.get('isa', '?')}")


def lines(comparison: Comparison, old_doc: Document, new_doc: Document, old_name: str = "OLD",
          new_name: str = "this run") -> list[str]:
    """The comparison as text: the context, the rows that moved, and a one-line verdict."""
    out = [f"# old: {old_name} ({_describe(old_doc)})",
           f"# new: {new_name} ({_describe(new_doc)})",
           f"# changed: the median moved more than {100 * comparison.threshold:.0f}% and the two runs'"
           " interquartile ranges do not overlap"]
    for old, new in comparison.probes:
        change = 100 * (new["gbps"] / old["gbps"] - 1)
        out.append(f"# probe {dtype_label(new['dtype'])} {2 + new['states']} streams: "
                   f"{old['gbps']:.1f} -> {new['gbps']:.1f} GB/s ({change:+.0f}%)")
    moved = sorted((c for c in comparison.changes if c.verdict != "same"),
                   key=lambda c: (c.label != "REGRESSION", -abs(c.ratio - 1)))
    if moved:
        rows = [(c.label, f"{c.new['label']} {c.new['size']} {dtype_label(c.new['dtype'])}",
                 c.new["contender"], ms(c.old["median_ns"]), ms(c.new["median_ns"]),
                 f"{100 * (c.ratio - 1):+.1f}%")
                for c in moved]
        out += table(("verdict", "row", "contender", "old ms", "new ms", "change"), rows, left=3)
    else:
        out.append("# no row moved beyond the noise")
    unmatched = ""
    if comparison.only_old or comparison.only_new:
        unmatched = (f"; not compared: {len(comparison.only_old)} rows only in {old_name}, "
                     f"{len(comparison.only_new)} only in {new_name}")
    out.append(f"# {len(comparison.changes)} rows compared: {len(comparison.regressions)} pygd "
               f"regressions, {len(comparison.improvements)} pygd improvements{unmatched}")
    return out
