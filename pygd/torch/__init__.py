"""Drop-in replacements for torch.optim's SGD, Adam, AdamW, RMSprop, Adagrad, Adamax and RAdam.

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

from ._optimizers import (  # noqa: E402
    SGD,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    RAdam,
    RMSprop,
    Routes,
    TorchFallbackWarning,
)

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "RAdam", "Routes", "TorchFallbackWarning"]
