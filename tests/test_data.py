"""pygd.data.batches: every index exactly once per epoch, reshuffled each epoch, reproducible."""

import numpy as np
import pytest

from pygd import data


@pytest.mark.parametrize("n, batch_size", [(1, 1), (7, 3), (100, 100), (101, 10), (10, 32), (0, 4)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_every_index_once_per_epoch(n, batch_size, shuffle):
    loader = data.batches(n, batch_size, shuffle=shuffle, seed=0)
    for _ in range(3):
        parts = list(loader)
        assert len(parts) == len(loader) == -(-n // batch_size)
        assert all(len(b) == batch_size for b in parts[:-1])
        seen = np.concatenate(parts) if parts else np.zeros(0, np.intp)
        assert seen.dtype == np.intp
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))
        if not shuffle:
            np.testing.assert_array_equal(seen, np.arange(n))


def test_drop_last_leaves_out_the_short_batch():
    loader = data.batches(10, 3, drop_last=True, seed=1)
    parts = list(loader)
    assert len(parts) == len(loader) == 3 and all(len(b) == 3 for b in parts)
    assert len(set(np.concatenate(parts))) == 9


def test_reshuffled_every_epoch_and_reproducible_from_the_seed():
    first = data.batches(50, 7, seed=42)
    second = data.batches(50, 7, seed=42)
    epochs = [np.concatenate(list(first)) for _ in range(3)]
    again = [np.concatenate(list(second)) for _ in range(3)]
    for a, b in zip(epochs, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(epochs[0], epochs[1])
    assert first.epoch == 3
    other = np.concatenate(list(data.batches(50, 7, seed=43)))
    assert not np.array_equal(other, epochs[0])


def test_batch_stochastic_and_minibatch_are_one_parameter():
    assert len(data.batches(100, 100)) == 1     # batch gradient descent
    assert len(data.batches(100, 1)) == 100     # stochastic gradient descent
    assert len(data.batches(100, 16)) == 7      # mini-batch gradient descent


def test_a_generator_as_seed():
    rng = np.random.default_rng(5)
    got = np.concatenate(list(data.batches(20, 4, seed=rng)))
    np.testing.assert_array_equal(got, np.random.default_rng(5).permutation(20))


@pytest.mark.parametrize("args, error, message", [
    ((-1, 2), ValueError, "n must be >= 0"),
    ((10, 0), ValueError, "batch_size must be >= 1"),
    ((10, 2.5), TypeError, "batch_size must be an integer"),
    ((True, 2), TypeError, "n must be an integer"),
])
def test_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        data.batches(*args)
