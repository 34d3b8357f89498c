"""The gradient tools (norms, clipping, accumulation) as Numba loops over one array: what
backend="numba" runs for pygd.clip and pygd.accumulation on the CPU. Norm kinds as
csrc/include/pygd/grad_norms.h numbers them (pygd.clip passes them): 0 sum of squares, 1 sum of
magnitudes, 2 largest magnitude, 3 sum of |x|^p, accumulated in float64."""

import math

import numpy as np
from numba import njit

_compiled = njit(cache=True, error_model="numpy")


# Sums run over blocks of this many elements, one partial each, which the backend joins exactly
# (math.fsum): the error stays that of a 16k-term sum, as in the native reduction's blocks.
BLOCK = 1 << 14


@_compiled
def block_sums(a, kind, p):
    """Partial sums of x^2 (kind 0), |x| (kind 1) or |x|^p (kind 3) over each block of a."""
    flat = a.ravel()
    blocks = (flat.size + BLOCK - 1) // BLOCK
    out = np.zeros(blocks, np.float64)
    for b in range(blocks):
        total = 0.0
        for i in range(b * BLOCK, min(flat.size, (b + 1) * BLOCK)):
            m = abs(np.float64(flat[i]))  # float() keeps float32 in Numba
            total += m * m if kind == 0 else (m if kind == 1 else m ** p)
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
