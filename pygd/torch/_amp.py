"""GradScaler's side of a step: the `grad_scale` and `found_inf` tensors it sets on optimizers
whose `_step_supports_amp_scaling` is true (torch.amp.GradScaler.step), as torch's fused optimizers
receive them. CPU calls read them as host numbers; CUDA calls pass their device addresses to the
kernel, so nothing is read back to the host."""

from __future__ import annotations

from typing import Any, Optional

import torch


class AmpScalars:
    """An optimizer's GradScaler tensors for one step (each None where GradScaler set none)."""

    __slots__ = ("grad_scale", "found_inf", "_on_device")

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.grad_scale: Optional[torch.Tensor] = getattr(optimizer, "grad_scale", None)  # None: grads are not scaled
        self.found_inf: Optional[torch.Tensor] = getattr(optimizer, "found_inf", None)    # None: no inf check was made
        self._on_device: dict[Any, tuple[Optional[torch.Tensor], Optional[torch.Tensor]]] = {}

    @property
    def unscaling(self) -> bool:
        return self.grad_scale is not None

    def host_grad_scale(self) -> float:
        return 1.0 if self.grad_scale is None else float(self.grad_scale)

    def host_found_inf(self) -> bool:
        return self.found_inf is not None and float(self.found_inf) != 0.0

    def on(self, device: torch.device) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """(grad_scale, found_inf) as float32 tensors on `device`, each None where not given."""
        pair = self._on_device.get(device)
        if pair is None:
            grad_scale, found_inf = (None if t is None else t.to(device=device, dtype=torch.float32)
                                     for t in (self.grad_scale, self.found_inf))
            pair = (grad_scale, found_inf)
            self._on_device[device] = pair
        return pair

