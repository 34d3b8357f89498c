"""pygd.schedules: every schedule against torch.optim.lr_scheduler (when torch is installed) and
against closed forms; attach() drives an optimizer's lr; ReduceLROnPlateau follows torch's rules.

schedule(k) must equal the lr torch's scheduler gives after k scheduler.step() calls. torch updates
most schedules multiplicatively (lr_k = lr_{k-1} * factor), pygd evaluates the closed form, so the
two agree to a few ulps per step: rel_tol 1e-12 over a few hundred steps.
"""

import math
import pickle

import numpy as np
import pytest

from pygd import optim, schedules

K = 120  # steps compared

# (id, pygd schedule, torch scheduler factory taking the optimizer, base lr)
CASES = [
    ("constant", lambda: schedules.constant(0.1), None, 0.1),
    ("step_decay", lambda: schedules.step_decay(0.1, 7, gamma=0.5),
     lambda s, o: s.StepLR(o, 7, gamma=0.5), 0.1),
    ("multistep", lambda: schedules.multistep(0.1, [30, 10, 10, 80], gamma=0.3),
     lambda s, o: s.MultiStepLR(o, [30, 10, 10, 80], gamma=0.3), 0.1),
    ("exponential", lambda: schedules.exponential(0.1, 0.97),
     lambda s, o: s.ExponentialLR(o, 0.97), 0.1),
    ("cosine", lambda: schedules.cosine(0.1, 100, min_lr=1e-3),
     lambda s, o: s.CosineAnnealingLR(o, 100, eta_min=1e-3), 0.1),
    ("cosine_restarts", lambda: schedules.cosine_restarts(0.1, 10, min_lr=1e-3),
     lambda s, o: s.CosineAnnealingWarmRestarts(o, 10, eta_min=1e-3), 0.1),
    ("cosine_restarts_mult", lambda: schedules.cosine_restarts(0.1, 5, period_mult=2),
     lambda s, o: s.CosineAnnealingWarmRestarts(o, 5, T_mult=2), 0.1),
    ("linear", lambda: schedules.linear(0.1, 50, end_lr=0.025),
     lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.25, total_iters=50), 0.1),
    ("polynomial", lambda: schedules.polynomial(0.1, 90, power=2.0),
     lambda s, o: s.PolynomialLR(o, total_iters=90, power=2.0), 0.1),
    ("one_cycle", lambda: schedules.one_cycle(0.1, K),
     lambda s, o: s.OneCycleLR(o, 0.1, total_steps=K, cycle_momentum=False), None),
    ("one_cycle_linear_3phase",
     lambda: schedules.one_cycle(0.1, K, pct_start=0.25, anneal_strategy="linear", three_phase=True),
     lambda s, o: s.OneCycleLR(o, 0.1, total_steps=K, pct_start=0.25, anneal_strategy="linear",
                               three_phase=True, cycle_momentum=False), None),
    ("warmup_cosine", lambda: schedules.warmup(schedules.cosine(0.1, 80), 20, start_factor=0.1),
     lambda s, o: s.SequentialLR(o, [s.LinearLR(o, 0.1, 1.0, total_iters=20),
                                     s.CosineAnnealingLR(o, 80)], milestones=[20]), 0.1),
]


def torch_lrs(factory, base_lr, steps):
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr if base_lr is not None else 0.1)
    scheduler = factory(torch.optim.lr_scheduler, optimizer) if factory else None
    lrs = []
    for _ in range(steps + 1):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None and len(lrs) <= steps:
            scheduler.step()
    return lrs


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's SequentialLR/scheduler-order warnings
@pytest.mark.parametrize("name, make, factory, base_lr", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, make, factory, base_lr):
    want = torch_lrs(factory, base_lr, K)
    schedule = make()
    got = [schedule(k) for k in range(K + 1)]
    for k, (g, w) in enumerate(zip(got, want)):
        assert math.isclose(g, w, rel_tol=1e-12, abs_tol=1e-15), f"k={k}: pygd {g!r}, torch {w!r}"


@pytest.mark.parametrize("schedule, k, want", [
    (schedules.step_decay(1.0, 10), 25, 0.01),
    (schedules.multistep(1.0, [5, 5], gamma=0.5), 5, 0.25),
    (schedules.exponential(2.0, 0.5), 3, 0.25),
    (schedules.cosine(1.0, 10), 5, 0.5),
    (schedules.cosine(1.0, 10, min_lr=0.2), 10, 0.2),
    (schedules.cosine_restarts(1.0, 4), 8, 1.0),
    (schedules.cosine_restarts(1.0, 2, period_mult=3), 2 + 6 + 9, 0.5),  # mid-way through period 3
    (schedules.linear(1.0, 4, end_lr=0.2), 2, 0.6),
    (schedules.linear(1.0, 4, end_lr=0.2), 100, 0.2),
    (schedules.polynomial(1.0, 4, power=2.0, end_lr=0.5), 2, 0.625),
    (schedules.one_cycle(1.0, 100, div_factor=10.0), 0, 0.1),
    (schedules.warmup(0.5, 4), 0, 0.0),
    (schedules.warmup(0.5, 4), 2, 0.25),
    (schedules.warmup(schedules.step_decay(1.0, 2), 4, start_factor=0.5), 6, 0.1),
])
def test_closed_forms(schedule, k, want):
    assert math.isclose(schedule(k), want, rel_tol=1e-12, abs_tol=1e-15)


def test_one_cycle_peaks_at_max_lr_and_ends_at_the_floor():
    s = schedules.one_cycle(0.2, 100, pct_start=0.3, div_factor=25.0, final_div_factor=1e4)
    assert math.isclose(s(29), 0.2, rel_tol=1e-12)
    assert math.isclose(s(99), 0.2 / 25 / 1e4, rel_tol=1e-9)
    with pytest.raises(ValueError, match="k <= total_steps"):
        s(101)


def test_linear_scaling():
    assert schedules.linear_scaling(0.1, 256, 1024) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        schedules.linear_scaling(0.1, 256, 0)


@pytest.mark.parametrize("make, message", [
    (lambda: schedules.step_decay(0.1, 0), "step_size must be >= 1"),
    (lambda: schedules.cosine(-0.1, 10), "lr must be >= 0"),
    (lambda: schedules.cosine_restarts(0.1, 10, period_mult=0), "period_mult must be >= 1"),
    (lambda: schedules.one_cycle(0.1, 10, anneal_strategy="exp"), "anneal_strategy"),
    (lambda: schedules.warmup(0.1, 5, start_factor=2.0), "start_factor"),
    (lambda: schedules.ReduceLROnPlateau(0.1, factor=1.0), r"factor must be in \[0, 1\)"),
    (lambda: schedules.ReduceLROnPlateau(0.1, mode="up"), "mode must be"),
    (lambda: schedules.constant(0.1)(-1), "k must be >= 0"),
])
def test_bad_arguments_name_themselves(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_schedules_are_picklable_and_printable():
    s = schedules.warmup(schedules.cosine(0.1, 50), 10)
    again = pickle.loads(pickle.dumps(s))
    assert [again(k) for k in range(60)] == [s(k) for k in range(60)]
    assert "cosine(lr=0.1, total_steps=50" in repr(s)


# ----------------------------------------------------------------------------- attach

def test_attach_sets_each_step_lr_from_the_schedule():
    p = np.zeros(3)
    want = p.copy()
    opt = optim.SGD([p], lr=123.0)
    schedule = schedules.step_decay(0.1, 2, gamma=0.5)
    schedules.attach(opt, schedule)
    assert opt.param_groups[0]["lr"] == schedule(0)  # applied at once
    g = np.ones(3)
    for k in range(5):
        opt.step([g])
        want -= schedule(k) * g
    np.testing.assert_allclose(p, want, rtol=1e-15)
    assert opt.param_groups[0]["lr"] == schedule(5)


def test_attach_one_schedule_per_group_and_detach():
    opt = optim.SGD([{"params": [np.zeros(2)]}, {"params": [np.zeros(2)]}], lr=1.0)
    schedules.attach(opt, [schedules.constant(0.1), schedules.constant(0.2)])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]
    schedules.attach(opt, None)
    opt.param_groups[0]["lr"] = 0.5
    opt.step([np.zeros(2), np.zeros(2)])
    assert opt.param_groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match="2 param groups"):
        schedules.attach(opt, [schedules.constant(0.1)])


def test_attached_schedule_resumes_from_the_state_dict():
    opt = optim.Adam([np.zeros(2)], lr=1.0)
    schedule = schedules.exponential(0.1, 0.5)
    schedules.attach(opt, schedule)
    for _ in range(3):
        opt.step([np.ones(2)])
    resumed = optim.Adam([np.zeros(2)])
    resumed.load_state_dict(opt.state_dict())
    schedules.attach(resumed, schedule)
    assert resumed.param_groups[0]["lr"] == schedule(3)


# ----------------------------------------------------------------------------- plateau

METRICS = [1.0, 0.9, 0.9, 0.9, 0.91, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.7, 0.7, 0.7, 0.7]


@pytest.mark.parametrize("kwargs", [
    {"patience": 2},
    {"patience": 1, "cooldown": 2, "factor": 0.5},
    {"patience": 0, "mode": "max", "threshold_mode": "abs", "threshold": 0.05},
    {"patience": 1, "min_lr": 0.004},
])
def test_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    ours = schedules.ReduceLROnPlateau(0.1, **kwargs)
    for metric in METRICS:
        opt.step()
        theirs.step(metric)
        assert math.isclose(ours.step(metric), opt.param_groups[0]["lr"], rel_tol=1e-15)


def test_plateau_reduces_after_patience_and_round_trips():
    plateau = schedules.ReduceLROnPlateau(1.0, patience=1, factor=0.5)
    assert [plateau.step(m) for m in (3.0, 3.0, 3.0, 2.0, 2.0, 2.0)] == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    again = schedules.ReduceLROnPlateau(1.0, patience=1, factor=0.5)
    again.load_state_dict(plateau.state_dict())
    assert again(0) == 0.25 and again.step(2.0) == plateau.step(2.0)
