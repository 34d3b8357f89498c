"""A child forked after the parent ran multi-threaded steps steps correctly, in every way Python
programs fork: os.fork, multiprocessing (Process, Pool), joblib's multiprocessing backend, torch
DataLoader workers, the Numba backend, and a fork while another thread is inside a step (each
of these once hung forever in GNU OpenMP). Each runs in its own interpreter under a timeout, so a hang
fails the test instead of the run."""

import importlib.util
import subprocess
import sys
import textwrap

import pytest

from cases import NUMBA, subprocess_env

TIMEOUT_S = 120

# The parent runs Adam steps of 1M elements on two threads (its pool is up, with a worker), then
# forks; step_digest(seed) is what the child computes and the parent compares.
PRELUDE = """
import hashlib, json, os, sys, threading
import multiprocessing
import numpy as np
import pygd
from pygd._backends import native as _native_backend
native = _native_backend._native
pygd.set_num_threads(2)
N = 1 << 20

def step_digest(seed, backend="native"):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(N, dtype=np.float32)
    g = rng.standard_normal(N, dtype=np.float32)
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t in (1, 2, 3):
        pygd.adam_(p, g, m, v, step=t, backend=backend)
    return hashlib.sha256(p.tobytes()).hexdigest()

def child_report(seed, backend="native"):
    return step_digest(seed, backend), native.pool_stats()["workers"]

expected = step_digest(0)
assert native.pool_stats()["workers"] >= 1, native.pool_stats()
"""


def run_forking(body, timeout=TIMEOUT_S):
    code = PRELUDE + textwrap.dedent(body)
    try:
        env, cwd = subprocess_env()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hung: no exit within {timeout} s\n{e.stdout}\n{e.stderr}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1] == "ok", out.stdout + out.stderr


@pytest.fixture(autouse=True)
def _needs_native(native):
    pass


def test_os_fork():
    run_forking("""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            digest, workers = child_report(0)
            os.write(w, json.dumps([digest, workers]).encode())
            os._exit(0)
        os.close(w)
        digest, workers = json.loads(os.read(r, 4096))
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        assert digest == expected
        assert workers >= 1, "the child started threads of its own"
        print("ok")
    """)


def test_multiprocessing_process_fork():
    run_forking("""
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        proc = ctx.Process(target=lambda: queue.put(child_report(0)))
        proc.start()
        digest, workers = queue.get(timeout=60)
        proc.join(60)
        assert proc.exitcode == 0 and digest == expected and workers >= 1
        print("ok")
    """)


def test_multiprocessing_pool_fork():
    run_forking("""
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.map(child_report, [0] * 6)
        assert all(d == expected for d, _ in results), results
        print("ok")
    """)


@pytest.mark.skipif(importlib.util.find_spec("joblib") is None, reason="joblib not installed")
def test_joblib_multiprocessing_backend():
    run_forking("""
        multiprocessing.set_start_method("fork", force=True)
        from joblib import Parallel, delayed
        results = Parallel(n_jobs=2, backend="multiprocessing")(
            delayed(child_report)(0) for _ in range(6))
        assert all(d == expected for d, _ in results), results
        print("ok")
    """)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_torch_dataloader_workers():
    """Workers of a DataLoader (forked) step with pygd's functional API and with pygd.torch."""
    run_forking("""
        import torch
        import pygd.torch

        def torch_digest(seed):
            gen = torch.Generator().manual_seed(seed)
            p = torch.nn.Parameter(torch.randn(N, generator=gen))
            p.grad = torch.randn(N, generator=gen)
            opt = pygd.torch.Adam([p], lr=1e-3)
            for _ in range(3):
                opt.step()
            return hashlib.sha256(p.detach().numpy().tobytes()).hexdigest()

        expected_torch = torch_digest(0)

        class Steps(torch.utils.data.Dataset):
            def __len__(self):
                return 4
            def __getitem__(self, i):
                return step_digest(0) + " " + torch_digest(0)

        loader = torch.utils.data.DataLoader(Steps(), batch_size=None, num_workers=2,
                                             multiprocessing_context="fork")
        for item in loader:
            assert item == expected + " " + expected_torch, item
        print("ok")
    """)


@pytest.mark.skipif(not NUMBA, reason="numba not installed")
def test_numba_backend_in_a_forked_child():
    run_forking("""
        expected_numba = step_digest(0, "numba")  # Numba's parallel layer is up in the parent
        pid = os.fork()
        if pid == 0:
            os._exit(0 if step_digest(0, "numba") == expected_numba else 3)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        print("ok")
    """)


def test_fork_while_another_thread_is_stepping():
    """The forking thread is the child's only thread; a step that another thread of the parent
    was running (its pool busy) is not the child's business."""
    run_forking("""
        stop = threading.Event()
        def stepping():
            while not stop.is_set():
                step_digest(1)
        t = threading.Thread(target=stepping)
        t.start()
        try:
            for _ in range(8):
                pid = os.fork()
                if pid == 0:
                    os._exit(0 if step_digest(0) == expected else 3)
                _, status = os.waitpid(pid, 0)
                assert status == 0, status
        finally:
            stop.set()
            t.join()
        print("ok")
    """)


def test_grandchildren():
    """A child that forks again after stepping: every generation starts its own pool."""
    run_forking("""
        def generation(depth):
            if step_digest(0) != expected:
                os._exit(3)
            if depth == 0:
                os._exit(0)
            pid = os.fork()
            if pid == 0:
                generation(depth - 1)
            _, status = os.waitpid(pid, 0)
            os._exit(0 if status == 0 else 4)
        pid = os.fork()
        if pid == 0:
            generation(3)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        print("ok")
    """)
