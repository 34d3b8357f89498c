"""The parts `pygd bench` is built from: sizes, buffer rotation, the summary of samples, and the
contenders, which must all run the same update (else their times would not compare). No timing."""

import numpy as np
import pytest

from pygd._specs import SPECS
from pygd._state_scalars import kernel_values
from pygd.bench import contenders, machine, probe, timing, workloads


@pytest.mark.parametrize("text, count, length", [
    ("4096", 1, 4096), ("4K", 1, 4096), ("1M", 1, 1 << 20), ("16m", 1, 16 << 20),
    ("2000x4096", 2000, 4096), ("3x1K", 3, 1024), (" 1G ", 1, 1 << 30)])
def test_parse_size(text, count, length):
    size = workloads.parse_size(text)
    assert size.shapes == (length,) * count and size.label == text.strip()


@pytest.mark.parametrize("text", ["", "M", "1.5M", "-1", "2x", "x4096", "1T", "0", "0x10"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        workloads.parse_size(text)


def test_bytes_per_param_follow_the_roofline():
    # docs/roofline.md, fp32: Adam/AdamW/Adamax/RAdam/Adadelta/Rprop 28, SGD with momentum, RMSprop,
    # Adagrad 20; fp64 doubles.
    expected = {"adam": 28, "adamw": 28, "sgd": 20, "rmsprop": 20, "adagrad": 20, "adamax": 28,
                "radam": 28, "adadelta": 28, "rprop": 28,
                "lion": 20, "nadam": 28, "asgd": 20,
                "lamb": 40, "lars": 28, "adafactor": 32}  # several passes: see docs/roofline.md
    for key, per_param in expected.items():
        assert workloads.OPTIMIZERS[key].bytes_per_param(4) == per_param
        assert workloads.OPTIMIZERS[key].bytes_per_param(8) == 2 * per_param


def test_buffer_sets_cover_the_cache():
    cache = 32 << 20
    assert workloads.buffer_sets(16 << 20, cache) == 4  # twice the cache in 16 MiB sets
    assert workloads.buffer_sets(256 << 20, cache) == 1  # already beyond the cache
    assert workloads.buffer_sets(1 << 10, cache) == workloads.MAX_BUFFER_SETS
    assert workloads.buffer_sets(1 << 10, None) == 1  # cache unknown: no rotation


def test_quick_caps_what_a_large_cache_would_ask_for():
    """A 300 MiB cache asks for a 2.4 GiB probe and 600 MiB of buffer sets per contender; --quick
    spans at most its caps (sized from the cache alone, --quick once took 144 s there)."""
    cache, plan = 300 << 20, timing.QUICK
    for streams in (3, 4):
        full = probe.probe_elements(streams, np.float32, cache) * streams * 4
        quick = probe.probe_elements(streams, np.float32, cache, plan.probe_cap_bytes) * streams * 4
        assert full >= 8 * cache and quick <= plan.probe_cap_bytes + streams * 4
    working_set = 16 << 20  # Adam fp32 at 1M
    assert workloads.buffer_sets(working_set, cache) == 38
    assert workloads.buffer_sets(working_set, cache, plan.rotation_cap_bytes) * working_set \
        <= plan.rotation_cap_bytes
    assert workloads.buffer_sets(1 << 30, cache, plan.rotation_cap_bytes) == 1  # at least one
    assert timing.FULL.probe_cap_bytes is None and timing.FULL.rotation_cap_bytes is None


@pytest.mark.parametrize("loadavg, cpus, busy", [
    (None, 2, False), ([0.2, 0.1, 0.0], 2, False), ([1.5, 1.0, 1.0], 2, True),
    ([1.5, 1.0, 1.0], 8, False)])
def test_busy_machine(loadavg, cpus, busy):
    assert machine.busy(loadavg, cpus) is busy


def test_summarize():
    summary = timing.summarize([5, 1, 4, 2, 3])
    assert summary["median_ns"] == 3 and summary["q1_ns"] == 2 and summary["q3_ns"] == 4
    assert summary["p10_ns"] <= summary["q1_ns"] and summary["q3_ns"] <= summary["p90_ns"]
    assert summary["rounds"] == 5


def test_measure_interleaves_and_counts_rounds():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    plan = timing.Plan(warmup_s=0.0, warmup_calls=1, budget_s=0.0, min_rounds=1, max_rounds=9,
                       rounds=4)
    samples = timing.measure(steps, plan)
    assert {name: len(s) for name, s in samples.items()} == {"a": 4, "b": 4, "c": 4}
    timed = calls[3:]  # after one warm-up call each
    assert [timed[i:i + 3] for i in range(0, 12, 3)] == [list("abc"), list("bca"), list("cab"),
                                                         list("abc")]


def _workload(key, sets=1, dtype=np.float64):
    rng = np.random.default_rng(3)
    work = workloads.make_workload(workloads.OPTIMIZERS[key], workloads.parse_size("2x100"), dtype,
                                   rng, cache_bytes=None)
    work.sets = sets
    return work


@pytest.mark.parametrize("key", list(workloads.OPTIMIZERS))
def test_the_numpy_comparator_runs_the_same_update_as_pygd(key):
    """Three steps of the obvious NumPy code land where three pygd steps do."""
    work, opt = _workload(key), workloads.OPTIMIZERS[key]
    ours = [a.copy() for a in work.params]
    ours_states = [[np.zeros_like(a) for a in ours] for _ in range(opt.states)]
    theirs = [a.copy() for a in work.params]
    theirs_states = [[np.zeros_like(a) for a in theirs] for _ in range(opt.states)]
    names = tuple(o.name for o in SPECS[key].state_scalars)  # NAdam's mu_product, ASGD's eta and mu
    for t in (1, 2, 3):
        scalars = kernel_values(names, t, {**SPECS[key].defaults, **opt.hparams})
        if opt.takes_step:
            opt.pygd_step(ours, work.grads, *ours_states, step=t, backend="reference", **opt.hparams, **scalars)
        else:
            opt.pygd_step(ours, work.grads, *ours_states, backend="reference", **opt.hparams, **scalars)
        for arrays in zip(theirs, work.grads, *theirs_states):
            opt.numpy_step(*arrays, t, **opt.hparams)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _usable(name):
    reason = contenders.CONTENDERS[name].unavailable()
    if reason:
        pytest.skip(reason)
    return contenders.CONTENDERS[name]


@pytest.mark.parametrize("name", list(contenders.CONTENDERS))
@pytest.mark.parametrize("key", ["adamw", "rmsprop"])
def test_every_contender_steps_its_own_copies(name, key):
    contender = _usable(name)
    work = _workload(key, sets=2, dtype=np.float32)
    before = [a.copy() for a in work.params]
    try:
        step = contender.make(work)
    except contenders.Unsupported:
        return  # e.g. torch has no fused RMSprop: noted by the runner, not an error
    for _ in range(4):  # twice per buffer set
        step()
    for a, b in zip(work.params, before):  # the shared inputs are never written
        np.testing.assert_array_equal(a, b)
