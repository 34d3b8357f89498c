"""`pygd bench --compare` and `pygd compare` on synthetic results: which rows count as moved, which
fail a CI job, and the exit status. Every document here is made up; nothing is timed."""

import json

import pytest

import bench_schema
from pygd import cli
from pygd.bench import compare, results, timing


def entry(median_ms, spread=0.02, contender="pygd", optimizer="adam", size="1M", dtype="float32"):
    """A result row whose samples sit at median_ms, +-spread (relative) around it."""
    centre = median_ms * 1e6
    samples = [round(centre * (1 + spread * k / 4)) for k in range(-4, 5)]
    summary = timing.summarize(samples)
    elements, bytes_per_step = 1 << 20, 28 << 20
    return {"optimizer": optimizer, "label": optimizer.capitalize(), "states": 2, "size": size,
            "dtype": dtype, "contender": contender, "tensors": 1, "elements": elements,
            "bytes_per_step": bytes_per_step, "buffer_sets": 1, "other_load": 0.0,
            "samples_ns": samples, **summary, "gbps": bytes_per_step / summary["median_ns"],
            "fraction_of_probe": None, "speedup_vs_torch_fused": None}


def document(*rows):
    doc = results.new_document(
        "2026-01-01T00:00:00+00:00", ["pygd", "bench"],
        {"cpu": "test CPU", "logical_cpus": 2, "usable_cpus": 2, "llc_bytes": None,
         "platform": "test", "python": "3"},
        {"pygd": "0", "numpy": "0", "torch": None, "numba": None, "deepspeed": None},
        {"version": "0", "backend": "native", "isa": "avx2", "isas": ["scalar", "avx2"], "threads": 2},
        {"quick": True, "seed": 1, "threads": 2, "threads_source": "affinity", "torch_threads": None,
         "optimizers": ["adam"],
         "sizes": ["1M"], "dtypes": ["float32"], "contenders": ["pygd"],
         "plan": timing.QUICK.as_dict()})
    doc["wall_s"] = 1.0
    doc["results"] = list(rows)
    return doc


def verdicts(old_rows, new_rows, threshold=compare.DEFAULT_THRESHOLD):
    comparison = compare.compare(document(*old_rows), document(*new_rows), threshold)
    return {c.key[3]: c.verdict for c in comparison.changes}, comparison


def test_synthetic_documents_follow_the_schema():
    bench_schema.check_document(document(entry(1.0), entry(2.0, contender="numpy")))


def test_identical_runs_have_no_change():
    found, comparison = verdicts([entry(1.0)], [entry(1.0)])
    assert found == {"pygd": "same"} and not comparison.regressions


def test_a_clear_slowdown_is_a_regression():
    found, comparison = verdicts([entry(1.0)], [entry(2.0)])
    assert found == {"pygd": "slower"}
    assert [c.label for c in comparison.regressions] == ["REGRESSION"]


def test_a_clear_speedup_is_an_improvement():
    found, comparison = verdicts([entry(2.0)], [entry(1.0)])
    assert found == {"pygd": "faster"}
    assert not comparison.regressions and len(comparison.improvements) == 1


def test_a_move_within_either_runs_spread_is_noise():
    # 20% slower, beyond the threshold, but the runs' interquartile ranges overlap.
    found, _ = verdicts([entry(1.0, spread=0.6)], [entry(1.2, spread=0.6)])
    assert found == {"pygd": "same"}


def test_a_move_below_the_threshold_is_not_reported():
    # 5% slower with tight spreads: beyond the noise, under the 10% threshold; a 2% one catches it.
    old, new = [entry(1.0, spread=0.01)], [entry(1.05, spread=0.01)]
    assert verdicts(old, new)[0] == {"pygd": "same"}
    assert verdicts(old, new, threshold=0.02)[0] == {"pygd": "slower"}


def test_a_slower_comparator_is_context_not_a_regression():
    found, comparison = verdicts([entry(1.0), entry(1.0, contender="torch-fused")],
                                 [entry(1.0), entry(2.0, contender="torch-fused")])
    assert found == {"pygd": "same", "torch-fused": "slower"}
    assert not comparison.regressions
    assert comparison.changes[1].label == "slower (comparator)"


def test_every_pygd_backend_gates():
    _, comparison = verdicts([entry(1.0, contender="pygd-numba")], [entry(3.0, contender="pygd-numba")])
    assert len(comparison.regressions) == 1


def test_rows_are_matched_by_optimizer_size_dtype_and_contender():
    old = [entry(1.0), entry(1.0, size="16M"), entry(1.0, dtype="float64")]
    new = [entry(1.0), entry(5.0, size="2000x4096"), entry(5.0, optimizer="sgd")]
    _, comparison = verdicts(old, new)
    assert [c.key for c in comparison.changes] == [("adam", "1M", "float32", "pygd")]
    assert sorted(comparison.only_old) == [("adam", "16M", "float32", "pygd"),
                                           ("adam", "1M", "float64", "pygd")]
    assert len(comparison.only_new) == 2


def test_the_printed_report_names_the_moved_rows():
    old = document(entry(1.0), entry(1.0, contender="numpy"))
    new = document(entry(2.0), entry(1.0, contender="numpy"))
    text = "\n".join(compare.lines(compare.compare(old, new), old, new, "old.json", "new.json"))
    assert "REGRESSION" in text and "+100.0%" in text
    assert "2 rows compared: 1 pygd regressions, 0 pygd improvements" in text
    assert "numpy" not in text.split("verdict", 1)[1]  # an unchanged row is not listed


@pytest.mark.parametrize("old_ms, new_ms, status, word", [
    (1.0, 2.0, 1, "REGRESSION"), (2.0, 1.0, 0, "improvement"), (1.0, 1.0, 0, "no row moved")])
def test_pygd_compare_exit_status(tmp_path, capsys, old_ms, new_ms, status, word):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    results.save(document(entry(old_ms)), old)
    results.save(document(entry(new_ms)), new)
    assert cli.main(["compare", str(old), str(new)]) == status
    assert word in capsys.readouterr().out


def test_pygd_compare_threshold_flag(tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    results.save(document(entry(1.0, spread=0.01)), old)
    results.save(document(entry(1.05, spread=0.01)), new)
    assert cli.main(["compare", str(old), str(new)]) == 0
    assert cli.main(["compare", str(old), str(new), "--threshold", "0.02"]) == 1


def test_load_rejects_rows_without_the_compared_fields(tmp_path):
    path = tmp_path / "bad.json"
    doc = document(entry(1.0))
    del doc["results"][0]["q3_ns"]
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"results\[0\] lacks q3_ns"):
        results.load(str(path))
