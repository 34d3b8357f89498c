"""pygd.torch against torch.optim: every torch LR scheduler drives pygd.torch as it drives
torch.optim (shared set-up: torch_api.py)."""

import warnings

import pytest

from torch_api import NAMES, assert_same_run, clone, lrs, make_params, pygd_torch, set_grads, torch

SCHEDULER_STEPS = 12
# For ReduceLROnPlateau: stalls after step 2, and again after step 6.
PLATEAU_METRICS = [1.0, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]


def _cycles_momentum(opt):
    return "momentum" in opt.defaults or "betas" in opt.defaults


SCHEDULERS = {
    "StepLR": lambda o: lrs.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda o: lrs.MultiStepLR(o, milestones=[2, 5, 7], gamma=0.3),
    "ConstantLR": lambda o: lrs.ConstantLR(o, factor=0.25, total_iters=4),
    "LinearLR": lambda o: lrs.LinearLR(o, start_factor=0.2, total_iters=5),
    "ExponentialLR": lambda o: lrs.ExponentialLR(o, gamma=0.8),
    "PolynomialLR": lambda o: lrs.PolynomialLR(o, total_iters=8, power=2.0),
    "CosineAnnealingLR": lambda o: lrs.CosineAnnealingLR(o, T_max=5, eta_min=1e-4),
    "ChainedScheduler": lambda o: lrs.ChainedScheduler(
        [lrs.ConstantLR(o, factor=0.5, total_iters=3), lrs.ExponentialLR(o, gamma=0.9)]),
    "SequentialLR": lambda o: lrs.SequentialLR(
        o, [lrs.LinearLR(o, start_factor=0.1, total_iters=3), lrs.ExponentialLR(o, gamma=0.9)],
        milestones=[4]),
    "ReduceLROnPlateau": lambda o: lrs.ReduceLROnPlateau(o, factor=0.5, patience=1),
    # Cycles momentum (SGD, RMSprop) or beta1 (Adam, AdamW) where the optimizer has one.
    "CyclicLR": lambda o: lrs.CyclicLR(o, base_lr=[g["lr"] / 10 for g in o.param_groups],
                                       max_lr=[g["lr"] for g in o.param_groups], step_size_up=3,
                                       cycle_momentum=_cycles_momentum(o)),
    "OneCycleLR": lambda o: lrs.OneCycleLR(o, max_lr=[g["lr"] for g in o.param_groups],
                                           total_steps=SCHEDULER_STEPS, cycle_momentum=_cycles_momentum(o)),
    "CosineAnnealingWarmRestarts": lambda o: lrs.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "LambdaLR": lambda o: lrs.LambdaLR(o, lambda k: 1 / (1 + k)),
    "MultiplicativeLR": lambda o: lrs.MultiplicativeLR(o, lambda k: 0.9),
}
# Momentum where the optimizer has it, so that CyclicLR and OneCycleLR have something to cycle.
SCHEDULED = {"SGD": dict(lr=0.05, momentum=0.9), "Adam": dict(lr=0.01), "AdamW": dict(lr=0.01),
             "RMSprop": dict(lr=0.01, momentum=0.5), "Adagrad": dict(lr=0.1), "Adamax": dict(lr=0.01),
             "RAdam": dict(lr=0.01), "Adadelta": dict(lr=0.5), "Rprop": dict(lr=0.01),
             "NAdam": dict(lr=0.01), "ASGD": dict(lr=0.01, t0=3.0), "Adafactor": dict(lr=0.05)}


def test_scheduler_table_covers_every_torch_scheduler():
    public = {n for n, c in vars(lrs).items() if isinstance(c, type) and not n.startswith("_")
              and (issubclass(c, lrs.LRScheduler) or c is lrs.ReduceLROnPlateau)}
    assert public - {"LRScheduler"} <= SCHEDULERS.keys()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_lr_scheduler_drives_it_as_it_drives_torch(scheduler, name):
    """The same lr (and momentum or betas) at every step, the same params, the same warnings (e.g.
    torch's 'lr_scheduler.step() before optimizer.step()', which comes from how step is wrapped)."""
    def script(opt, params):
        trace = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched = SCHEDULERS[scheduler](opt)
            for t in range(1, SCHEDULER_STEPS + 1):
                set_grads(params, t)
                opt.step()
                if scheduler == "ReduceLROnPlateau":
                    sched.step(PLATEAU_METRICS[t - 1])
                else:
                    sched.step()
                trace.append([(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups])
        return trace, [str(w.message) for w in caught]

    def groups(params):
        return [{"params": params[:2]}, {"params": params[2:], "lr": SCHEDULED[name]["lr"] / 2}]
    got_params = make_params()
    want_params = clone(got_params)
    got = getattr(pygd_torch, name)(groups(got_params), **SCHEDULED[name])
    want = getattr(torch.optim, name)(groups(want_params), **SCHEDULED[name], foreach=False)
    got_trace, got_warnings = script(got, got_params)
    want_trace, want_warnings = script(want, want_params)
    assert got_trace == want_trace
    assert len({tuple(x[0]) for x in want_trace}) > 1 or scheduler == "ConstantLR"  # the lr does move
    assert got_warnings == want_warnings
    assert_same_run(got, got_params, want, want_params, SCHEDULER_STEPS, f"{name} {scheduler}")
