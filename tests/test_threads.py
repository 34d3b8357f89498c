"""The thread policy (pygd/runtime.py, csrc/cpu/thread_count.cpp) and the pool that runs it
(csrc/cpu/thread_pool.cpp): where the count comes from, threadpoolctl, small calls, late workers,
concurrent callers, signals. Fork: test_fork.py. Speed under load: benchmarks/threads.py."""

import ctypes
import ctypes.util
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import pygd
from cases import NUMBA, subprocess_env

SOURCES = {"set_num_threads", "threadpoolctl", "openmp", "OMP_NUM_THREADS", "cgroup_quota",
           "affinity"}
# Enough elements for two threads at the default grain (32768 per thread).
BIG = 1 << 20
HAS_THREADPOOLCTL = importlib.util.find_spec("threadpoolctl") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_threadpoolctl = pytest.mark.skipif(not HAS_THREADPOOLCTL, reason="threadpoolctl not installed")


def adam_arrays(n, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n, dtype=np.float32)
    return [p, rng.standard_normal(n, dtype=np.float32), np.zeros_like(p), np.zeros_like(p)]


def adam_steps(arrays, steps=2, backend="native"):
    for t in range(1, steps + 1):
        pygd.adam_(*arrays, step=t, backend=backend)
    return arrays


def run_python(code, env=None, timeout=120):
    """Runs `code` in a fresh interpreter; its last stdout line, parsed as JSON."""
    full_env, cwd = subprocess_env(**(env or {}))
    code = "import pygd\nassert pygd.info()['native_error'] is None\n" + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, env=full_env, cwd=cwd, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- the knob


def test_set_num_threads_round_trip(native):
    for n in (1, 2, 3, 1):
        pygd.set_num_threads(n)
        assert pygd.get_num_threads() == n == pygd.info()["threads"]
        assert pygd.info()["threads_source"] == "set_num_threads"


def test_none_hands_the_count_back_to_the_environment(native):
    pygd.set_num_threads(3)
    pygd.set_num_threads(None)
    assert pygd.runtime._count_setting() is None
    assert pygd.info()["threads_source"] != "set_num_threads"


@pytest.mark.parametrize("n, exc, match", [
    (0, ValueError, r"n must be >= 1, got 0"),
    (-1, ValueError, r"n must be >= 1, got -1"),
    (pygd.runtime.MAX_THREADS + 1, ValueError, rf"n must be <= {pygd.runtime.MAX_THREADS}"),
    (10 ** 12, ValueError, r"n must be <= "),
    (1.5, TypeError, r"n must be an integer or None, got float"),
    ("2", TypeError, r"n must be an integer or None, got str"),
    (True, TypeError, r"n must be an integer, got bool"),
])
def test_bad_thread_counts_change_nothing(n, exc, match):
    pygd.set_num_threads(2)
    with pytest.raises(exc, match=match):
        pygd.set_num_threads(n)
    assert pygd.runtime._count_setting() == (2, "set_num_threads")


def test_numpy_integers_are_counts(native):
    pygd.set_num_threads(np.int64(2))
    assert pygd.get_num_threads() == 2


def test_default_is_the_usable_cores(native):
    info = run_python("""
        import json, os, pygd
        print(json.dumps([pygd.info(), len(os.sched_getaffinity(0))]))
    """)
    info, affinity = info
    assert info["threads_source"] in ("affinity", "cgroup_quota")
    assert info["threads"] == info["usable_cores"] <= affinity


def test_omp_num_threads_is_followed(native):
    info = run_python("import json, pygd; print(json.dumps(pygd.info()))",
                      env={"OMP_NUM_THREADS": "3"})
    assert (info["threads"], info["threads_source"]) == (3, "OMP_NUM_THREADS")


def test_set_num_threads_beats_omp_num_threads(native):
    info = run_python("""
        import json, pygd
        pygd.set_num_threads(1)
        print(json.dumps(pygd.info()))
    """, env={"OMP_NUM_THREADS": "3"})
    assert (info["threads"], info["threads_source"]) == (1, "set_num_threads")


@pytest.fixture
def libgomp(native):
    if not native.has_openmp():
        pytest.skip("built without OpenMP: no OpenMP limit to follow")
    name = ctypes.util.find_library("gomp")
    if name is None:
        pytest.skip("libgomp not found")
    lib = ctypes.CDLL(name)
    before = lib.omp_get_max_threads()
    yield lib
    lib.omp_set_num_threads(before)


def test_the_calling_threads_openmp_limit_is_followed(libgomp):
    pygd.set_num_threads(None)
    libgomp.omp_set_num_threads(pygd.info()["usable_cores"] + 1)
    assert pygd.info()["threads_source"] == "openmp"
    assert pygd.get_num_threads() == pygd.info()["usable_cores"] + 1
    pygd.set_num_threads(1)
    assert pygd.info()["threads_source"] == "set_num_threads"


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_torch_set_num_threads_is_followed(native):
    info = run_python("""
        import json, torch, pygd
        torch.set_num_threads(1)
        torch.ones(1 << 20).sum()  # a parallel op of torch's own
        print(json.dumps(pygd.info()))
    """)
    assert info["threads"] == 1, info


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two CPUs and sched_setaffinity")
def test_cpu_affinity_is_followed(native):
    info = run_python("""
        import json, os, pygd
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        print(json.dumps(pygd.info()))
    """)
    assert (info["threads"], info["threads_source"], info["usable_cores"]) == (1, "affinity", 1)


def test_sources_are_named(native):
    assert pygd.info()["threads_source"] in SOURCES
    with pytest.raises(ValueError, match="source must be"):
        native.set_threads(2, "cores")


# ----------------------------------------------------------------------------- threadpoolctl


@needs_threadpoolctl
def test_threadpool_info_lists_pygd(native):
    import threadpoolctl
    ours = [lib for lib in threadpoolctl.threadpool_info() if lib["internal_api"] == "pygd"]
    assert len(ours) == 1, threadpoolctl.threadpool_info()
    assert ours[0]["user_api"] == "openmp"
    assert ours[0]["num_threads"] == pygd.get_num_threads()
    assert ours[0]["version"] == pygd.__version__


@needs_threadpoolctl
@pytest.mark.parametrize("user_api", [None, "openmp"])
def test_threadpool_limits_leaves_one_pygd_thread(native, user_api):
    import threadpoolctl
    pygd.set_num_threads(None)
    arrays = adam_arrays(BIG)
    with threadpoolctl.threadpool_limits(limits=1, user_api=user_api):
        assert (pygd.get_num_threads(), pygd.info()["threads_source"]) == (1, "threadpoolctl")
        before = native.pool_stats()
        adam_steps(arrays)
        assert native.pool_stats()["parallel_calls"] == before["parallel_calls"]
    assert pygd.runtime._count_setting() is None


@needs_threadpoolctl
def test_a_blas_limit_leaves_pygd_alone(native):
    import threadpoolctl
    pygd.set_num_threads(2)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert pygd.get_num_threads() == 2


@needs_threadpoolctl
def test_undoing_a_limit_restores_the_users_count(native):
    import threadpoolctl
    pygd.set_num_threads(3)
    with threadpoolctl.threadpool_limits(limits=1):
        with threadpoolctl.threadpool_limits(limits=2):
            assert pygd.get_num_threads() == 2
        assert pygd.get_num_threads() == 1
    assert pygd.runtime._count_setting() == (3, "set_num_threads")


@needs_threadpoolctl
def test_nested_limits_equal_to_the_count_restore_no_setting(native):
    import threadpoolctl
    pygd.set_num_threads(None)
    n = pygd.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=n):
        with threadpoolctl.threadpool_limits(limits=n):
            assert pygd.get_num_threads() == n
    assert pygd.runtime._count_setting() is None


@needs_threadpoolctl
def test_threadpool_limits_as_decorator_and_controller(native):
    import threadpoolctl

    @threadpoolctl.threadpool_limits.wrap(limits=1)
    def inside():
        return pygd.get_num_threads()

    pygd.set_num_threads(None)
    assert inside() == 1
    controller = threadpoolctl.ThreadpoolController()
    with controller.limit(limits=1, user_api="openmp"):
        assert pygd.get_num_threads() == 1
    assert pygd.runtime._count_setting() is None


# ----------------------------------------------------------------------------- the pool


def test_small_calls_stay_on_the_calling_thread(native):
    pygd.set_num_threads(2)
    before = native.pool_stats()["parallel_calls"]
    adam_steps(adam_arrays(2 * native.grain() - 1))
    assert native.pool_stats()["parallel_calls"] == before


def test_one_thread_never_uses_the_pool(native):
    pygd.set_num_threads(1)
    before = native.pool_stats()["parallel_calls"]
    adam_steps(adam_arrays(BIG))
    assert native.pool_stats()["parallel_calls"] == before


def test_a_call_never_waits_for_a_late_worker(native):
    """Workers that wake only after the call: the caller runs every chunk itself, returns, and the
    late workers find nothing to claim (they touch nothing of the call: its arrays are gone)."""
    pygd.set_num_threads(1)
    expected = adam_steps(adam_arrays(BIG))
    pygd.set_num_threads(2)
    adam_steps(adam_arrays(BIG))  # the worker exists
    native._set_worker_delay_us(400_000)
    try:
        time.sleep(0.1)  # any worker still spinning from the warm-up is asleep again
        before = native.pool_stats()
        start = time.perf_counter()
        got = adam_steps(adam_arrays(BIG))
        elapsed = time.perf_counter() - start
        after = native.pool_stats()
        del got[1:]
        assert after["parallel_calls"] == before["parallel_calls"] + 2
        assert after["worker_chunks"] == before["worker_chunks"]
        assert elapsed < 0.4, "the call waited for a worker that had not arrived"
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
        time.sleep(0.6)  # the workers wake, find both calls fully claimed, go back to sleep
        assert native.pool_stats()["late_wakeups"] > before["late_wakeups"]
    finally:
        native._set_worker_delay_us(0)
    time.sleep(0.45)
    pygd.set_num_threads(2)
    np.testing.assert_array_equal(adam_steps(adam_arrays(BIG))[0], expected[0])


def test_concurrent_callers_get_their_own_results(native):
    """Calls from several Python threads at once (the GIL is released): one holds the pool, the
    others run on their own threads, and each result is the one-thread result."""
    pygd.set_num_threads(2)
    expected = [adam_steps(adam_arrays(BIG // 4, seed))[0] for seed in range(4)]
    got, errors = [None] * 4, []

    def worker(i):
        try:
            for _ in range(3):
                got[i] = adam_steps(adam_arrays(BIG // 4, i))[0]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
def test_workers_are_named_and_block_asynchronous_signals(native):
    import signal
    pygd.set_num_threads(2)
    adam_steps(adam_arrays(BIG))
    workers = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                if f.read().strip() != "pygd-worker":
                    continue
            with open(f"/proc/self/task/{task}/status") as f:
                status = dict(line.split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue
        workers.append(int(status["SigBlk"], 16))
    assert workers, "no pygd-worker thread found"
    for blocked in workers:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD):
            assert blocked >> (sig - 1) & 1, f"{sig!r} is not blocked in a worker"
        assert not blocked >> (signal.SIGSEGV - 1) & 1


def test_ctrl_c_reaches_python_during_steps(native):
    """SIGINT while steps run on two threads interrupts the Python loop (signals go to Python's
    thread, never to a worker that would swallow them)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import os, signal, threading, numpy as np, pygd
        pygd.set_num_threads(2)
        p = np.zeros(1 << 20, np.float32); g = np.ones_like(p); m = np.zeros_like(p); v = np.zeros_like(p)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            t = 0
            while True:
                t += 1
                pygd.adam_(p, g, m, v, step=t)
        except KeyboardInterrupt:
            print("interrupted", t > 1)
    """)], capture_output=True, text=True, timeout=60, env=subprocess_env()[0], cwd=subprocess_env()[1])
    assert out.stdout.strip() == "interrupted True", out.stderr


# ----------------------------------------------------------------------------- Numba


@pytest.fixture
def numba_parallel_calls(monkeypatch):
    """The thread counts of the Numba driver's parallel loops, as they run."""
    import numba

    from pygd.numba import cpu_loops as cpu
    seen = []

    def recording(loop):
        def run(*args):
            seen.append(numba.get_num_threads())
            return loop(*args)
        return run

    monkeypatch.setitem(cpu._loops, "parallel", recording(cpu._loops["parallel"]))
    return seen


@pytest.mark.skipif(not NUMBA, reason="numba not installed")
def test_numba_follows_pygds_count(native, numba_parallel_calls):
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has one thread here")
    pygd.set_num_threads(2)
    adam_steps(adam_arrays(BIG), steps=1, backend="numba")
    assert numba_parallel_calls == [2]
    pygd.set_num_threads(1)  # one thread: the loop over chunks runs on the calling thread
    adam_steps(adam_arrays(BIG), steps=1, backend="numba")
    assert numba_parallel_calls == [2]


@pytest.mark.skipif(not (NUMBA and HAS_THREADPOOLCTL), reason="needs numba and threadpoolctl")
def test_threadpool_limits_limits_numba_too(native, numba_parallel_calls):
    import threadpoolctl
    pygd.set_num_threads(2)
    with threadpoolctl.threadpool_limits(limits=1):
        adam_steps(adam_arrays(BIG), steps=1, backend="numba")
    assert numba_parallel_calls == []


# ----------------------------------------------------------------------------- cgroup quota


def _tree(root, files):
    for path, text in files.items():
        path = root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("cgroup, files, cpus", [
    # v2: the process's own cgroup, a tighter parent, no quota, a fractional quota
    ("0::/job\n", {"job/cpu.max": "200000 100000\n"}, 2),
    ("0::/a/b\n", {"a/b/cpu.max": "max 100000\n", "a/cpu.max": "150000 100000\n"}, 2),
    ("0::/\n", {"cpu.max": "max 100000\n"}, 0),
    ("0::/\n", {"cpu.max": "50000 100000\n"}, 1),
    ("0::/missing\n", {}, 0),
    # v1: the cpu controller's quota and period; -1: none
    ("3:cpu,cpuacct:/docker/x\n", {"cpu,cpuacct/docker/x/cpu.cfs_quota_us": "300000\n",
                                   "cpu,cpuacct/docker/x/cpu.cfs_period_us": "100000\n"}, 3),
    ("3:cpu,cpuacct:/\n", {"cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
                           "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 0),
    ("4:memory:/x\n3:cpuset:/\n", {"memory/x/cpu.cfs_quota_us": "100000\n"}, 0),
    ("garbage\n\n", {}, 0),
])
def test_cgroup_quota(native, tmp_path, cgroup, files, cpus):
    _tree(tmp_path / "fs", files)
    (tmp_path / "cgroup").write_text(cgroup)
    assert native._cgroup_quota_cpus(str(tmp_path / "cgroup"), str(tmp_path / "fs")) == cpus
