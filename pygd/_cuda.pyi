"""pygd's CUDA kernels (csrc/cuda/module.cpp): the names the compiled module exports, where it is
built. The caller (pygd/_backends/cuda.py) has validated the arrays; a launch raises ValueError for
a call of the wrong structure and RuntimeError for anything CUDA reports."""

from collections.abc import Sequence
from typing import Optional, Union

hyperparameters: dict[str, tuple[str, ...]]  # each launch's hparams, by these names

def launch(optimizer: str, dtype: str, sizes: Sequence[int],
           streams: tuple[Optional[Sequence[int]], ...], step: Optional[int], step_ptr: int,
           hparams: Union[tuple[Union[float, bool], ...], dict[str, Union[float, bool]]],
           grad_scale_ptr: int, found_inf_ptr: int, stream: int, device: int,
           wait_for: Sequence[int]) -> None:
    """Enqueue one optimizer step over device arrays; the caller has validated them."""
def device_count() -> tuple[int, Optional[str]]:
    """(count, None), or (-1, why) where CUDA cannot be used here."""
def pointer_devices(addresses: Sequence[int]) -> list[int]:
    """The device holding each address, -1 where it is not device memory."""
def runtime_version() -> int:
    """The CUDA runtime version linked in (statically)."""
