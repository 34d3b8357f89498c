"""Streams a step writes without reading (csrc/include/pygd/unread.h): ASGD's average while mu is
exactly 1, which torch makes with ax.copy_(param). The sweep skips their loads and, in a call of at
least `streaming_store_bytes` per stream, writes them with streaming stores (csrc/cpu/sweep.inl):
the same bits as a plain store, at every ISA level and thread count, whether or not the stream is
aligned for them (the sweep falls back to plain stores where not), and whatever the stream held.
"""

import numpy as np
import pytest

import pygd
from cases import DTYPES, ISAS

ETA = 0.01


@pytest.fixture
def large(native):
    """Elements per stream from which a call streams its unread streams, by dtype."""
    return lambda dtype: native.streaming_store_bytes // np.dtype(dtype).itemsize


def _inputs(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)


def _in_pieces(p, g, pieces):
    """The same step as calls each too small to stream: the plain-store result."""
    p, ax = p.copy(), np.empty_like(p)
    for part in np.array_split(np.arange(p.size), pieces):
        lo, hi = part[0], part[-1] + 1
        pygd.asgd_(p[lo:hi], g[lo:hi], ax[lo:hi], eta=ETA, mu=1.0)
    return p, ax


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("ax_offset", [0, 1], ids=["aligned", "misaligned"])
def test_a_large_call_writes_the_copy_bit_for_bit(large, runtime, isa, threads, dtype, ax_offset):
    runtime(isa=isa, threads=threads)
    n = large(dtype) + 7
    p, g = _inputs(n, dtype)
    want_p, want_ax = _in_pieces(p, g, pieces=8)
    # What the average held is never read: NaN and garbage must not leak into the copy.
    buffer = np.full(n + 1, np.nan, dtype=dtype)
    ax = buffer[ax_offset:ax_offset + n]
    pygd.asgd_(p, g, ax, eta=ETA, mu=1.0)
    np.testing.assert_array_equal(p, want_p)
    np.testing.assert_array_equal(ax, want_ax)
    np.testing.assert_array_equal(ax, p)  # torch's ax.copy_(param)


@pytest.mark.parametrize("isa", ISAS)
def test_a_list_streams_by_its_total_size(large, runtime, isa):
    # Many tensors each far below the size, together above it.
    runtime(isa=isa, threads=2)
    sizes = [4099, 1, 7, 130] * (large(np.float32) // 4000 + 1)
    params = [p for p, _ in (_inputs(n, np.float32, seed) for seed, n in enumerate(sizes))]
    grads = [g for _, g in (_inputs(n, np.float32, seed) for seed, n in enumerate(sizes))]
    want = [_in_pieces(p, g, pieces=1) for p, g in zip(params, grads)]
    axs = [np.full_like(p, np.inf) for p in params]
    pygd.asgd_(params, grads, axs, eta=ETA, mu=1.0)
    for p, ax, (want_p, want_ax) in zip(params, axs, want):
        np.testing.assert_array_equal(p, want_p)
        np.testing.assert_array_equal(ax, want_ax)


def test_an_average_still_reads_its_stream_when_mu_is_not_1(large, runtime):
    # The unread mask follows the step: with mu < 1 the average is read again.
    runtime(threads=2)
    n = large(np.float32) + 7
    p, g = _inputs(n, np.float32)
    ax = np.full(n, 2.0, dtype=np.float32)
    want_p = p.copy()
    pygd.asgd_(want_p, g, np.empty_like(p), eta=ETA, mu=1.0)
    mu = np.float32(0.25)
    pygd.asgd_(p, g, ax, eta=ETA, mu=float(mu))
    np.testing.assert_array_equal(p, want_p)
    # torch's ax.add_(param.sub(ax).mul_(mu)), each op rounded in float32.
    np.testing.assert_array_equal(ax, np.float32(2.0) + (want_p - np.float32(2.0)) * mu)
