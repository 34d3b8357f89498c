"""The scalars optimizers keep as per-tensor state (Option.state in _specs.py), and how a step
advances them: NAdam's mu_product, the product of its momentum coefficients mu_1 ... mu_t.

The momentum schedule is written once in Python: pygd.optim and pygd.torch advance their states by
it, the reference backend and the Numba scalars (register_jitable) read it; the native kernels'
make_step (csrc/include/pygd/hparams.h) is its C++ twin, bit for bit (math.pow is C's pow).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any


def nadam_momentum(step: int, beta1: float, momentum_decay: float) -> float:
    """NAdam's momentum coefficient at step `step` (1-based), as torch.optim.NAdam computes it:
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)). mu_product is mu_1 * ... * mu_t."""
    return beta1 * (1.0 - 0.5 * math.pow(0.96, float(step) * momentum_decay))


# {state scalar: factor(step, group)}: a step multiplies the state by its factor at that step,
# read from the param group's options, before the kernel runs with the new value.
FACTORS: dict[str, Callable[[int, Mapping[str, Any]], float]] = {
    "mu_product": lambda step, group: nadam_momentum(step, float(group["betas"][0]),
                                                     float(group["momentum_decay"])),
}
INITIAL = {"mu_product": 1.0}  # a state scalar's value before the first step
