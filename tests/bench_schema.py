"""The JSON schema of `pygd bench` (version 1), written out by hand as the contract a consumer (a CI
job running --compare, a dashboard) relies on, and a checker for it. pygd/bench/results.py describes
the same layout in prose; this file is the test's own statement of it, so a change to the writer
that breaks readers fails here."""

import math

NoneType = type(None)
NUMBER = (int, float)
OPTIONAL_NUMBER = (int, float, NoneType)
OPTIONAL_STR = (str, NoneType)

TOP = {"schema": int, "created": str, "command": list, "wall_s": NUMBER, "machine": dict,
       "versions": dict, "pygd": dict, "settings": dict, "load": dict, "probe": list,
       "results": list, "skipped": list}
LOAD = {"loadavg_start": (list, NoneType), "loadavg_end": (list, NoneType),
        "busiest_other_load": OPTIONAL_NUMBER}
MACHINE = {"cpu": str, "logical_cpus": int, "usable_cpus": int, "llc_bytes": (int, NoneType),
           "platform": str, "python": str}
VERSIONS = {"pygd": str, "numpy": str, "torch": OPTIONAL_STR, "numba": OPTIONAL_STR,
            "deepspeed": OPTIONAL_STR}
# pygd.info() may grow keys; these are the ones the run is described by (the ISA chosen above all).
PYGD_INFO_REQUIRED = {"version": str, "backend": str, "isa": OPTIONAL_STR, "isas": list,
                      "threads": int}
SETTINGS = {"quick": bool, "seed": int, "threads": int, "threads_source": str,
            "torch_threads": (int, NoneType),
            "optimizers": list, "sizes": list, "dtypes": list, "contenders": list, "plan": dict}
PLAN = {"warmup_s": NUMBER, "warmup_calls": int, "budget_s": NUMBER, "min_rounds": int,
        "max_rounds": int, "rounds": (int, NoneType), "run_budget_s": OPTIONAL_NUMBER,
        "floor_rounds": int, "probe_cap_bytes": (int, NoneType),
        "rotation_cap_bytes": (int, NoneType)}
SUMMARY = {"samples_ns": list, "median_ns": NUMBER, "q1_ns": NUMBER, "q3_ns": NUMBER,
           "p10_ns": NUMBER, "p90_ns": NUMBER, "rounds": int}
PROBE = {"states": int, "dtype": str, "elements": int, "bytes_per_step": int, "gbps": NUMBER,
         **SUMMARY}
RESULT = {"optimizer": str, "label": str, "states": int, "size": str, "dtype": str,
          "contender": str, "tensors": int, "elements": int, "bytes_per_step": int,
          "buffer_sets": int, "other_load": OPTIONAL_NUMBER, "gbps": NUMBER,
          "fraction_of_probe": OPTIONAL_NUMBER, "speedup_vs_torch_fused": OPTIONAL_NUMBER, **SUMMARY}
SKIPPED = {"contender": str, "reason": str, "optimizer": OPTIONAL_STR, "size": OPTIONAL_STR,
           "dtype": OPTIONAL_STR}


def _fields(obj, spec, where, exact=True):
    assert isinstance(obj, dict), f"{where} is {type(obj).__name__}, not an object"
    missing = set(spec) - set(obj)
    assert not missing, f"{where} lacks {sorted(missing)}"
    if exact:
        extra = set(obj) - set(spec)
        assert not extra, f"{where} has fields the schema does not name: {sorted(extra)}"
    for key, types in spec.items():
        value = obj[key]
        # bool is an int in Python; only a field declared bool may hold one
        ok = isinstance(value, types) and (types is bool or not isinstance(value, bool))
        assert ok, f"{where}.{key} = {value!r} is not {types}"
        if isinstance(value, float):
            assert math.isfinite(value), f"{where}.{key} = {value} (JSON has no NaN or infinity)"


def _summary(entry, where):
    samples = entry["samples_ns"]
    assert samples and all(isinstance(s, int) and s > 0 for s in samples), \
        f"{where}.samples_ns must be positive integers (ns)"
    assert entry["rounds"] == len(samples), f"{where}.rounds != len(samples_ns)"
    quantiles = [entry[k] for k in ("p10_ns", "q1_ns", "median_ns", "q3_ns", "p90_ns")]
    assert quantiles == sorted(quantiles), f"{where}: the quantiles are out of order"


def check_document(doc):
    """AssertionError naming the first field that breaks schema 1."""
    _fields(doc, TOP, "document")
    assert doc["schema"] == 1
    _fields(doc["machine"], MACHINE, "machine")
    _fields(doc["versions"], VERSIONS, "versions")
    _fields(doc["pygd"], PYGD_INFO_REQUIRED, "pygd", exact=False)
    _fields(doc["settings"], SETTINGS, "settings")
    _fields(doc["settings"]["plan"], PLAN, "settings.plan")
    _fields(doc["load"], LOAD, "load")
    for i, probe in enumerate(doc["probe"]):
        _fields(probe, PROBE, f"probe[{i}]")
        _summary(probe, f"probe[{i}]")
    for i, entry in enumerate(doc["results"]):
        where = f"results[{i}]"
        _fields(entry, RESULT, where)
        _summary(entry, where)
        assert math.isclose(entry["gbps"], entry["bytes_per_step"] / entry["median_ns"]), \
            f"{where}.gbps is not bytes_per_step / median_ns"
    for i, skip in enumerate(doc["skipped"]):
        _fields(skip, SKIPPED, f"skipped[{i}]")
