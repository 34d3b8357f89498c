"""The optimizer table of the pygd.torch soundness and totality tests: torch.optim's classes that
pygd.torch replaces, each with options that switch on its state tensors and decay (from the one
table, cases.OPTIMIZERS)."""

from cases import TORCH_NAMES as NAMES
from cases import TORCH_OPTIONS as HEAVY

__all__ = ["NAMES", "HEAVY"]
