"""The gradient tools (norms, clipping, accumulation) as Numba loops over one array: what
backend="numba" runs for pygd.clip and pygd.accumulation on the CPU. Norms accumulate in float64;
their kinds are pygd._constants.NormKind's."""

import math

import numpy as np
from numba import njit

from .._constants import NormKind

_compiled = njit(cache=True, error_model="numpy")


# Sums run over blocks of this many elements, one partial each, which the backend joins exactly
# (math.fsum): the error stays that of a 16k-term sum, as in the native reduction's blocks.
BLOCK = 1 << 14


_L2, _L1 = int(NormKind.L2), int(NormKind.L1)  # compile-time constants of block_sums


@_compiled
def block_sums(a, kind, p):
    """Partial sums of x^2 (kind L2), |x| (L1) or |x|^p (POWER) over each block of a."""
    flat = a.ravel()
    blocks = (flat.size + BLOCK - 1) // BLOCK
    out = np.zeros(blocks, np.float64)
    for b in range(blocks):
        total = 0.0
        for i in range(b * BLOCK, min(flat.size, (b + 1) * BLOCK)):
            m = abs(np.float64(flat[i]))  # float() keeps float32 in Numba
            total += m * m if kind == _L2 else (m if kind == _L1 else m ** p)
        out[b] = total
    return out


@_compiled
def largest_magnitude(a):
    """max |x|, NaN as soon as any element is NaN (as torch's inf-norm)."""
    largest = 0.0
    for x in a.ravel():
        m = abs(np.float64(x))
        if math.isnan(m):
            return m
        if m > largest:
            largest = m
    return largest


@_compiled
def scale_(a, scale):
    s = a.dtype.type(scale)
    flat = a.ravel()
    for i in range(flat.size):
        flat[i] *= s


@_compiled
def clamp_(a, clip):
    """Each element into [-clip, clip]; NaN stays NaN (as np.clip and torch.clamp)."""
    lo, hi = a.dtype.type(-clip), a.dtype.type(clip)
    flat = a.ravel()
    for i in range(flat.size):
        x = flat[i]
        if x < lo:
            flat[i] = lo
        elif x > hi:
            flat[i] = hi


@_compiled
def accumulate_(total, grad, scale, overwrite):
    """total <- total + scale * grad (total <- scale * grad when overwrite), in total's dtype."""
    s = total.dtype.type(scale)
    t, g = total.ravel(), grad.ravel()
    for i in range(t.size):
        if overwrite:
            t[i] = g[i] * s
        else:
            t[i] += s * g[i]
