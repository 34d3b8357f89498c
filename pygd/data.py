"""Mini-batching: index arrays over a dataset of n samples, reshuffled every epoch.

    loader = pygd.data.batches(len(X), batch_size=32, seed=0)
    for epoch in range(10):
        for idx in loader:                     # a fresh permutation each epoch
            step_on(X[idx], y[idx])

batch_size=n is batch gradient descent, batch_size=1 stochastic gradient descent, anything between
mini-batch gradient descent: the same loop, one parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Union

import numpy as np
from numpy.typing import NDArray

__all__ = ["batches", "Batches"]


def _count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


class Batches:
    """Iterating gives one epoch: arrays of sample indices (np.intp), every index exactly once
    (drop_last=True leaves out the last, short batch). Each epoch draws a new permutation from a
    generator seeded once, so a seed fixes the whole sequence of epochs."""

    def __init__(self, n: int, batch_size: int, *, shuffle: bool = True,
                 seed: Union[int, np.random.Generator, None] = None, drop_last: bool = False) -> None:
        self.n = _count("n", n, 0)
        self.batch_size = _count("batch_size", batch_size, 1)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.epoch = 0  # epochs started
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.n, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[NDArray[np.intp]]:
        """One epoch: its batches of sample indices, in a new order when shuffle=True."""
        order = self._rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        self.epoch += 1
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, self.n), self.batch_size):
            yield order[start:start + self.batch_size]

    def __repr__(self) -> str:
        return (f"batches(n={self.n}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, epoch={self.epoch})")


def batches(n: int, batch_size: int, *, shuffle: bool = True,
            seed: Union[int, np.random.Generator, None] = None, drop_last: bool = False) -> Batches:
    """The mini-batches of n samples (see Batches); `seed`: an int, a numpy Generator or None."""
    return Batches(n, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
