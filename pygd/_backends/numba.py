"""The Numba backend: pygd.numba's kernels, on the CPU for NumPy arrays, and on the GPU for arrays
in GPU memory (Numba device arrays, CuPy arrays, torch CUDA tensors, DLPack: read by cuda_arrays).

Each kernel's step (`steps`) takes the same arguments as its native kernel (see native.py): it checks
the arrays first and returns the problem tuple (see _validate) for an unfit one, else makes the
step's scalars once on the host (pygd.numba.scalars) and runs one compiled call over the whole
list: a parallel CPU loop, or one kernel launch, which returns before the GPU has finished.
Importing this module needs numba (the `numba` extra); numba.cuda is imported at the first GPU call.
"""

import math

import numpy as np

from .. import _validate
from .._constants import NormKind
from .._specs import KERNELS
from ..numba import cpu_loops, gradients, scalars, tables, trust_loops
from . import cuda_arrays

name = "numba"

# The dtypes the Numba kernels take on a GPU (the CUDA backend's take float16 and bfloat16 too).
_GPU_DTYPES = ("float32", "float64")


def _is_gpu_call(streams):
    return cuda_arrays.is_gpu_call(streams[0])


def _run(optimizer, streams, make_scalars):
    """Check, then update every tensor of `streams`; make_scalars(dtype) gives the step's scalars.
    A present stream is passed as True, an absent one as None: the compiled code differs."""
    if _is_gpu_call(streams):
        return _run_on_gpu(optimizer, streams, make_scalars)
    problem, call = _validate.check_arrays(optimizer, streams)
    if problem is not None:
        return problem
    assert call is not None  # no problem, so a call
    if not call.sizes:
        return None
    table = tables.build(call.sizes, call.addresses, cpu_loops.CHUNK)
    dtype = np.dtype(call.dtype).type
    presence = tuple(None if s is None else True for s in streams)
    cpu_loops.run(presence, table, dtype, make_scalars(dtype))
    return None


def _run_on_gpu(optimizer, streams, make_scalars):
    # Numba launches on the legacy default stream (0), after the work of the arrays' own streams.
    problem, call = cuda_arrays.read(optimizer, streams, _GPU_DTYPES, stream=0)
    if problem is not None:
        return problem
    assert call is not None  # no problem, so a call
    # numba.cuda only loads (and finds the driver) for GPU calls
    from ..numba import cuda_kernels

    table = tables.build(call.sizes, call.addresses, cuda_kernels.CHUNK)
    dtype = np.dtype(call.dtype).type
    presence = tuple(None if s is None else True for s in streams)
    cuda_kernels.launch(presence, table, dtype, make_scalars(dtype), call.wait_for)
    return None


def check(optimizer, streams):
    """The array checks of `optimizer`'s call alone: None, or the problem tuple."""
    if _is_gpu_call(streams):
        return cuda_arrays.read(optimizer, streams, _GPU_DTYPES, stream=0)[0]
    return _validate.check_streams(optimizer, streams)


def _step(kernel):
    """The step of `kernel`: its scalars (pygd.numba.scalars.<kernel>_scalars, the hyperparameters by
    name, the step count where the kernel takes one) made once, then one compiled call."""
    make, takes_step = getattr(scalars, f"{kernel}_scalars"), KERNELS[kernel].takes_step

    def step(streams, step, hparams):
        named = KERNELS[kernel].named(hparams)
        if takes_step:
            return _run(kernel, streams, lambda dtype: make(dtype, step, **named))
        return _run(kernel, streams, lambda dtype: make(dtype, **named))
    step.__name__ = kernel
    return step


def _trust_step(kernel):
    """The step of a trust-ratio kernel (LAMB, LARS): checked, then trust_loops' two passes over each
    tensor on the CPU; arrays on a GPU are refused."""
    make, takes_step = getattr(scalars, f"{kernel}_scalars"), KERNELS[kernel].takes_step
    tensor_step = trust_loops.TENSOR_STEPS[kernel]

    def step(streams, step, hparams):
        if _is_gpu_call(streams):
            raise NotImplementedError(f"backend='numba' runs {kernel} on the CPU only (its per-tensor trust "
                                      "ratio has no GPU kernel yet)")
        problem = _validate.check_streams(kernel, streams)
        if problem is not None:
            return problem
        lists = [None if s is None else _validate._as_list(s) for s in streams]
        if not lists[0]:
            return None
        dtype = np.dtype(lists[0][0].dtype).type
        named = KERNELS[kernel].named(hparams)
        s = make(dtype, step, **named) if takes_step else make(dtype, **named)
        for j, param in enumerate(lists[0]):
            flat = [param.reshape(-1) if arrays is None else arrays[j].reshape(-1) for arrays in lists]
            tensor_step(*flat, s)
        return None
    step.__name__ = kernel
    return step


def _refused_step(kernel):
    """The step of a factored kernel (Adafactor: per-matrix row and column sums before the
    update), which pygd.numba does not implement: it refuses by name, before reading anything."""
    def step(streams, step, hparams):
        raise NotImplementedError(f"backend='numba' has no {kernel} kernel yet (its factored second moment "
                                  "needs per-row and per-column sums before the update); use backend='native' "
                                  "or 'reference'")
    step.__name__ = kernel
    return step


def _step_of(kernel, spec):
    if spec.factored:
        return _refused_step(kernel)
    return _trust_step(kernel) if spec.trust_ratio else _step(kernel)


# Each kernel's step, by kernel name (the backends' common interface, see _backends/__init__.py).
steps = {kernel: _step_of(kernel, spec) for kernel, spec in KERNELS.items()}


# ----------------------------------------------------------------------------- gradient tools
# Same arguments and results as the native ones (csrc/bindings/gradients.cpp), on the CPU.

def _cpu_arrays(name, streams):
    """The checked arrays of each stream, or the problem tuple; device arrays are refused."""
    if _is_gpu_call(streams):
        raise ValueError("backend='numba' runs the gradient tools on the CPU only; use the "
                         "arrays' own library (e.g. torch.nn.utils) for GPU arrays")
    problem = _validate.check_streams(name, streams)
    if problem is not None:
        return problem, None
    return None, [None if s is None else _validate._as_list(s) for s in streams]


def grad_norm(streams, kind, p, writable):
    problem, lists = _cpu_arrays("clip" if writable else "norm", streams)
    if problem is not None:
        return problem
    (grads,) = lists
    if kind == NormKind.INF:
        total = 0.0
        for g in grads:
            largest = gradients.largest_magnitude(g)
            total = largest if math.isnan(largest) or largest > total else total
        return total
    return math.fsum(x for g in grads for x in gradients.block_sums(g, int(kind), p))


def _rewrite_grads(streams, rewrite_, value):
    """rewrite_(grad, value) on each checked grad, in place: scaling and clamping."""
    problem, lists = _cpu_arrays("clip", streams)
    if problem is not None:
        return problem
    for g in lists[0]:
        rewrite_(g, value)


def grad_scale(streams, scale):
    return _rewrite_grads(streams, gradients.scale_, scale)


def grad_clamp(streams, clip):
    return _rewrite_grads(streams, gradients.clamp_, clip)


def grad_accumulate(streams, scale, overwrite):
    problem, lists = _cpu_arrays("accumulate", streams)
    if problem is not None:
        return problem
    for total, grad in zip(*lists):
        gradients.accumulate_(total, grad, scale, overwrite)
