"""The examples run end to end (briefly) and report what they promise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, *args):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=300, env=env, check=True).stdout


def test_first_steps():
    out = run_example("first_steps.py")
    assert out.strip()


def test_logistic_regression(tmp_path):
    pytest.importorskip("sklearn")
    out = run_example("logistic_regression.py", "--epochs", "3", "--plot", str(tmp_path / "loss.png"))
    for method in ("batch GD", "stochastic GD", "mini-batch GD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        assert method in out
    assert "diverged at epoch" in out and "barely moved" in out
