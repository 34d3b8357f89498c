"""The CPU loops of the trust-ratio optimizers (LAMB, LARS; csrc/include/pygd/trust_ratio.h): per
tensor, a first pass that writes the state it produces and sums, in float64, the squares of the
param and of the direction u (elements.py's `<name>_reduce_element` or `<name>_direction`), the
tensor's scale -lr * ratio (optax's scale_by_trust_ratio), then a second pass that applies it
(`<name>_apply_element`). Plain two-pass loops, one tensor at a time on the calling thread. The sums
are folded as the native kernels fold them (csrc/cpu/reduce.inl: blocks of 16k elements joined in
order, each in 32 chains, element i into chain i % 32, then its last n % 32 elements), so the
ratios, and the results, are the native scalar level's bits. The arrays are the tensors' flat views.
"""

import math

import numpy as np
from numba import njit

from .elements import (
    fmadd,
    lamb_apply_element,
    lamb_reduce_element,
    lars_apply_element,
    lars_direction,
)

_loop = njit(cache=True, error_model="numpy")

BLOCK = 1 << 14  # csrc/cpu/reduce.h's kNormBlock
CHAINS = 32      # csrc/cpu/reduce.inl's kChains


@_loop
def trust_ratio(param_squares, update_squares, trust_coefficient, eps):
    """trust_coefficient * |param| / (|u| + eps), or 1 where either norm is 0 (optax's)."""
    param_norm, update_norm = math.sqrt(param_squares), math.sqrt(update_squares)
    if param_norm == 0.0 or update_norm == 0.0:
        return 1.0
    return trust_coefficient * param_norm / (update_norm + eps)


@_loop
def block_squares(x, begin, end, chains):
    """The sum of x[begin:end]'s squares in float64, folded in CHAINS chains (`chains`: scratch)."""
    n = end - begin
    rows = n // CHAINS
    for k in range(CHAINS):
        chains[k] = 0.0
    for r in range(rows):
        for k in range(CHAINS):
            v = np.float64(x[begin + r * CHAINS + k])
            chains[k] = fmadd(v, v, chains[k])
    total = 0.0
    for k in range(CHAINS):
        total = total + chains[k]
    for i in range(begin + rows * CHAINS, end):
        v = np.float64(x[i])
        total = fmadd(v, v, total)
    return total


@_loop
def lamb_tensor(param, grad, exp_avg, exp_avg_sq, s):
    """One LAMB step of one tensor (flat arrays), in place."""
    n = param.size
    if s.trust_ratio:
        updates = np.empty(min(n, BLOCK), param.dtype)
        chains = np.empty(CHAINS, np.float64)
        param_squares, update_squares = 0.0, 0.0
        for begin in range(0, n, BLOCK):
            end = min(n, begin + BLOCK)
            for i in range(begin, end):
                exp_avg[i], exp_avg_sq[i], updates[i - begin] = lamb_reduce_element(
                    param[i], grad[i], exp_avg[i], exp_avg_sq[i], s)
            param_squares = param_squares + block_squares(param, begin, end, chains)
            update_squares = update_squares + block_squares(updates, 0, end - begin, chains)
        scale = param.dtype.type(-s.lr * trust_ratio(param_squares, update_squares, 1.0, 0.0))
    else:
        for i in range(n):
            exp_avg[i], exp_avg_sq[i], _ = lamb_reduce_element(param[i], grad[i], exp_avg[i], exp_avg_sq[i], s)
        scale = s.neg_lr
    for i in range(n):
        param[i] = lamb_apply_element(param[i], exp_avg[i], exp_avg_sq[i], scale, s)


@_loop
def lars_tensor(param, grad, momentum_buffer, s):
    """One LARS step of one tensor (flat arrays; momentum_buffer unused without momentum), in place."""
    n = param.size
    if s.trust_ratio:
        updates = np.empty(min(n, BLOCK), param.dtype)
        chains = np.empty(CHAINS, np.float64)
        param_squares, update_squares = 0.0, 0.0
        for begin in range(0, n, BLOCK):
            end = min(n, begin + BLOCK)
            for i in range(begin, end):
                updates[i - begin] = lars_direction(param[i], grad[i], s)
            param_squares = param_squares + block_squares(param, begin, end, chains)
            update_squares = update_squares + block_squares(updates, 0, end - begin, chains)
        scale = param.dtype.type(-s.lr * trust_ratio(param_squares, update_squares, s.trust_coefficient, s.eps))
    else:
        scale = s.neg_lr
    if s.has_momentum:
        for i in range(n):
            param[i], momentum_buffer[i] = lars_apply_element(param[i], grad[i], momentum_buffer[i], scale, s)
    else:
        for i in range(n):
            param[i], _ = lars_apply_element(param[i], grad[i], param[i], scale, s)


TENSOR_STEPS = {"lamb": lamb_tensor, "lars": lars_tensor}
