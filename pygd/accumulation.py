"""Gradient accumulation: average the gradients of k micro-batches in place, then step once.

    acc = pygd.GradientAccumulator(params, micro_batches=4)
    for batch in batches:
        if acc.add(grads_of(batch)):           # True once the 4th micro-batch is in
            optimizer.step(acc.grads)          # one step on the mean gradient

Each add() is one native multi-tensor pass: sums <- sums + grads / k (the first of a round writes
grads / k, so no zeroing pass), which leaves the mean in `acc.grads` after k adds. For micro-batches
of unequal sizes, call accumulate_ with scale = n_i / N yourself.
"""

from __future__ import annotations

from typing import Any, Generic

import numpy as np

from . import _backends, _dlpack, _validate
from ._typing import A, Arrays, Backend, F, MixedArrays

__all__ = ["accumulate_", "GradientAccumulator"]


def accumulate_(sums: Arrays[F], grads: Arrays[F], *, scale: float = 1.0, overwrite: bool = False,
                backend: Backend = "auto") -> None:
    """sums <- sums + scale * grads in place (sums <- scale * grads with overwrite=True).

    `sums` and `grads` are arrays or aligned lists of arrays, one dtype per call; sums must be
    writable and share no memory with grads."""
    _accumulate(sums, grads, scale, overwrite, backend)


def _accumulate(sums: object, grads: object, scale: float, overwrite: bool, backend: str) -> None:
    """accumulate_, for lists typed as mixing dtypes whose call is of one dtype (the checks say)."""
    scale = _validate.real("scale", scale)
    module = _backends.tools(backend)
    streams = (sums, grads)
    problem = module.grad_accumulate(streams, scale, bool(overwrite))
    if problem is not None:
        viewed = _dlpack.host_views(problem, streams)  # torch CPU tensors, JAX arrays
        if viewed is not None:
            streams = viewed
            problem = module.grad_accumulate(streams, scale, bool(overwrite))
        if problem is not None:
            raise _validate.buffer_error(problem, "accumulate", streams)


class GradientAccumulator(Generic[A]):
    """Running mean of the gradients of `micro_batches` micro-batches, in arrays of its own.

    `grads` holds one array per param, of its shape and dtype (zeros until the first add). After `micro_batches` adds,
    `ready` is True and `grads` holds the mean; the next add starts a new round. `finish()` turns a
    partial round (an epoch's last few micro-batches) into the mean of what was added.
    """

    def __init__(self, params: MixedArrays[A], micro_batches: int, *,
                 backend: Backend = "auto") -> None:
        if isinstance(micro_batches, bool) or not isinstance(micro_batches, (int, np.integer)):
            raise TypeError(f"micro_batches must be an integer, got {type(micro_batches).__name__}")
        if micro_batches < 1:
            raise ValueError(f"micro_batches must be >= 1, got {micro_batches}")
        arrays = [params] if isinstance(params, np.ndarray) else list(params)
        # Of each param's shape and dtype, so of its type A (which NumPy's stubs cannot tell).
        self.grads: list[A] = [np.zeros(p.shape, p.dtype) for p in arrays]  # type: ignore[misc]
        # Param indices by dtype: one native call per dtype (a single call when all share one).
        by_dtype: dict[np.dtype[np.floating], list[int]] = {}
        for i, p in enumerate(arrays):
            by_dtype.setdefault(p.dtype, []).append(i)
        self._parts = None if len(by_dtype) == 1 else list(by_dtype.values())
        self.micro_batches = int(micro_batches)
        self.count = 0  # micro-batches added in the current round
        self.backend = backend

    @property
    def ready(self) -> bool:
        """Whether this round has all its micro-batches: `grads` holds their mean."""
        return self.count == self.micro_batches

    def add(self, grads: MixedArrays[A]) -> bool:
        """Adds one micro-batch's grads (aligned with the params); returns `ready`."""
        if self.count == self.micro_batches:
            self.count = 0
        if isinstance(grads, np.ndarray):
            grads = [grads]
        if len(grads) != len(self.grads):
            raise ValueError(f"grads has {len(grads)} arrays but the accumulator has {len(self.grads)}")
        scale, first = 1.0 / self.micro_batches, self.count == 0
        if self._parts is None:
            _accumulate(self.grads, grads, scale, first, self.backend)
        else:
            parts = [([self.grads[i] for i in part], [grads[i] for i in part]) for part in self._parts]
            for sums, part_grads in parts:  # all checked before any is written
                problem = _validate.check_streams("accumulate", (sums, part_grads))
                if problem is not None:
                    viewed = _dlpack.host_views(problem, (grads,))
                    if viewed is not None:  # torch CPU tensors, JAX arrays: again, on views
                        return self.add(viewed[0])
                    raise _validate.buffer_error(problem, "accumulate", (sums, part_grads))
            for sums, part_grads in parts:
                _accumulate(sums, part_grads, scale, first, self.backend)
        self.count += 1
        return self.ready

    def finish(self) -> list[A]:
        """Makes `grads` the mean of the micro-batches added so far in this round (one scaling pass
        when the round is partial); returns `grads`. ValueError if none was added."""
        if self.count == 0:
            raise ValueError("finish() needs at least one add() in the current round")
        if self.count < self.micro_batches:
            g: Any  # an array of A's dtype: *= keeps it
            for g in self.grads:  # rare (once per epoch at most): NumPy is fast enough
                g *= g.dtype.type(self.micro_batches / self.count)
            self.count = self.micro_batches
        return self.grads
