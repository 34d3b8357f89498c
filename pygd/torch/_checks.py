"""Every check pygd.torch makes on tensors, and the message the user sees for each.

Params are checked when they join the optimizer (construction, add_param_group) and again when a
group's plan is rebuilt; grads at each step, through a cheap test on the fast path (see _plan.py)
and through `check_grad` below when that test fails. All of a step's checks run before its first
kernel call, so a rejected step leaves every tensor as it was.
"""

import torch

SUPPORTED_DTYPES = (torch.float32, torch.float64)


def name_of(index):
    return f"params[{index}]"


CUDA_DTYPES = SUPPORTED_DTYPES + (torch.float16, torch.bfloat16)  # low precision: fp32 math


def cuda_unavailable():
    """Why pygd cannot update CUDA tensors here, or None when it can."""
    from .._backends import cuda
    count, why = cuda.device_count()
    return None if count > 0 else why


def check_param(param, index):
    """TypeError/ValueError/NotImplementedError for a param pygd.torch cannot update."""
    if not isinstance(param, torch.Tensor):
        raise TypeError(f"{name_of(index)} must be a torch.Tensor, got {type(param).__name__}")
    if param.layout is not torch.strided:
        raise TypeError(f"{name_of(index)} has layout {param.layout}; pygd.torch updates dense "
                        "(strided) tensors only")
    on_cuda = param.device.type == "cuda"
    if param.device.type not in ("cpu", "cuda"):
        raise NotImplementedError(f"{name_of(index)} is on {param.device}; pygd.torch updates CPU "
                                  "and CUDA tensors")
    if on_cuda:
        why = cuda_unavailable()
        if why is not None:
            raise NotImplementedError(
                f"{name_of(index)} is on {param.device}, but pygd's CUDA kernels cannot run here: "
                f"{why}. Build pygd where nvcc is found (PYGD_CUDA=1), or use torch.optim "
                "(fused=True) for GPU params.")
    if param.dtype not in (CUDA_DTYPES if on_cuda else SUPPORTED_DTYPES):
        what = ("pygd has no float16/bfloat16 CPU kernels yet (on CUDA it has)"
                if param.dtype in (torch.float16, torch.bfloat16) else
                "pygd updates floating-point params only")
        raise TypeError(f"{name_of(index)} is {param.dtype}; pygd.torch supports torch.float32 and "
                        f"torch.float64 CPU params: {what}. Use torch.optim for this param.")
    if not is_dense(param):
        raise ValueError(f"{name_of(index)} has gaps or overlaps in memory (strides {param.stride()} "
                         f"for shape {tuple(param.shape)}); pygd.torch needs params whose elements "
                         "fill their memory once each (contiguous in some order: row-major, "
                         "transposed, channels_last)")


def is_dense(tensor):
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


def same_layout(tensor, param):
    """Whether `tensor` (a grad or state of the dense `param`, same shape) lines up with it element
    by element: equal strides, except along dimensions of size 1, where strides mean nothing."""
    return all(a == b for a, b, n in zip(tensor.stride(), param.stride(), param.shape) if n != 1)


def in_layout_of(param, tensor):
    """`tensor` itself if it lines up with `param`, else a copy of it that does."""
    if same_layout(tensor, param):
        return tensor
    return torch.empty_like(param, memory_format=torch.preserve_format).copy_(tensor)


def check_grad(param, grad, index):
    """The error for a grad that failed the fast path's test, or None if it is usable as it is or
    after a copy in the param's layout (in_layout_of)."""
    where = f"{name_of(index)}.grad"
    if grad.is_sparse or grad.layout is not torch.strided:
        return TypeError(f"{where} is a sparse tensor ({grad.layout}); pygd.torch has no sparse "
                         "update (use torch.optim.SparseAdam, or a dense embedding)")
    if grad.dtype != param.dtype:
        return TypeError(f"{where} is {grad.dtype} but the param is {param.dtype}")
    if grad.shape != param.shape:
        return ValueError(f"{where} has shape {tuple(grad.shape)} but the param has shape "
                          f"{tuple(param.shape)}")
    if grad.device != param.device:
        return ValueError(f"{where} is on {grad.device} but the param is on {param.device}")
    return None


def check_state(param, state, name, index):
    """A state tensor (made here, or loaded by load_state_dict) usable in place: the param's dtype,
    shape and device. Returns it in the param's layout (a copy only if it was not)."""
    value = state.get(name)
    where = f"state of {name_of(index)}: {name!r}"
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{where} is missing or not a tensor (got {type(value).__name__})")
    if value.dtype != param.dtype or value.shape != param.shape or value.device != param.device:
        raise ValueError(f"{where} is {value.dtype} {tuple(value.shape)} on {value.device}, but the "
                         f"param is {param.dtype} {tuple(param.shape)} on {param.device}")
    return in_layout_of(param, value)
