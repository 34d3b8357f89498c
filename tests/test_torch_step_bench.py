"""benchmarks/torch_step.py end to end at its smallest (a few rounds over 4 tensors of 4096), as a
user runs it: the command succeeds and writes the table and the JSON described in its docstring.
Times are not checked, only the structure; and the workloads it defines against the issue's."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

import pygd
from pygd.bench import model_shapes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "torch_step.py")
ROUNDS = 3
# One thread: a tiny step on a busy machine would otherwise mostly wait for a second core.
SMALLEST = ["--quick", "--workloads", "4x4096", "--optimizers", "adam", "--rounds", str(ROUNDS),
            "--threads", "1"]

TOP = {"schema", "created", "command", "wall_s", "machine", "versions", "pygd", "settings",
       "results", "bars", "skipped"}
ENTRY = {"workload": str, "optimizer": str, "label": str, "contender": str, "tensors": int,
         "elements": int, "bytes_per_step": int, "buffer_sets": int, "samples_ns": list,
         "median_ns": float, "q1_ns": float, "q3_ns": float, "p10_ns": float, "p90_ns": float,
         "rounds": int, "gbps": float}


def _load_script():
    spec = importlib.util.spec_from_file_location("torch_step_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smallest_run(tmp_path_factory):
    """(stdout, the JSON document) of the smallest configuration."""
    pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("bench") / "torch_step.json"
    env = dict(os.environ)
    # the pygd under test, not one installed elsewhere
    pygd_root = os.path.dirname(os.path.dirname(os.path.abspath(pygd.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pygd_root, env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, SCRIPT, *SMALLEST, "--json", str(path)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    with open(path) as f:
        return done.stdout, json.load(f)


def test_writes_an_entry_per_contender(smallest_run):
    _, doc = smallest_run
    assert TOP <= doc.keys()
    assert doc["settings"]["workloads"] == ["4x4096"] and doc["settings"]["optimizers"] == ["adam"]
    ran = doc["settings"]["contenders"]
    assert {"torch-fused", "torch-foreach"} <= set(ran)
    skipped = {s["contender"] for s in doc["skipped"]}
    assert "pygd.torch" in ran or "pygd.torch" in skipped  # timed, or said why not
    assert [e["contender"] for e in doc["results"]] == [c for c in ran if c not in skipped]
    for entry in doc["results"]:
        for key, kind in ENTRY.items():
            assert isinstance(entry[key], kind), key
        assert (entry["workload"], entry["tensors"], entry["elements"]) == ("4x4096", 4, 4 * 4096)
        assert entry["bytes_per_step"] == 28 * entry["elements"]  # fp32 Adam (docs/roofline.md)
        assert len(entry["samples_ns"]) == entry["rounds"] == ROUNDS
        assert entry["q1_ns"] <= entry["median_ns"] <= entry["q3_ns"]


def test_divides_by_the_probe_and_by_torch_fused(smallest_run):
    _, doc = smallest_run
    by_name = {e["contender"]: e for e in doc["results"]}
    assert by_name["torch-fused"]["speedup_vs_torch_fused"] == 1.0
    if "probe" in by_name:
        assert by_name["probe"]["fraction_of_probe"] == 1.0
    assert doc["bars"] == []  # a size from the command line: the issues set no bar for it


def test_prints_the_table(smallest_run):
    stdout, doc = smallest_run
    assert "# torch step() on " in stdout
    assert "contender" in stdout and "vs fused" in stdout and "% probe" in stdout
    for entry in doc["results"]:
        assert entry["contender"] in stdout
    for skip in doc["skipped"]:
        assert skip["reason"] in stdout


def test_workloads_are_the_issues():
    script = _load_script()
    counts = {name: len(work.shapes) for name, work in script.WORKLOADS.items()}
    assert counts == {"16M": 1, "2000x4096": 2000, "resnet50": 161, "gpt2-small": 148, "4096": 1}
    assert script.WORKLOADS["16M"].elements == 16 << 20
    assert script.WORKLOADS["gpt2-small"].elements == model_shapes.EXPECTED_PARAMETERS["gpt2-small"]
    assert script.WORKLOADS["resnet50"].elements == model_shapes.EXPECTED_PARAMETERS["resnet50"]
    at_most_fused, faster = script.WORKLOADS["16M"].bar, script.WORKLOADS["resnet50"].bar
    assert at_most_fused.met(1.0) and not faster.met(1.0) and faster.met(1.01)
    many_small = script.WORKLOADS["2000x4096"].bar
    assert many_small.met(3.0) and not many_small.met(2.99)  # the many-small-tensors bar


def test_model_shapes_follow_the_architectures():
    resnet = dict(model_shapes.resnet50())
    assert resnet["conv1.weight"] == (64, 3, 7, 7) and resnet["fc.weight"] == (1000, 2048)
    assert resnet["layer4.0.downsample.0.weight"] == (2048, 1024, 1, 1)
    assert "layer4.1.downsample.0.weight" not in resnet  # only a stage's first block projects
    gpt2 = dict(model_shapes.gpt2_small())
    assert gpt2["wte.weight"] == (50257, 768) and gpt2["wpe.weight"] == (1024, 768)
    assert gpt2["h.11.attn.c_attn.weight"] == (768, 2304)
    assert gpt2["h.0.mlp.c_proj.weight"] == (3072, 768)
    assert "lm_head.weight" not in gpt2  # tied to wte
