"""Which params pygd.torch updates natively, and why the others go through torch's own code.

pygd.torch never refuses what torch.optim accepts (docs/architecture.md): a param the native kernels cannot
update (its dtype, device, layout, tensor subclass, grad or state) is stepped by torch.optim's own
implementation in the same step() (see _fallback.py). Each function here returns None where the native
kernels apply, else the reason, in words the user sees (the fallback warning and `pygd_routes`).

A plan checks a param when it is built (_plan.py); at each step the native gather re-checks what
the plan relied on (csrc/bindings/pointer_table.cpp) and the plan re-checks the grads it did not
vet natively (`grad_reason`).
"""

from __future__ import annotations

from typing import Any, Optional

import torch

# float16 and bfloat16 are stored narrow (params and states in the param's dtype, as torch's fused
# CPU kernels keep them) and updated in float32, on the CPU (csrc/cpu/sweeps.h's (A) layouts) as on
# CUDA.
CPU_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128, torch.float16, torch.bfloat16)
CUDA_DTYPES = CPU_DTYPES
# The dtype the kernel runs on: complex tensors are updated as their real view (as torch.optim does
# through torch.view_as_real), each complex element two real ones.
KERNEL_DTYPE = {torch.complex64: torch.float32, torch.complex128: torch.float64}
STEP_DTYPES = (torch.float32, torch.float64)
# Largest step count the kernels take exactly (their step is an int64 and its scalars doubles).
MAX_STEP = 2.0 ** 53


def name_of(index: int) -> str:
    return f"params[{index}]"


def kernel_dtype(dtype: torch.dtype) -> torch.dtype:
    return KERNEL_DTYPE.get(dtype, dtype)


def kernel_numel(tensor: torch.Tensor) -> int:
    """Elements the kernel updates: twice the numel of a complex tensor."""
    return tensor.numel() * (2 if tensor.is_complex() else 1)


def cuda_unavailable() -> Optional[str]:
    """Why pygd cannot update CUDA tensors here, or None when it can."""
    from .._backends import cuda
    count, why = cuda.device_count()
    return None if count > 0 else why


def is_plain(tensor: torch.Tensor) -> bool:
    """A torch.Tensor (or nn.Parameter) whose data_ptr() is its own memory: not a tensor subclass that
    dispatches on its own (DTensor, FakeTensor, functional wrappers)."""
    return type(tensor).__torch_dispatch__ is torch.Tensor.__torch_dispatch__


def param_reason(param: torch.Tensor) -> Optional[str]:
    """Why `param` is not updated natively, or None."""
    if not is_plain(param):
        return f"is a {type(param).__name__}, a tensor subclass pygd does not update natively"
    if param.layout is not torch.strided:
        return f"has layout {param.layout}"
    device = param.device.type
    if device == "cuda":
        why = cuda_unavailable()
        if why is not None:
            return f"is on {param.device}, but pygd's CUDA kernels cannot run here: {why}"
    elif device != "cpu":
        return f"is on {param.device}; pygd's kernels update CPU and CUDA tensors"
    if param.dtype not in (CUDA_DTYPES if device == "cuda" else CPU_DTYPES):
        return f"is {param.dtype}"
    if param.is_conj() or param.is_neg():
        return "is a lazily conjugated or negated view"
    if not is_dense(param):
        return (f"has gaps or overlaps in memory (strides {param.stride()} for shape "
                f"{tuple(param.shape)})")
    return None


def grad_reason(param: torch.Tensor, grad: torch.Tensor) -> Optional[str]:
    """Why the grad of a natively updated `param` cannot be read by the kernel (torch's own step then
    updates the param, raising torch's own error if torch cannot either), or None."""
    if not is_plain(grad):
        return f"has a grad of type {type(grad).__name__}"
    if grad.layout is not torch.strided:
        return f"has a {'sparse' if grad.is_sparse else str(grad.layout)} grad"
    if grad.dtype != param.dtype:
        return f"has a {grad.dtype} grad"
    if grad.shape != param.shape:
        return f"has a grad of shape {tuple(grad.shape)}"
    if grad.device != param.device:
        return f"has a grad on {grad.device}"
    if grad.is_conj() or grad.is_neg():
        return "has a lazily conjugated or negated grad"
    return None


def state_reason(param: torch.Tensor, state: dict[str, Any], name: str) -> Optional[str]:
    """Why state[name] (made by torch or loaded by load_state_dict) cannot be updated in place by the
    kernel for `param`, or None."""
    value = state.get(name)
    if not isinstance(value, torch.Tensor) or not is_plain(value):
        return f"has state {name!r} of type {type(value).__name__}"
    if value.dtype != param.dtype or value.shape != param.shape or value.device != param.device:
        return (f"has state {name!r} of {value.dtype} {tuple(value.shape)} on {value.device}, unlike "
                "the param")
    if value.is_conj() or value.is_neg() or not is_dense(value):
        return f"has state {name!r} that is not dense in memory"
    return None


def step_reason(param: torch.Tensor, step: object) -> Optional[str]:
    """Why a param's state["step"] cannot be the native kernel's count, or None. The kernels take a
    whole count below 2**53 on the param's device; torch's own step uses any value."""
    if not isinstance(step, torch.Tensor) or not is_plain(step):
        return f"has a step count of type {type(step).__name__}"
    if step.numel() != 1 or step.dtype not in STEP_DTYPES:
        return f"has a step tensor of {step.dtype} with {step.numel()} elements"
    # The CPU kernels read the count on the host; the CUDA kernels read a float32 on the device.
    if param.device.type == "cpu" and step.device.type != "cpu":
        return f"has its step tensor on {step.device}"
    if param.device.type != "cpu" and (step.device != param.device or step.dtype != torch.float32):
        return f"has a {step.dtype} step tensor on {step.device}, not float32 on the param's device"
    value = float(step)
    if not (0 <= value < MAX_STEP and value == int(value)):
        return f"has step count {value!r}, not a whole number in [0, 2**53)"
    return None


def is_dense(tensor: torch.Tensor) -> bool:
    """Whether the elements fill one block of memory, each once (contiguous in some order of the
    dimensions): an element-wise update may then run over that block as a flat array, and tensors
    with equal strides line up element by element."""
    if tensor.is_contiguous():
        return True
    expected = 1
    for stride, size in sorted((s, n) for s, n in zip(tensor.stride(), tensor.shape) if n != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def layout_of(tensor: torch.Tensor) -> Optional[tuple[int, ...]]:
    """What the native gather compares a tensor's layout with: None for row-major contiguous, else
    the strides."""
    return None if tensor.is_contiguous() else tuple(tensor.stride())


def same_layout(tensor: torch.Tensor, param: torch.Tensor) -> bool:
    """Whether `tensor` (a grad or state of the dense `param`, same shape) lines up with it element
    by element: equal strides, except along dimensions of size 1, where strides mean nothing."""
    return all(a == b for a, b, n in zip(tensor.stride(), param.stride(), param.shape) if n != 1)


def in_layout_of(param: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` itself if it lines up with `param`, else a copy of it that does."""
    if same_layout(tensor, param):
        return tensor
    return torch.empty_like(param, memory_format=torch.preserve_format).copy_(tensor)
