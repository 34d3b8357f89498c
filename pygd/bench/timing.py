"""Interleaved timing: every contender warmed up, then one step each per round, round after round.

Timing the contenders round-robin (the order rotated every round) rather than one after the other
spreads the machine's noise, a neighbour's burst or a frequency change, over all of them alike, so
their ratios stay meaningful on a shared machine. Each sample is one step; the median is reported,
the quartiles and 10th/90th percentiles give the spread.
"""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np


@dataclass(frozen=True)
class Plan:
    """How long to warm up and how many rounds to time."""
    warmup_s: float          # each contender runs for at least this long before timing ...
    warmup_calls: int        # ... and at least this many calls per buffer set (fills the states)
    budget_s: float          # rounds: as many as fit this estimate of the timed time ...
    min_rounds: int          # ... but at least this many
    max_rounds: int          # ... and at most this many
    rounds: Optional[int] = None  # or exactly this many (--repeat)
    # A whole run's time limit (None: none): each group gets its share of what is left, and takes
    # fewer rounds than min_rounds (never fewer than floor_rounds) when its share is spent, so that
    # a slow machine or a noisy neighbour stretches --quick less.
    run_budget_s: Optional[float] = None
    floor_rounds: int = 5
    # The most bytes the probe's arrays, and one contender's rotated buffer sets, may span (None:
    # as the cache asks). Sized from the cache alone they grow with it: on a 300 MiB cache the
    # probe alone spans 2.4 GiB, which --quick cannot afford to fill and time.
    probe_cap_bytes: Optional[int] = None
    rotation_cap_bytes: Optional[int] = None

    def as_dict(self) -> dict[str, Any]:
        """The plan's settings as a dict (for the result document)."""
        return dict(self.__dict__)


FULL = Plan(warmup_s=0.3, warmup_calls=3, budget_s=3.0, min_rounds=20, max_rounds=1000)
QUICK = Plan(warmup_s=0.05, warmup_calls=2, budget_s=0.6, min_rounds=10, max_rounds=200,
             run_budget_s=45.0, probe_cap_bytes=512 << 20, rotation_cap_bytes=128 << 20)


def warm_up(step: Callable[[], object], plan: Plan, sets: int) -> int:
    """Runs step() until both warm-up bounds are met; returns the last call's duration (ns)."""
    clock = time.perf_counter_ns
    start, last = clock(), 0
    for calls in itertools.count(1):
        t0 = clock()
        step()
        last = clock() - t0
        if calls >= plan.warmup_calls * sets and clock() - start >= plan.warmup_s * 1e9:
            return last
    raise AssertionError("unreachable: itertools.count() never ends")


def measure(steps: dict[str, Callable[[], object]], plan: Plan, sets: int = 1,
            on_round: Optional[Callable[[int, int], None]] = None,
            until_ns: Optional[int] = None) -> dict[str, list[int]]:
    """{name: [ns per step, one per round]} for the step() of each name, timed round-robin.

    on_round(done, total) is called after each round (progress display). until_ns: the
    time.perf_counter_ns() by which this group should be done (see Plan.run_budget_s).
    """
    clock = time.perf_counter_ns
    round_ns = max(1, sum(warm_up(step, plan, sets) for step in steps.values()))
    rounds = plan.rounds or int(min(max(plan.min_rounds, plan.budget_s * 1e9 / round_ns),
                                    plan.max_rounds))
    if until_ns is not None and not plan.rounds:
        rounds = max(plan.floor_rounds, min(rounds, int((until_ns - clock()) / round_ns)))
    names = list(steps)
    samples: dict[str, list[int]] = {name: [] for name in steps}
    gc.collect()
    gc.disable()  # a collection inside a timed step would be charged to whoever ran then
    try:
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                step = steps[name]
                t0 = clock()
                step()
                samples[name].append(clock() - t0)
            if on_round is not None:
                on_round(r + 1, rounds)
    finally:
        gc.enable()
    return samples


def summarize(samples_ns: Sequence[int]) -> dict[str, Any]:
    """The median and spread of one contender's samples (ns)."""
    q = np.quantile(np.asarray(samples_ns, dtype=np.float64), (0.1, 0.25, 0.5, 0.75, 0.9))
    return {"median_ns": float(q[2]), "q1_ns": float(q[1]), "q3_ns": float(q[3]),
            "p10_ns": float(q[0]), "p90_ns": float(q[4]), "rounds": len(samples_ns)}
