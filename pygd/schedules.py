"""Learning-rate schedules: callables from the number of completed steps k (0, 1, ...) to the lr.

    schedule = pygd.schedules.warmup(pygd.schedules.cosine(1e-3, total_steps=9_000), 1_000)
    pygd.schedules.attach(optimizer, schedule)     # the optimizer then sets lr = schedule(k)

`schedule(k)` is the lr that the matching torch.optim.lr_scheduler gives after k calls of
`scheduler.step()`, i.e. the lr of the (k+1)-th optimizer step, computed in closed form (torch
updates most of them multiplicatively, so the two agree to rounding). Schedules are small immutable
objects: printable, picklable, and free of hidden state, except ReduceLROnPlateau, which is fed the
metric and keeps a state_dict.
"""

from __future__ import annotations

import abc
import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

from . import _validate

if TYPE_CHECKING:
    from .optim import Optimizer

__all__ = ["constant", "step_decay", "multistep", "exponential", "cosine", "cosine_restarts",
           "linear", "polynomial", "one_cycle", "warmup", "ReduceLROnPlateau", "attach",
           "linear_scaling"]


def _count(name: str, value: Any, *, minimum: int) -> int:
    """`value` as an int >= minimum; TypeError/ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    count = int(value)
    if count < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {count}")
    return count


def _positive(name: str, value: object) -> float:
    x = _validate.real(name, value)
    if not x > 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return x


class Schedule(abc.ABC):
    """Base of the schedules: `schedule(k)` checks k and returns `lr_at(k)`."""

    def __call__(self, k: int) -> float:
        """The lr after k completed steps (k >= 0)."""
        return self.lr_at(_count("k", k, minimum=0))

    @abc.abstractmethod
    def lr_at(self, k: int) -> float:
        """The lr after k completed steps (k already checked)."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class constant(Schedule):
    """The same lr at every step."""

    def __init__(self, lr: float) -> None:
        self.lr = _validate.non_negative("lr", lr)

    def lr_at(self, k: int) -> float:
        return self.lr


class step_decay(Schedule):
    """lr * gamma ** (k // step_size): torch.optim.lr_scheduler.StepLR."""

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = _validate.non_negative("lr", lr)
        self.step_size = _count("step_size", step_size, minimum=1)
        self.gamma = _validate.non_negative("gamma", gamma)

    def lr_at(self, k: int) -> float:
        return self.lr * self.gamma ** (k // self.step_size)


class multistep(Schedule):
    """lr * gamma ** (milestones passed): torch.optim.lr_scheduler.MultiStepLR (a milestone listed
    twice decays twice, as there)."""

    def __init__(self, lr: float, milestones: Iterable[int], gamma: float = 0.1) -> None:
        self.lr = _validate.non_negative("lr", lr)
        self.milestones = tuple(sorted(_count("milestones[]", m, minimum=0) for m in milestones))
        self.gamma = _validate.non_negative("gamma", gamma)

    def lr_at(self, k: int) -> float:
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, k)


class exponential(Schedule):
    """lr * gamma ** k: torch.optim.lr_scheduler.ExponentialLR."""

    def __init__(self, lr: float, gamma: float) -> None:
        self.lr = _validate.non_negative("lr", lr)
        self.gamma = _validate.non_negative("gamma", gamma)

    def lr_at(self, k: int) -> float:
        return self.lr * self.gamma ** k


def _cosine_between(high: float, low: float, fraction: float) -> float:
    """From `high` at fraction 0 to `low` at fraction 1 along half a cosine."""
    return low + (high - low) * (1.0 + math.cos(math.pi * fraction)) / 2.0


class cosine(Schedule):
    """Half a cosine from lr to min_lr over total_steps: torch.optim.lr_scheduler.CosineAnnealingLR
    (T_max=total_steps). Past total_steps it follows torch and climbs back along the cosine; for a
    flat tail, wrap it (`lambda k: s(min(k, s.total_steps))`) or use cosine_restarts."""

    def __init__(self, lr: float, total_steps: int, min_lr: float = 0.0) -> None:
        self.lr = _validate.non_negative("lr", lr)
        self.total_steps = _count("total_steps", total_steps, minimum=1)
        self.min_lr = _validate.non_negative("min_lr", min_lr)

    def lr_at(self, k: int) -> float:
        return _cosine_between(self.lr, self.min_lr, k / self.total_steps)


class cosine_restarts(Schedule):
    """Cosine from lr to min_lr over `period` steps, then again over period * period_mult, ...:
    torch.optim.lr_scheduler.CosineAnnealingWarmRestarts (T_0=period, T_mult=period_mult)."""

    def __init__(self, lr: float, period: int, period_mult: int = 1, min_lr: float = 0.0) -> None:
        self.lr = _validate.non_negative("lr", lr)
        self.period = _count("period", period, minimum=1)
        self.period_mult = _count("period_mult", period_mult, minimum=1)
        self.min_lr = _validate.non_negative("min_lr", min_lr)

    def lr_at(self, k: int) -> float:
        length = self.period
        if self.period_mult == 1:
            k %= length
        else:
            while k >= length:  # O(log k) periods: exact integer arithmetic, unlike a float log
                k -= length
                length *= self.period_mult
        return _cosine_between(self.lr, self.min_lr, k / length)


class linear(Schedule):
    """Linear from lr to end_lr over total_steps, then end_lr: torch.optim.lr_scheduler.LinearLR
    (start_factor=1, end_factor=end_lr / lr)."""

    def __init__(self, lr: float, total_steps: int, end_lr: float = 0.0) -> None:
        self.lr = _validate.non_negative("lr", lr)
        self.total_steps = _count("total_steps", total_steps, minimum=1)
        self.end_lr = _validate.non_negative("end_lr", end_lr)

    def lr_at(self, k: int) -> float:
        return self.lr + (self.end_lr - self.lr) * min(k, self.total_steps) / self.total_steps


class polynomial(Schedule):
    """(lr - end_lr) * (1 - k / total_steps) ** power + end_lr, then end_lr:
    torch.optim.lr_scheduler.PolynomialLR (total_iters=total_steps) when end_lr = 0."""

    def __init__(self, lr: float, total_steps: int, power: float = 1.0, end_lr: float = 0.0) -> None:
        self.lr = _validate.non_negative("lr", lr)
        self.total_steps = _count("total_steps", total_steps, minimum=1)
        self.power = _validate.non_negative("power", power)
        self.end_lr = _validate.non_negative("end_lr", end_lr)

    def lr_at(self, k: int) -> float:
        remaining = 1.0 - min(k, self.total_steps) / self.total_steps
        decayed: float = remaining ** self.power  # float ** float is typed Any (a negative base)
        return (self.lr - self.end_lr) * decayed + self.end_lr


class one_cycle(Schedule):
    """The 1cycle policy: torch.optim.lr_scheduler.OneCycleLR's lr (with its argument names).

    From max_lr / div_factor up to max_lr over the first pct_start of total_steps, then down to
    max_lr / div_factor / final_div_factor (three_phase: back to the start first, then down).
    Defined for k <= total_steps, as torch's. The momentum cycling of torch's scheduler is not part
    of an lr schedule; set the optimizer's momentum/betas yourself if you want it.
    """

    def __init__(self, max_lr: float, total_steps: int, pct_start: float = 0.3,
                 anneal_strategy: Literal["cos", "linear"] = "cos", div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False) -> None:
        self.max_lr = _validate.non_negative("max_lr", max_lr)
        self.total_steps = _count("total_steps", total_steps, minimum=1)
        self.pct_start = _validate.in_unit_interval("pct_start", pct_start, include_one=True)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self.div_factor = _positive("div_factor", div_factor)
        self.final_div_factor = _positive("final_div_factor", final_div_factor)
        self.three_phase = bool(three_phase)

    def _phases(self) -> tuple[tuple[float, float, float], ...]:
        """(end step, start lr, end lr) of each phase, as OneCycleLR lays them out."""
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        rise_end = float(self.pct_start * self.total_steps) - 1
        last = float(self.total_steps - 1)
        if self.three_phase:
            return ((rise_end, initial, self.max_lr),
                    (float(2 * self.pct_start * self.total_steps) - 2, self.max_lr, initial),
                    (last, initial, final))
        return ((rise_end, initial, self.max_lr), (last, self.max_lr, final))

    def lr_at(self, k: int) -> float:
        if k > self.total_steps:
            raise ValueError(f"one_cycle is defined for k <= total_steps={self.total_steps}, got {k}")
        phases = self._phases()
        start = 0.0
        for i, (end, start_lr, end_lr) in enumerate(phases):
            if k <= end or i == len(phases) - 1:
                fraction = (k - start) / (end - start)
                if self.anneal_strategy == "cos":
                    return _cosine_between(start_lr, end_lr, fraction)
                return (end_lr - start_lr) * fraction + start_lr
            start = end
        raise AssertionError("unreachable: the last phase always returns")


class warmup(Schedule):
    """Linear warmup over warmup_steps from start_factor * s(0) to s(0), then schedule s counted
    from the end of the warmup: torch's SequentialLR([LinearLR(start_factor, 1, warmup_steps), s],
    milestones=[warmup_steps]). `schedule_or_lr` is a schedule or a constant lr."""

    def __init__(self, schedule_or_lr: Union[Callable[[int], float], float], warmup_steps: int,
                 start_factor: float = 0.0) -> None:
        self.schedule: Callable[[int], float] = (schedule_or_lr if callable(schedule_or_lr)
                                                 else constant(schedule_or_lr))
        self.warmup_steps = _count("warmup_steps", warmup_steps, minimum=0)
        self.start_factor = _validate.in_unit_interval("start_factor", start_factor, include_one=True)

    def lr_at(self, k: int) -> float:
        if k >= self.warmup_steps:
            return self.schedule(k - self.warmup_steps)
        fraction = self.start_factor + (1.0 - self.start_factor) * k / self.warmup_steps
        return self.schedule(0) * fraction


class ReduceLROnPlateau:
    """Multiplies the lr by `factor` when the metric fed to step() stops improving:
    torch.optim.lr_scheduler.ReduceLROnPlateau, for one lr.

        plateau = ReduceLROnPlateau(1e-3, patience=5)
        attach(optimizer, plateau)             # the optimizer's lr follows plateau.lr
        ... each epoch: plateau.step(validation_loss)

    Calling it with k returns the current lr (it depends on the metrics, not on k).
    """

    def __init__(self, lr: float, mode: Literal["min", "max"] = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4,
                 threshold_mode: Literal["rel", "abs"] = "rel", cooldown: int = 0, min_lr: float = 0.0,
                 eps: float = 1e-8) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.lr = _validate.non_negative("lr", lr)
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor = _validate.in_unit_interval("factor", factor, include_one=False)
        self.patience = _count("patience", patience, minimum=0)
        self.threshold = _validate.non_negative("threshold", threshold)
        self.cooldown = _count("cooldown", cooldown, minimum=0)
        self.min_lr = _validate.non_negative("min_lr", min_lr)
        self.eps = _validate.non_negative("eps", eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0
        self.cooldown_left = 0

    def __call__(self, k: Optional[int] = None) -> float:
        """The lr now in force (whatever k: it follows the metrics fed to step())."""
        return self.lr

    def __repr__(self) -> str:
        return f"ReduceLROnPlateau(lr={self.lr!r}, best={self.best!r}, bad_epochs={self.bad_epochs})"

    def _improves(self, metric: float) -> bool:
        if self.mode == "min":
            bound = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return metric < bound
        bound = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return metric > bound

    def step(self, metric: float) -> float:
        """Feeds one metric value (e.g. an epoch's validation loss); returns the lr now in force."""
        metric = _validate.real("metric", metric)
        if self._improves(metric):
            self.best, self.bad_epochs = metric, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            reduced = max(self.lr * self.factor, self.min_lr)
            if self.lr - reduced > self.eps:
                self.lr = reduced
            self.cooldown_left, self.bad_epochs = self.cooldown, 0
        return self.lr

    def state_dict(self) -> dict[str, float]:
        """Its state (lr, best metric, counters), for load_state_dict."""
        return {"lr": self.lr, "best": self.best, "bad_epochs": self.bad_epochs,
                "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what state_dict() returned."""
        self.lr, self.best = float(state["lr"]), float(state["best"])
        self.bad_epochs, self.cooldown_left = int(state["bad_epochs"]), int(state["cooldown_left"])


class _Attached:
    """What attach() installs on an optimizer: before each step, group lr = schedule(steps done)."""

    def __init__(self, schedules: list[Callable[[int], float]]) -> None:
        self.schedules = schedules

    def __call__(self, optimizer: Optimizer) -> None:
        k = optimizer.steps
        for group, schedule in zip(optimizer.param_groups, self.schedules):
            group["lr"] = schedule(k)


def attach(optimizer: Optimizer,
           schedule: Union[Callable[[int], float], Sequence[Callable[[int], float]], None]) -> None:
    """Makes `optimizer` set each group's lr to schedule(k) before its (k+1)-th step.

    `schedule`: one schedule for every group, a list with one per group, or None to detach. k is
    optimizer.steps, which state_dict() saves, so a resumed run picks the schedule up where it was.
    Applies the lr for the next step at once, so optimizer.param_groups shows it."""
    if schedule is None:
        optimizer._lr_schedule = None
        return
    groups = len(optimizer.param_groups)
    # Any: each entry is checked to be callable below, whatever was passed.
    schedules: list[Any] = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule] * groups
    if len(schedules) != groups:
        raise ValueError(f"schedule has {len(schedules)} entries but the optimizer has {groups} "
                         "param groups")
    for i, s in enumerate(schedules):
        if not callable(s):
            raise TypeError(f"schedule[{i}] must be callable (k -> lr), got {type(s).__name__}")
    optimizer._lr_schedule = _Attached(schedules)
    optimizer._lr_schedule(optimizer)


def linear_scaling(base_lr: float, base_batch_size: int, batch_size: int) -> float:
    """The linear scaling rule (Goyal et al., 2017): base_lr * batch_size / base_batch_size, the lr
    that keeps the expected update per sample when the batch grows."""
    base_lr = _validate.non_negative("base_lr", base_lr)
    base_batch_size = _count("base_batch_size", base_batch_size, minimum=1)
    batch_size = _count("batch_size", batch_size, minimum=1)
    return base_lr * batch_size / base_batch_size
