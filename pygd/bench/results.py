"""The JSON document of a `pygd bench` run, and reading one back.

Schema 1 (a change of meaning or layout bumps SCHEMA):

    schema      1
    created     the start of the run, ISO 8601 UTC
    command     the arguments, as given
    wall_s      the run's duration in seconds
    machine     {cpu, logical_cpus, usable_cpus, llc_bytes, platform, python}
    versions    {pygd, numpy, torch, numba, deepspeed}: null for a library that is not installed
    pygd        pygd.info(): version, backend, isa (the one chosen), isas, threads,
                threads_source, openmp, ...
    settings    {quick, seed, threads, threads_source (the rule that chose pygd's count, as in
                pygd.info()), torch_threads, optimizers, sizes, dtypes, contenders, plan}
    load        {loadavg_start, loadavg_end: the 1, 5 and 15 minute load averages (null where the
                OS has none), busiest_other_load: the largest share of the CPUs that other
                processes used while a group was timed (null where unknown)}
    probe       one entry per stream pattern timed: {states, dtype, elements, bytes_per_step,
                samples_ns, median_ns, q1_ns, q3_ns, p10_ns, p90_ns, rounds, gbps}
    results     one entry per optimizer x size x dtype x contender: {optimizer, label, states, size,
                dtype, contender, tensors, elements, bytes_per_step, buffer_sets, other_load,
                samples_ns, median_ns, q1_ns, q3_ns, p10_ns, p90_ns, rounds, gbps,
                fraction_of_probe, speedup_vs_torch_fused}; the last two null where there is no
                probe or torch-fused row to divide by
    skipped     {contender, reason, optimizer, size, dtype}: a contender that did not run; the last
                three null when it ran nowhere (e.g. not installed)

Times are nanoseconds per step; samples_ns holds every timed step, one per round.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional, TextIO

if TYPE_CHECKING:
    from .workloads import Workload

# A result document (the schema above), and one of its entries: JSON objects.
Document = dict[str, Any]

SCHEMA = 1

# What --compare reads from each result entry.
_COMPARED_FIELDS = ("optimizer", "label", "size", "dtype", "contender", "median_ns", "q1_ns",
                    "q3_ns")


def new_document(created: str, command: Sequence[str], machine: dict[str, Any],
                 versions: dict[str, Optional[str]], info: dict[str, Any],
                 settings: dict[str, Any]) -> Document:
    """A new result document (schema in this module's docstring), without results yet."""
    return {"schema": SCHEMA, "created": created, "command": list(command), "wall_s": None,
            "machine": machine, "versions": versions, "pygd": info, "settings": settings,
            "load": {"loadavg_start": None, "loadavg_end": None, "busiest_other_load": None},
            "probe": [], "results": [], "skipped": []}


def skip_entry(contender: str, reason: str, workload: Optional[Workload] = None) -> dict[str, Any]:
    """The entry of a contender that was not timed, and why."""
    return {"contender": contender, "reason": reason,
            "optimizer": workload.optimizer.key if workload else None,
            "size": workload.size.label if workload else None,
            "dtype": workload.dtype.name if workload else None}


def row_key(entry: dict[str, Any]) -> tuple[str, str, str, str]:
    """What a row is matched by across runs."""
    return entry["optimizer"], entry["size"], entry["dtype"], entry["contender"]


def write(doc: Document, f: TextIO) -> None:
    """The document as JSON on the open text file `f`."""
    json.dump(doc, f, indent=1)
    f.write("\n")
    f.flush()


def save(doc: Document, path: str) -> None:
    """Writes a result document to the file `path` as JSON."""
    with open(path, "w") as f:
        write(doc, f)


def load(path: str) -> Document:
    """A document written by `pygd bench`; ValueError saying what is wrong with anything else."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    if not isinstance(doc, dict) or "schema" not in doc:
        raise ValueError(f"{path} is not a `pygd bench` result (no schema field)")
    if doc["schema"] != SCHEMA:
        raise ValueError(f"{path} has schema {doc['schema']!r}; this pygd reads schema {SCHEMA}")
    results = doc.get("results")
    if not isinstance(results, list):
        raise ValueError(f"{path} has no results list")
    for i, entry in enumerate(results):
        missing = [k for k in _COMPARED_FIELDS if not isinstance(entry, dict) or k not in entry]
        if missing:
            raise ValueError(f"{path}: results[{i}] lacks {', '.join(missing)}")
    return doc
