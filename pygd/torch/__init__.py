"""Drop-in replacements for every torch.optim optimizer: SGD, Adam, AdamW, RMSprop, Adagrad, Adamax,
RAdam, Adadelta, Rprop, NAdam and ASGD run pygd's kernels, Adafactor its factored kernel
(_adafactor.py); LBFGS, SparseAdam and Muon (torch's implementation by design) run torch's own step
(_torch_steps.py).

Change one import::

    from pygd.torch import AdamW        # was: from torch.optim import AdamW

and the optimizer step runs pygd's fused multi-tensor kernel on the tensors' own memory, with the
numerics of torch.optim (docs/update-rules.md). Each class subclasses the torch.optim class of the same name,
takes exactly its arguments, and keeps torch's state and state_dict format, so schedulers, GradScaler,
clip_grad_norm_, DistributedDataParallel, ZeroRedundancyOptimizer and checkpoints work unchanged.
Needs torch (the `torch` extra: `pip install torch==2.13.0`).
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("pygd.torch needs PyTorch: pip install torch") from exc

from .._backends import native_error as _native_error

if _native_error is not None:  # pragma: no cover - exercised only where the build failed
    raise ImportError(f"pygd.torch needs pygd's native extension, which is not available here "
                      f"({_native_error}); reinstall pygd where a C++ compiler is found")

from ._adafactor import Adafactor  # noqa: E402
from ._optimizers import (  # noqa: E402
    ASGD,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    RAdam,
    RMSprop,
    Routes,
    Rprop,
    TorchFallbackWarning,
)
from ._torch_steps import LBFGS, Muon, SparseAdam  # noqa: E402

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "RAdam", "Adadelta", "Rprop",
           "NAdam", "ASGD", "Adafactor", "LBFGS", "SparseAdam", "Muon", "Routes", "TorchFallbackWarning"]
