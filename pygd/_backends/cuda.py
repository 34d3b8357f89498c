"""The CUDA backend: pygd._cuda, the CUDA kernels (csrc/cuda/), for arrays on a GPU.

pygd.functional sends a call here (backend="auto") when its params are on a GPU: arrays exposing
__cuda_array_interface__ (CuPy, Numba device arrays, torch CUDA tensors: pass `p.detach()`) or DLPack
on a CUDA device. The optimizer functions take the same arguments as the other backends'; each checks
the arrays (cuda_arrays.read: same problem tuples, so the same errors, as NumPy arrays get), then
enqueues the whole list (one kernel launch per table of tensors) on the stream the params' producer
orders its work on, and returns without waiting for the GPU.

`launch` is the pointer-level entry for callers that have validated their tensors themselves
(pygd.torch): device addresses in, no checks beyond the call's structure.

Importing this module never fails, nor needs pygd._cuda, which is imported at the first GPU call or
info(): without it (not built, or not loadable) a call raises RuntimeError, after its arrays were
checked, saying why.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, Optional, Union

from .. import _validate
from .._specs import KERNELS
from .._validate import Problem
from . import cuda_arrays

name = "cuda"


@functools.cache
def _load() -> Union[tuple[ModuleType, None], tuple[None, str]]:
    """(pygd._cuda, None), or (None, why it cannot be imported); imported on first use."""
    try:
        from .. import _cuda
    except ImportError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return _cuda, None


def built() -> bool:
    """Whether pygd._cuda imports here (it does without a GPU: the CUDA runtime is linked in)."""
    return _load()[0] is not None


def device_count() -> tuple[int, Optional[str]]:
    """(devices usable here, None), or (0, why not): never raises."""
    module, error = _load()
    if module is None:
        return 0, f"pygd._cuda is not available ({error})"
    count: int
    why: Optional[str]
    count, why = module.device_count()
    if count < 0:
        return 0, why
    return count, None if count else "no CUDA device"


def _module() -> ModuleType:
    module, error = _load()
    if module is None:
        raise RuntimeError(f"arrays on a GPU need pygd._cuda, which is not available here ({error}); "
                           "build pygd where nvcc is found (PYGD_CUDA=1), or pass backend='numba'")
    return module


def _device(call: cuda_arrays.DeviceCall, streams: tuple[Any, ...], optimizer: str) -> int:
    """The one device holding every array of the call; ValueError naming the first that differs."""
    devices = call.devices
    unknown = [i for i, d in enumerate(devices) if d is None]
    if unknown:  # arrays known only by address (__cuda_array_interface__ alone): the runtime knows
        found = _module().pointer_devices([_flat_addresses(call)[i] for i in unknown])
        devices = list(devices)
        for i, d in zip(unknown, found):
            devices[i] = d
    labels = _flat_labels(streams, optimizer)
    for label, d in zip(labels, devices):
        if d < 0:
            raise TypeError(f"{label} is not in GPU memory; one call updates the arrays of one device")
        if d != devices[0]:
            raise ValueError(f"{label} is on cuda:{d} but {labels[0]} is on cuda:{devices[0]}; "
                             "one call updates the arrays of one device")
    first: int = devices[0]
    return first


def _flat_addresses(call: cuda_arrays.DeviceCall) -> list[int]:
    return [a for row in call.addresses if row is not None for a in row]


def _flat_labels(streams: tuple[Any, ...], optimizer: str) -> list[str]:
    labels: list[str] = []
    for k, stream in enumerate(streams):
        if stream is None:
            continue
        stream_name = _validate.STREAMS[optimizer][k]
        if isinstance(stream, (list, tuple)):
            labels += [f"{stream_name}[{i}]" for i in range(len(stream))]
        else:
            labels.append(stream_name)
    return labels


def _arrays(streams: tuple[Any, ...]) -> Iterator[Any]:
    for s in streams:
        if s is not None:
            yield from s if isinstance(s, (list, tuple)) else (s,)


def _has_dlpack_only(streams: tuple[Any, ...]) -> bool:
    return any(not hasattr(a, "__cuda_array_interface__") for a in _arrays(streams))


def _described(streams: tuple[Any, ...]) -> tuple[Any, ...]:
    """`streams` with every DLPack-only array replaced by a cuda_arrays.Described, so that
    _validate.buffer_error can quote its dtype and shape."""
    def one(a: Any) -> Any:
        if hasattr(a, "__cuda_array_interface__"):
            return a
        v = cuda_arrays.view(a, 0, [])
        return a if v is None else cuda_arrays.Described(v)
    return tuple(s if s is None else [one(a) for a in s] if isinstance(s, (list, tuple)) else one(s)
                 for s in streams)


# Problems whose message quotes an array's dtype or shape, read through __cuda_array_interface__.
_QUOTING = (cuda_arrays.Problem.DTYPE, cuda_arrays.Problem.DTYPE_MISMATCH, cuda_arrays.Problem.SHAPE)


def _refuse_trust_ratio(optimizer: str) -> None:
    """The trust-ratio optimizers (LAMB, LARS: a per-tensor reduction, then the update) have no
    CUDA kernels yet; pygd._cuda refuses them too."""
    if KERNELS[optimizer].trust_ratio:
        raise NotImplementedError(f"pygd has no CUDA kernel for {optimizer} yet (its per-tensor trust ratio "
                                  "needs a reduction before the update); run it on the CPU")


def _run(optimizer: str, streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    params = streams[0]
    if not cuda_arrays.is_gpu_call(params) and (not isinstance(params, (list, tuple)) or params):
        raise ValueError("backend='cuda' updates arrays on a GPU (CuPy or Numba device arrays, torch "
                         "CUDA tensors, DLPack); these params are in host memory: use "
                         "backend='auto' or 'native'")
    if KERNELS[optimizer].factored:  # its streams differ in shape: cuda_arrays cannot even check them
        raise NotImplementedError(f"pygd has no CUDA kernel for {optimizer} yet (its factored second moment "
                                  "needs per-row and per-column sums before the update); run it on the CPU")
    problem, call = cuda_arrays.read(optimizer, streams)
    if problem is not None:
        if problem[0] in _QUOTING and _has_dlpack_only(streams):  # worded here, where it can be
            raise _validate.buffer_error(problem, optimizer, _described(streams))
        return problem
    assert call is not None  # no problem, so a call
    _refuse_trust_ratio(optimizer)  # after the checks, so that bad arrays are worded as for every kernel
    if not any(call.sizes):
        return None
    device = _device(call, streams, optimizer)
    _module().launch(optimizer, call.dtype, call.sizes, tuple(call.addresses), step, 0, hparams, 0, 0,
                     call.stream, device, call.wait_for)
    return None


def check(optimizer: str, streams: tuple[Any, ...]) -> Optional[Problem]:
    """The array checks of `optimizer`'s call alone: None, or the problem tuple."""
    return cuda_arrays.read(optimizer, streams)[0]


# Each kernel's step, by kernel name (the backends' common interface, see _backends/__init__.py).
steps = {kernel: functools.partial(_run, kernel) for kernel in KERNELS}


def launch(optimizer: str, dtype: str, sizes: Sequence[int],
           streams: Sequence[Optional[Sequence[int]]], step: Optional[int], step_ptr: int,
           hparams: Union[tuple[Union[float, bool], ...], dict[str, Union[float, bool]]],
           grad_scale_ptr: int, found_inf_ptr: int, stream: int, device: int) -> None:
    """Enqueue one step of `optimizer` (a kernel of _specs.KERNELS; AdamW is "adam" with hparams'
    decoupled=True) over tensors the caller has validated, on `stream` of `device`; returns at once.

    dtype: "float32", "float64", "float16" or "bfloat16" (updated in float32 arithmetic);
    sizes: elements per tensor; streams: a tuple with, per stream of the optimizer in the order of
    _validate.STREAMS, a list of device addresses aligned with sizes, or None for an absent optional
    stream; hparams: the optimizer's hyperparameters, a tuple from _specs.OptimizerSpec.pack or a
    dict by name (the module reads either by the names of the kernel's Config fields).
    step: the step count (int), or None with step_ptr, the address of a float32 step count on the
    device (torch's step tensor), from which the kernel makes the step's scalars: nothing is read
    back to the host. grad_scale_ptr / found_inf_ptr (float32 on the device, or 0): GradScaler's
    scale, by which grads are divided (and stored back unscaled), and its flag: the kernel leaves
    every array unchanged when *found_inf != 0. stream: a cudaStream_t as an int, 0 for the legacy
    default stream. RuntimeError for a CUDA error, ValueError for a malformed call.
    """
    if optimizer in KERNELS:
        _refuse_trust_ratio(optimizer)
    _module().launch(optimizer, dtype, list(sizes), tuple(streams), step, step_ptr, hparams,
                     grad_scale_ptr, found_inf_ptr, stream, device, [])
