"""The scalars optimizers keep as per-tensor state (Option.state in _specs.py), and how a step
advances them: NAdam's mu_product (the product of its momentum coefficients mu_1 ... mu_t), ASGD's
eta (its decayed learning rate) and mu (its averaging weight).

Their schedules are written once in Python: pygd.optim and pygd.torch advance their states by them,
the reference backend and the Numba scalars (register_jitable) read them; the kernels receive the
values by name and never compute a schedule, except NAdam's mu_t, whose C++ twin is in make_step
(csrc/include/pygd/hparams.h), bit for bit (math.pow is C's pow).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Group = Mapping[str, Any]  # a param group's options (or the defaults)


def nadam_momentum(step: int, beta1: float, momentum_decay: float) -> float:
    """NAdam's momentum coefficient at step `step` (1-based), as torch.optim.NAdam computes it:
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)). mu_product is mu_1 * ... * mu_t."""
    return beta1 * (1.0 - 0.5 * math.pow(0.96, float(step) * momentum_decay))


def asgd_eta(step: int, lr: float, lambd: float, alpha: float) -> float:
    """ASGD's learning rate for the step after `step`: lr / (1 + lambd * lr * t) ** alpha."""
    return lr / ((1.0 + lambd * lr * float(step)) ** alpha)


def asgd_mu(step: int, t0: float) -> float:
    """ASGD's averaging weight for the step after `step`: 1 / max(1, t - t0) (1 until t0)."""
    return 1.0 / max(1.0, float(step) - t0)


@dataclass(frozen=True)
class StateScalar:
    """How one state scalar starts and advances, and which value a step's kernel reads."""
    initial: Callable[[Group], float]            # before the first step
    # Its value after step t from its value before: factor(t, group) * value where torch
    # multiplies the state in place (`multiplied`), else a value set from the step count.
    factor: Callable[[int, Group], float] | None = None
    value: Callable[[int, Group], float] | None = None
    # Whether step t's kernel reads the value after step t's advance (NAdam's mu_product is
    # multiplied first) or before it (ASGD's eta and mu are set for the next step).
    read_after: bool = True

    @property
    def multiplied(self) -> bool:
        return self.factor is not None

    def after(self, before: float, step: int, group: Group) -> float:
        """Its value after step `step` (1-based), from its value before, in float64."""
        if self.factor is not None:
            return before * self.factor(step, group)
        assert self.value is not None
        return self.value(step, group)


SCALARS: dict[str, StateScalar] = {
    "mu_product": StateScalar(
        initial=lambda group: 1.0,
        factor=lambda step, group: nadam_momentum(step, float(group["betas"][0]), float(group["momentum_decay"]))),
    "eta": StateScalar(
        initial=lambda group: float(group["lr"]),
        value=lambda step, group: asgd_eta(step, float(group["lr"]), float(group["lambd"]), float(group["alpha"])),
        read_after=False),
    "mu": StateScalar(initial=lambda group: 1.0, value=lambda step, group: asgd_mu(step, float(group["t0"])),
                      read_after=False),
}


def kernel_values(names: tuple[str, ...], step: int, group: Group) -> dict[str, float]:
    """{name: the value step `step`'s kernel reads}, for states advanced from their initial values by
    steps 1..step with constant options `group` (as the tests' oracle calls take them)."""
    values = {}
    for name in names:
        scalar, value = SCALARS[name], SCALARS[name].initial(group)
        for t in range(1, step + (1 if scalar.read_after else 0)):
            value = scalar.after(value, t, group)
        values[name] = value
    return values
