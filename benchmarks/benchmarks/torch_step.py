"""pygd.torch's optimizer.step() on torch tensors, beside torch.optim's fused step on the same
workloads (common.py's sizes, fp32), and the speedup over it measured interleaved. Skipped where
torch is not installed or the pygd measured has no pygd.torch.

torch-fused does not change with pygd's commits: its row tells whether the machine did.
"""

import importlib
import itertools

import numpy as np

from .common import OPTIMIZERS, SIZES, WARMUP_CALLS_PER_SET, buffer_sets, median_ns

# The torch.optim class of each of common.py's optimizers timed here, whose hyperparameters the
# class takes as they are. (torch has no fused RMSprop, so it is left out.)
TORCH_CLASSES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "adagrad": "Adagrad"}
IMPLEMENTATIONS = ("pygd.torch", "torch-fused")
DTYPE = "float32"


def _module(name):
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise NotImplementedError(f"{name} does not import: {error}") from None


class TorchStep:
    """step() of one implementation, with its grads set once; tensors that fit the cache cycle
    through copies covering twice the last-level cache, as common.Workload does."""

    def __init__(self, optimizer, size, implementation):
        torch = _module("torch")
        if implementation == "pygd.torch":
            cls, options = getattr(_module("pygd.torch"), TORCH_CLASSES[optimizer]), {}
        else:
            cls, options = getattr(torch.optim, TORCH_CLASSES[optimizer]), {"fused": True}
        _, states, _, hparams = OPTIMIZERS[optimizer]
        shapes = SIZES[size]
        sets = buffer_sets((2 + states) * np.dtype(DTYPE).itemsize * sum(shapes))
        rng = np.random.default_rng(0)
        steps = []
        for _ in range(sets):
            params = [torch.from_numpy(rng.standard_normal(n, dtype=DTYPE)).requires_grad_()
                      for n in shapes]
            for param in params:
                param.grad = torch.from_numpy(rng.standard_normal(param.numel(), dtype=DTYPE))
            steps.append(cls(params, **hparams, **options).step)
        turn = itertools.cycle(steps)
        self.step = lambda: next(turn)()
        for _ in range(WARMUP_CALLS_PER_SET * sets):  # fills the states before anything is timed
            self.step()


class Step:
    params = (list(TORCH_CLASSES), list(SIZES), list(IMPLEMENTATIONS))
    param_names = ("optimizer", "size", "implementation")
    timeout = 120

    def setup(self, optimizer, size, implementation):
        self.workload = TorchStep(optimizer, size, implementation)

    def time_step(self, optimizer, size, implementation):
        self.workload.step()


class SpeedupOverFused:
    """torch fused's step time / pygd.torch's, timed interleaved so both see the same noise."""
    params = (list(TORCH_CLASSES), list(SIZES))
    param_names = ("optimizer", "size")
    timeout = 180
    rounds = 15  # steps timed per contender; the medians are divided

    def setup(self, optimizer, size):
        self.subject = TorchStep(optimizer, size, "pygd.torch")
        self.baseline = TorchStep(optimizer, size, "torch-fused")

    def track_speedup_vs_torch_fused(self, optimizer, size):
        subject_ns, baseline_ns = median_ns([self.subject.step, self.baseline.step], self.rounds)
        return baseline_ns / subject_ns

    track_speedup_vs_torch_fused.unit = "x"
