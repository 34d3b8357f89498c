"""In-place optimizer steps over one NumPy array or a list of arrays (multi-tensor).

Each function validates its hyperparameters, then hands the whole list to the chosen backend in one
call, which checks the arrays before writing anything (an unfit one comes back as a problem that
_validate words as the exception): with the native backend, that is one GIL release and one
multi-threaded pass over every tensor. Arrays are updated in place and the functions return None.
The update rules are those of torch.optim (docs/update-rules.md). An array argument is an ndarray
or a list/tuple of ndarrays aligned with `params`; float32 or float64, C-contiguous, and writable
unless it is a grad. With backend="auto", params on a GPU (CuPy, Numba, torch CUDA tensors,
DLPack) are updated there by the CUDA backend.
"""

from . import _backends, _validate
from ._specs import SPECS

_pack_sgd = SPECS["sgd"].pack
_pack_adam = SPECS["adam"].pack
_pack_rmsprop = SPECS["rmsprop"].pack
_pack_adagrad = SPECS["adagrad"].pack

__all__ = ["sgd_", "adam_", "adamw_", "rmsprop_", "adagrad_"]


def sgd_(params, grads, momentum_buffers=None, *, step, lr=1e-3, momentum=0.0, dampening=0.0,
         nesterov=False, weight_decay=0.0, maximize=False, backend="auto"):
    """SGD, with optional momentum, dampening, Nesterov momentum and (coupled) weight decay.

    `momentum_buffers` is required when momentum != 0; at step 1 it is overwritten with the
    gradient (no dampening on the first step, as torch.optim.SGD), so its initial content is unused.
    """
    step, lr, momentum, dampening, nesterov, weight_decay, momentum_buffers = _validate.sgd(
        step, lr, momentum, dampening, nesterov, weight_decay, momentum_buffers)
    streams = (params, grads, momentum_buffers)
    chosen = _backends.for_call(backend, params)
    problem = chosen.sgd(streams, step, _pack_sgd(
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
        maximize=bool(maximize)))
    if problem is not None:
        raise _validate.buffer_error(problem, "sgd", streams)


def adam_(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
          weight_decay=0.0, amsgrad=False, max_exp_avg_sqs=None, maximize=False, backend="auto"):
    """Adam, with coupled (L2) weight decay and optional AMSGrad.

    States start as zeros; `max_exp_avg_sqs` is required when amsgrad=True.
    """
    _adam(params, grads, exp_avgs, exp_avg_sqs, step, lr, betas, eps, weight_decay, amsgrad,
          max_exp_avg_sqs, maximize, backend, False)


def adamw_(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
           weight_decay=1e-2, amsgrad=False, max_exp_avg_sqs=None, maximize=False, backend="auto"):
    """AdamW: Adam with decoupled weight decay, param *= 1 - lr * weight_decay before the update."""
    _adam(params, grads, exp_avgs, exp_avg_sqs, step, lr, betas, eps, weight_decay, amsgrad,
          max_exp_avg_sqs, maximize, backend, True)


def _adam(params, grads, exp_avgs, exp_avg_sqs, step, lr, betas, eps, weight_decay, amsgrad,
          max_exp_avg_sqs, maximize, backend, decoupled):
    step, lr, beta1, beta2, eps, weight_decay, amsgrad, max_exp_avg_sqs = _validate.adam(
        step, lr, betas, eps, weight_decay, amsgrad, max_exp_avg_sqs)
    streams = (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)
    chosen = _backends.for_call(backend, params)
    problem = chosen.adam(streams, step, _pack_adam(
        lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
        maximize=bool(maximize), decoupled=decoupled))
    if problem is not None:
        raise _validate.buffer_error(problem, "adam", streams)


def rmsprop_(params, grads, square_avgs, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
             momentum=0.0, centered=False, momentum_buffers=None, grad_avgs=None, maximize=False,
             backend="auto"):
    """RMSprop, optionally centered and with momentum.

    `momentum_buffers` is required when momentum > 0, `grad_avgs` when centered=True; all states
    start as zeros.
    """
    lr, alpha, eps, weight_decay, momentum, centered, momentum_buffers, grad_avgs = _validate.rmsprop(
        lr, alpha, eps, weight_decay, momentum, centered, momentum_buffers, grad_avgs)
    streams = (params, grads, square_avgs, momentum_buffers, grad_avgs)
    chosen = _backends.for_call(backend, params)
    problem = chosen.rmsprop(streams, 1, _pack_rmsprop(
        lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
        centered=centered, maximize=bool(maximize)))
    if problem is not None:
        raise _validate.buffer_error(problem, "rmsprop", streams)


def adagrad_(params, grads, state_sums, *, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
             eps=1e-10, maximize=False, backend="auto"):
    """Adagrad with learning-rate decay lr / (1 + (step - 1) * lr_decay).

    `state_sums` starts at the initial accumulator value (torch's default: zeros).
    """
    step, lr, lr_decay, weight_decay, eps = _validate.adagrad(step, lr, lr_decay, weight_decay, eps)
    streams = (params, grads, state_sums)
    chosen = _backends.for_call(backend, params)
    problem = chosen.adagrad(streams, step, _pack_adagrad(
        lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=bool(maximize)))
    if problem is not None:
        raise _validate.buffer_error(problem, "adagrad", streams)
