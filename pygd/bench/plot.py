"""`pygd bench --plot FILE.png`: achieved GB/s of each contender per optimizer x size x dtype, with
the probe row's bandwidth (the ceiling) drawn over each group."""

from __future__ import annotations

from typing import Any, Optional

from .contenders import FLOOR
from .report import dtype_label
from .results import Document


def unavailable() -> Optional[str]:
    """Why no chart can be drawn here, or None."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "--plot needs matplotlib (pip install matplotlib)"
    return None


def draw(doc: Document, path: str) -> None:
    """Draws a result document's GB/s per contender, grouped by workload, into the image `path`."""
    import matplotlib
    matplotlib.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt

    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    contenders: list[str] = []
    for entry in doc["results"]:
        key = (entry["label"], entry["size"], entry["dtype"])
        groups.setdefault(key, {})[entry["contender"]] = entry
        if entry["contender"] not in contenders and entry["contender"] != FLOOR:
            contenders.append(entry["contender"])

    width = 0.8 / max(len(contenders), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) + 2), 4.5))
    columns = list(groups.values())
    for i, name in enumerate(contenders):
        xs = [g for g, entries in enumerate(columns) if name in entries]
        ax.bar([x - 0.4 + width * (i + 0.5) for x in xs], [columns[g][name]["gbps"] for g in xs],
               width, label=name)
    labelled = False
    for g, entries in enumerate(columns):
        if FLOOR in entries:
            ax.hlines(entries[FLOOR]["gbps"], g - 0.45, g + 0.45, colors="black",
                      linestyles="dashed",
                      # None: no legend entry (matplotlib's default, which its stubs type as str)
                      label=None if labelled else "probe (ceiling)")  # type: ignore[arg-type]
            labelled = True
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{label}\n{size} {dtype_label(dtype)}" for label, size, dtype in groups])
    ax.set_ylabel("GB/s (ideal fused traffic / time)")
    info = doc["pygd"]
    ax.set_title(f"pygd {info['version']} ({info['backend']}/{info['isa']}, {info['threads']} threads)"
                 f" on {doc['machine']['cpu']}", fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

