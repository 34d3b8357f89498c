"""The `pygd` command's plumbing: argument parsing, exit codes, the entry points, and the JSON a run
writes (checked against bench_schema). No timing is asserted: the runs here are tiny."""

import json
import os
import subprocess
import sys

import pytest

import bench_schema
from pygd import cli
from pygd.bench import contenders, machine, plot, workloads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A run that finishes in a few seconds: small tensors, three runs, no torch import.
TINY = ["bench", "--quick", "--sizes", "4K,3x1000", "--optimizers", "adam,sgd", "--contenders",
        "pygd,probe,numpy", "--repeat", "3", "--seed", "7"]


def parse(*argv):
    return cli.build_parser().parse_args(["bench", *argv])


def usage_error(capsys, *argv):
    """The stderr of a command line that argparse rejects (exit status 2)."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(list(argv))
    assert exit_.value.code == 2
    return capsys.readouterr().err


# ----------------------------------------------------------------------------------- parsing

def test_bench_defaults():
    args = parse()
    assert not args.quick and args.optimizers is None and args.sizes is None
    assert args.dtypes == ("float32",)
    assert args.contenders == contenders.DEFAULT_CONTENDERS
    assert args.repeat is None and args.threads is None and args.seed is None
    assert args.json is None and not args.no_json and args.plot is None and args.compare is None
    assert args.threshold == 0.10


def test_bench_lists_are_parsed():
    args = parse("--optimizers", "Adam, sgd", "--sizes", "1M,2000x4096,4096", "--dtypes",
                 "float64,float32", "--contenders", "pygd,torch-fused", "--repeat", "5",
                 "--threads", "1", "--threshold", "0.25", "--quick")
    assert args.optimizers == ("adam", "sgd")
    assert [(s.label, len(s.shapes), s.elements) for s in args.sizes] == [
        ("1M", 1, 1 << 20), ("2000x4096", 2000, 2000 * 4096), ("4096", 1, 4096)]
    assert args.dtypes == ("float64", "float32")
    assert args.contenders == ("pygd", "torch-fused")
    assert (args.repeat, args.threads, args.threshold, args.quick) == (5, 1, 0.25, True)


@pytest.mark.parametrize("argv, message", [
    (["--optimizers", "nosuch"], "unknown optimizer 'nosuch'"),
    (["--optimizers", ","], "no optimizers given"),
    (["--sizes", "3Q"], "'3Q' is not a size"),
    (["--sizes", "0x4096"], "has no elements"),
    (["--dtypes", "int8"], "unknown dtype 'int8'"),
    (["--contenders", "jax"], "unknown contender 'jax'"),
    (["--repeat", "0"], "must be at least 1"),
    (["--threads", "two"], "'two' is not an integer"),
    (["--threshold", "0"], "must be a fraction above 0"),
    (["--json", "a.json", "--no-json"], "exclude each other"),
    (["--compare", "/nonexistent/old.json"], "cannot read /nonexistent/old.json"),
])
def test_bench_rejects_bad_arguments(capsys, argv, message):
    assert message in usage_error(capsys, "bench", *argv)


def test_compare_of_a_file_that_is_not_a_result(capsys, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": 99, "results": []}))
    assert "has schema 99" in usage_error(capsys, "bench", "--compare", str(other))
    other.write_text("not json")
    assert "is not JSON" in usage_error(capsys, "compare", str(other), str(other))


def test_plot_without_matplotlib_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.setattr(plot, "unavailable", lambda: "--plot needs matplotlib")
    assert "--plot needs matplotlib" in usage_error(capsys, "bench", "--plot", "out.png")


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "bench" in capsys.readouterr().out


def test_help_lists_every_optimizer_and_contender(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for name in (*workloads.OPTIMIZERS, *contenders.CONTENDERS, "--quick", "--compare", "--plot"):
        assert name in text


def test_version(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("pygd ")


# ----------------------------------------------------------------------------------- entry points

def test_python_dash_m_pygd():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-m", "pygd", "bench", "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: pygd bench" in done.stdout


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["scripts"]["pygd"] == "pygd.cli:main"


# ----------------------------------------------------------------------------------- a tiny run

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(exit status, the JSON document) of a tiny run that writes JSON and prints the table."""
    path = tmp_path_factory.mktemp("bench") / "run.json"
    status = cli.main([*TINY, "--json", str(path)])
    with open(path) as f:
        return status, json.load(f)


def test_tiny_run_writes_schema_valid_json(tiny_run):
    status, doc = tiny_run
    assert status == 0
    bench_schema.check_document(doc)


def test_json_dash_writes_the_document_to_stdout(tmp_path, monkeypatch, capsys):
    """--json -: standard output holds the JSON alone (the table goes to standard error), and no
    file named - is written."""
    monkeypatch.chdir(tmp_path)
    assert cli.main([*TINY, "--json", "-"]) == 0
    captured = capsys.readouterr()
    bench_schema.check_document(json.loads(captured.out))
    assert "# pygd bench on" in captured.err
    assert not (tmp_path / "-").exists()


def test_tiny_run_records_what_it_ran(tiny_run):
    _, doc = tiny_run
    assert doc["settings"]["seed"] == 7 and doc["settings"]["optimizers"] == ["adam", "sgd"]
    assert doc["settings"]["sizes"] == ["4K", "3x1000"]
    assert doc["pygd"]["isa"] == __import__("pygd").info()["isa"]
    rows = {(e["optimizer"], e["size"], e["contender"]) for e in doc["results"]}
    ran = [c for c in ("pygd", "probe", "numpy") if c in doc["settings"]["contenders"]]
    assert rows == {(o, s, c) for o in ("adam", "sgd") for s in ("4K", "3x1000") for c in ran}
    for entry in doc["results"]:
        assert entry["rounds"] == 3
        assert entry["tensors"] == (3 if entry["size"] == "3x1000" else 1)
        per_param = workloads.OPTIMIZERS[entry["optimizer"]].bytes_per_param(4)
        assert entry["bytes_per_step"] == per_param * entry["elements"]
        assert entry["speedup_vs_torch_fused"] is None  # no torch-fused in this run
        if "probe" in ran:
            assert entry["fraction_of_probe"] is not None
    if "probe" in ran:
        assert {(p["dtype"], p["states"]) for p in doc["probe"]} == {("float32", 1), ("float32", 2)}


def test_tiny_run_records_threads_and_load(tiny_run):
    _, doc = tiny_run
    info = __import__("pygd").info()
    assert doc["settings"]["threads_source"] == info["threads_source"]
    assert doc["pygd"]["threads_source"] == info["threads_source"]
    if hasattr(os, "getloadavg"):
        assert len(doc["load"]["loadavg_start"]) == 3 and len(doc["load"]["loadavg_end"]) == 3


def test_a_busy_machine_is_warned_about(capsys, monkeypatch):
    monkeypatch.setattr(machine, "load_average", lambda: [64.0, 64.0, 64.0])
    assert cli.main([*TINY, "--optimizers", "sgd", "--no-json"]) == 0
    out = capsys.readouterr().out
    assert "# warning: the machine is busy (load average 64.00" in out
    assert "threads (from " in out


def test_tiny_run_prints_the_table(capsys, tmp_path):
    assert cli.main([*TINY, "--optimizers", "sgd", "--no-json"]) == 0
    out = capsys.readouterr().out
    assert "ms/step" in out and "GB/s" in out and "% probe" in out and "vs fused" in out
    assert "SGD-mom" in out and "numpy" in out
    assert not list(tmp_path.iterdir())


def test_missing_comparators_are_noted_not_fatal(capsys, monkeypatch):
    monkeypatch.setitem(contenders.CONTENDERS, "deepspeed", contenders.Contender(
        "deepspeed", "", None, lambda: "deepspeed is not installed"))
    assert cli.main([*TINY, "--contenders", "pygd,deepspeed", "--optimizers", "sgd",
                     "--no-json"]) == 0
    assert "not timed: deepspeed (deepspeed is not installed)" in capsys.readouterr().out


def test_a_comparator_that_cannot_run_a_workload_is_skipped_there(tmp_path):
    torch = pytest.importorskip("torch")  # noqa: F841
    path = tmp_path / "run.json"
    assert cli.main(["bench", "--quick", "--sizes", "4K", "--optimizers", "rmsprop,sgd", "--contenders",
                     "pygd,torch-fused", "--repeat", "3", "--json", str(path)]) == 0
    doc = json.loads(path.read_text())
    bench_schema.check_document(doc)
    assert {(s["contender"], s["optimizer"]) for s in doc["skipped"]} == {("torch-fused", "rmsprop")}
    sgd = {e["contender"]: e for e in doc["results"] if e["optimizer"] == "sgd"}
    assert sgd["torch-fused"]["speedup_vs_torch_fused"] == 1.0
    assert sgd["pygd"]["speedup_vs_torch_fused"] > 0


@pytest.mark.skipif(plot.unavailable() is not None, reason="matplotlib is not installed")
def test_plot_writes_a_png(tiny_run, tmp_path):
    path = tmp_path / "chart.png"
    plot.draw(tiny_run[1], str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------- --compare

def _scaled(doc, factor, contender="pygd"):
    """A copy of `doc` whose `contender` rows took `factor` times as long, spread included."""
    old = json.loads(json.dumps(doc))
    for entry in old["results"]:
        if entry["contender"] == contender:
            for key in ("median_ns", "q1_ns", "q3_ns", "p10_ns", "p90_ns"):
                entry[key] *= factor
    return old


def test_bench_compare_exits_1_on_a_regression(capsys, tiny_run, tmp_path):
    # The old run's pygd rows claim 1/1000 of the time with a spread as tight: any real run is a
    # regression against that, whatever the machine's noise.
    old = tmp_path / "old.json"
    old.write_text(json.dumps(_scaled(tiny_run[1], 1e-3)))
    assert cli.main([*TINY, "--no-json", "--compare", str(old)]) == cli.EXIT_REGRESSION
    assert "REGRESSION" in capsys.readouterr().out


def test_bench_compare_exits_0_on_an_improvement(capsys, tiny_run, tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps(_scaled(tiny_run[1], 1e3)))
    assert cli.main([*TINY, "--no-json", "--compare", str(old)]) == 0
    out = capsys.readouterr().out
    assert "improvement" in out and "REGRESSION" not in out
