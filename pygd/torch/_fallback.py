"""torch.optim's own step for the params pygd's kernels do not update (_checks.py says which and why).

The params of each group that pygd routes to torch step through the torch.optim class's own `step`
(its implementation and flags: for-loop, foreach or fused, differentiable, capturable, GradScaler's
attributes), on a copy of each group that holds only those params, in the same optimizer and state
dict. Results, errors and state are therefore torch's own. The hooks around step() are pygd's step's
and run once.

`Routes` says, after each step, which params ran where; a warning says so once per optimizer for
each param and reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ._plan import GroupPlan


class TorchFallbackWarning(UserWarning):
    """Some params of a pygd.torch optimizer are updated by torch.optim's own implementation."""


@dataclass(frozen=True)
class Routes:
    """Where the params of an optimizer's last step ran, by index in the optimizer (the order of
    `param_groups`, as in its state_dict): `native` by pygd's kernels, `torch` by torch.optim's own
    implementation (index -> reason), `skipped` had no grad."""
    native: tuple[int, ...] = ()
    torch: dict[int, str] = field(default_factory=dict)
    skipped: tuple[int, ...] = ()


def routes_of(plans: Iterable[GroupPlan]) -> Routes:
    """The Routes of the last step, from each group's plan."""
    native: list[int] = []
    to_torch: dict[int, str] = {}
    skipped: list[int] = []
    for plan in plans:
        native.extend(plan.native)
        to_torch.update((index, reason) for _, index, reason in plan.to_torch)
        skipped.extend(plan.skipped)
    return Routes(tuple(sorted(native)), dict(sorted(to_torch.items())), tuple(skipped))


def warn_new_routes(optimizer: torch.optim.Optimizer, routes: Routes, warned: set[tuple[int, str]]
                    ) -> None:
    """Warns once per optimizer for each (param, reason) routed to torch, naming them."""
    new = [(i, why) for i, why in routes.torch.items() if (i, why) not in warned]
    if not new:
        return
    warned.update(new)
    cls = type(optimizer)
    base = torch_class(cls)
    listed = "; ".join(f"params[{i}] {why}" for i, why in new)
    warnings.warn(f"pygd.torch.{cls.__name__}: {len(new)} param(s) are updated by "
                  f"{base.__module__}.{base.__name__}'s own implementation, not pygd's kernels "
                  f"({listed}). See the optimizer's `pygd_routes`.", TorchFallbackWarning,
                  stacklevel=6)  # the caller of optimizer.step()


def torch_class(cls: type) -> type[torch.optim.Optimizer]:
    """The torch.optim class a pygd.torch class replaces."""
    base: type[torch.optim.Optimizer] = next(c for c in cls.__mro__
                                             if c.__module__.startswith("torch.optim"))
    return base


def torch_step(optimizer: torch.optim.Optimizer,
               subsets: Sequence[tuple[dict[str, Any], list[torch.Tensor]]]) -> None:
    """Runs torch's own step on `subsets`: (group, [params]) pairs, each a param group and the params
    of it torch must update."""
    step = next(c.__dict__["step"] for c in torch_class(type(optimizer)).__mro__ if "step" in c.__dict__)
    # torch.optim wraps a class's step once with its hook runner (Optimizer._patch_step_function);
    # pygd's step already ran the hooks.
    while getattr(step, "hooked", False):
        step = step.__wrapped__
    groups = [dict(group, params=params) for group, params in subsets]
    saved = optimizer.param_groups
    optimizer.param_groups = groups
    try:
        step(optimizer)
    finally:
        optimizer.param_groups = saved
