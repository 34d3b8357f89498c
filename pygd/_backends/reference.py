"""The NumPy reference: docs/update-rules.md written plainly, one tensor at a time, in the arrays' dtype.

Readable rather than fast. It is `backend="reference"`, and the fallback when the native extension
is not built. Each function takes the same arguments as its native kernel (see native.py) and, like
it, checks the arrays first and returns the problem tuple (see _validate) instead of updating them
when one is unfit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, Optional, Union

import numpy as np

from .. import _validate
from .._constants import NormKind
from .._specs import KERNELS
from .._state_scalars import nadam_momentum
from .._validate import Problem

name = "reference"


def _tensors(streams: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """One tuple per tensor (None for an absent stream); only after check_streams passed."""
    lists: list[Any] = [None if s is None else _validate._as_list(s) for s in streams]
    count = len(lists[0])
    return zip(*[[None] * count if arrays is None else arrays for arrays in lists])


def _hyperparameters(kernel: str, hparams: tuple[Any, ...]) -> Any:
    """The tuple a kernel takes (_specs.OptimizerSpec.pack), by name: h.lr, h.momentum, ..."""
    return SimpleNamespace(**KERNELS[kernel].named(hparams))


def _lerp_(start: Any, end: Any, weight: float) -> None:
    """start <- torch.lerp(start, end, weight), which is exact at both ends (weight 0 and 1)."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


def _adam_moments(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, h: Any) -> Any:
    """The Adam family's shared first lines (Adam, RAdam, NAdam; adam_moments.h in C++): the
    sign, the weight decay (L2 into the grad, or decoupled from the param, in place) and both
    moments, in place. Returns the grad the update uses."""
    g = -grad if h.maximize else grad
    if h.weight_decay != 0:
        if h.decoupled:
            param *= 1 - h.lr * h.weight_decay
        else:
            g = g + h.weight_decay * param
    _lerp_(exp_avg, g, 1 - h.beta1)
    exp_avg_sq *= h.beta2
    exp_avg_sq += (1 - h.beta2) * g * g
    return g


def sgd(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("sgd", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("sgd", hparams)
    lr, momentum, dampening, weight_decay = h.lr, h.momentum, h.dampening, h.weight_decay
    nesterov, maximize = h.nesterov, h.maximize
    with np.errstate(all="ignore"):
        for param, grad, buf in _tensors(streams):
            g = -grad if maximize else grad
            if weight_decay != 0:
                g = g + weight_decay * param
            if momentum != 0:
                if step == 1:
                    buf[...] = g
                else:
                    buf *= momentum
                    buf += (1 - dampening) * g
                g = g + momentum * buf if nesterov else buf
            param -= lr * g
    return None


def adam(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("adam", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("adam", hparams)
    lr, beta1, beta2, eps, amsgrad = h.lr, h.beta1, h.beta2, h.eps, h.amsgrad
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
    step_size = lr / bias_correction1
    with np.errstate(all="ignore"):
        for param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq in _tensors(streams):
            _adam_moments(param, grad, exp_avg, exp_avg_sq, h)
            second_moment = exp_avg_sq
            if amsgrad:
                np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
                second_moment = max_exp_avg_sq
            denom = np.sqrt(second_moment) / bias_correction2_sqrt + eps
            param -= step_size * exp_avg / denom
    return None


# The update does not use the step.
def rmsprop(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("rmsprop", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("rmsprop", hparams)
    lr, alpha, eps, weight_decay, momentum = h.lr, h.alpha, h.eps, h.weight_decay, h.momentum
    centered, maximize = h.centered, h.maximize
    with np.errstate(all="ignore"):
        for param, grad, square_avg, buf, grad_avg in _tensors(streams):
            g = -grad if maximize else grad
            if weight_decay != 0:
                g = g + weight_decay * param
            square_avg *= alpha
            square_avg += (1 - alpha) * g * g
            if centered:
                _lerp_(grad_avg, g, 1 - alpha)
                avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
            else:
                avg = np.sqrt(square_avg) + eps
            if momentum > 0:
                buf *= momentum
                buf += g / avg
                param -= lr * buf
            else:
                param -= lr * g / avg
    return None


def adagrad(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("adagrad", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("adagrad", hparams)
    lr, lr_decay, weight_decay, eps, maximize = h.lr, h.lr_decay, h.weight_decay, h.eps, h.maximize
    clr = lr / (1 + (step - 1) * lr_decay)
    with np.errstate(all="ignore"):
        for param, grad, state_sum in _tensors(streams):
            g = -grad if maximize else grad
            if weight_decay != 0:
                g = g + weight_decay * param
            state_sum += g * g
            param -= clr * g / (np.sqrt(state_sum) + eps)
    return None


def adamax(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("adamax", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("adamax", hparams)
    lr, beta1, beta2, eps, weight_decay, maximize = h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.maximize
    clr = lr / (1 - beta1 ** step)
    with np.errstate(all="ignore"):
        for param, grad, exp_avg, exp_inf in _tensors(streams):
            g = -grad if maximize else grad
            if weight_decay != 0:
                g = g + weight_decay * param
            _lerp_(exp_avg, g, 1 - beta1)
            exp_inf *= beta2
            np.maximum(exp_inf, np.abs(g) + eps, out=exp_inf)  # NaN-propagating, as torch.maximum
            param -= clr * exp_avg / exp_inf
    return None


def radam(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("radam", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("radam", hparams)
    lr, beta1, beta2, eps = h.lr, h.beta1, h.beta2, h.eps
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    # The length of the approximated simple moving average, and its limit.
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) \
        if rho_t > 5 else None
    with np.errstate(all="ignore"):
        for param, grad, exp_avg, exp_avg_sq in _tensors(streams):
            _adam_moments(param, grad, exp_avg, exp_avg_sq, h)
            update = lr * exp_avg / bias_correction1
            if rect is not None:
                update = update * rect * math.sqrt(bias_correction2) / (np.sqrt(exp_avg_sq) + eps)
            param -= update
    return None


# The update does not use the step.
def adadelta(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("adadelta", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("adadelta", hparams)
    lr, rho, eps, weight_decay = h.lr, h.rho, h.eps, h.weight_decay
    with np.errstate(all="ignore"):
        for param, grad, square_avg, acc_delta in _tensors(streams):
            g = -grad if h.maximize else grad
            if weight_decay != 0:
                g = g + weight_decay * param
            square_avg *= rho
            square_avg += (1 - rho) * g * g
            delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
            acc_delta *= rho
            acc_delta += (1 - rho) * delta * delta
            param -= lr * delta
    return None


# The update does not use the step.
def rprop(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("rprop", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("rprop", hparams)
    with np.errstate(all="ignore"):
        for param, grad, prev, step_size in _tensors(streams):
            g = -grad if h.maximize else grad
            agreement = g * prev  # its sign; NaN compares as neither, so counts as 0 (torch.sign)
            factor = np.where(agreement > 0, h.etaplus, np.where(agreement < 0, h.etaminus, 1.0))
            step_size *= factor.astype(step_size.dtype)
            # maximum then minimum, NaN-propagating (torch.clamp)
            np.minimum(np.maximum(step_size, h.step_size_min), h.step_size_max, out=step_size)
            g = np.where(agreement < 0, 0, g).astype(param.dtype)
            sign = np.where(g > 0, 1, np.where(g < 0, -1, 0)).astype(param.dtype)  # NaN's is 0, as torch's
            param -= sign * step_size
            prev[...] = g
    return None


# The update does not use the step.
def lion(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("lion", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("lion", hparams)
    with np.errstate(all="ignore"):
        for param, grad, exp_avg in _tensors(streams):
            g = -grad if h.maximize else grad
            direction = exp_avg.copy()
            _lerp_(direction, g, 1 - h.beta1)
            _lerp_(exp_avg, g, 1 - h.beta2)
            if h.weight_decay != 0:
                param *= 1 - h.lr * h.weight_decay
            param -= h.lr * np.sign(direction)  # NaN stays NaN, as the kernels'
    return None


def nadam(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("nadam", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("nadam", hparams)
    lr, beta1, beta2, eps = h.lr, h.beta1, h.beta2, h.eps
    mu = nadam_momentum(step, beta1, h.momentum_decay)
    mu_next = nadam_momentum(step + 1, beta1, h.momentum_decay)
    bias_correction2 = 1 - beta2 ** step
    with np.errstate(all="ignore"):
        for param, grad, exp_avg, exp_avg_sq in _tensors(streams):
            g = _adam_moments(param, grad, exp_avg, exp_avg_sq, h)
            denom = np.sqrt(exp_avg_sq / bias_correction2) + eps
            param -= lr * (1 - mu) / (1 - h.mu_product) * g / denom
            param -= lr * mu_next / (1 - h.mu_product * mu_next) * exp_avg / denom
    return None


def _trust_ratio(param: Any, update: Any, trust_coefficient: float, eps: float) -> float:
    """optax's scale_by_trust_ratio: trust_coefficient * |param| / (|update| + eps), 1 where either
    norm is 0; the norms summed in float64."""
    param_norm = math.sqrt(float(np.sum(np.square(param, dtype=np.float64))))
    update_norm = math.sqrt(float(np.sum(np.square(update, dtype=np.float64))))
    if param_norm == 0.0 or update_norm == 0.0:
        return 1.0
    return trust_coefficient * param_norm / (update_norm + eps)


def lamb(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("lamb", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("lamb", hparams)
    bias_correction1 = 1 - h.beta1 ** step
    bias_correction2 = 1 - h.beta2 ** step
    with np.errstate(all="ignore"):
        for param, grad, exp_avg, exp_avg_sq in _tensors(streams):
            g = -grad if h.maximize else grad
            _lerp_(exp_avg, g, 1 - h.beta1)
            exp_avg_sq *= h.beta2
            exp_avg_sq += (1 - h.beta2) * g * g
            update = (exp_avg / bias_correction1) / (np.sqrt(exp_avg_sq / bias_correction2) + h.eps)
            if h.weight_decay != 0:
                update = update + h.weight_decay * param
            ratio = _trust_ratio(param, update, 1.0, 0.0) if h.trust_ratio else 1.0
            param -= (h.lr * ratio) * update
    return None


def adafactor(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("adafactor", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("adafactor", hparams)
    weight = float(step) ** h.beta2_decay  # torch's one_minus_beta2_t
    rho = min(h.lr, 1 / float(step) ** 0.5)
    lists: list[Any] = [None if s is None else _validate._as_list(s) for s in streams]
    with np.errstate(all="ignore"):
        for i, (param, grad) in enumerate(zip(lists[0], lists[1])):
            eps1 = float(np.finfo(param.dtype).eps) if h.eps1 == _validate.EPS_OF_DTYPE else h.eps1
            g = -grad if h.maximize else grad
            n = param.size
            if n == 0:
                continue
            alpha = max(h.eps2, float(np.sqrt(np.sum(np.square(param, dtype=np.float64)))) / n ** 0.5) * rho
            if h.weight_decay != 0:
                param *= 1 - h.lr * h.weight_decay
            if param.ndim > 1:
                row_var, col_var = lists[2][i], lists[3][i]
                _lerp_(row_var, np.mean(g * g, axis=-1, keepdims=True), weight)
                _lerp_(col_var, np.mean(g * g, axis=-2, keepdims=True), weight)
                var = (row_var * col_var) / np.maximum(np.mean(row_var, axis=-2, keepdims=True), eps1)
            else:
                variance = lists[4][i]
                _lerp_(variance, g * g, weight)
                var = variance
            update = g / np.sqrt(np.maximum(var, eps1 * eps1))
            denom = max(1.0, float(np.sqrt(np.sum(np.square(update, dtype=np.float64)))) / (n ** 0.5 * h.d))
            param -= (alpha / denom) * update
    return None


# The update does not use the step.
def asgd(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("asgd", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("asgd", hparams)
    with np.errstate(all="ignore"):
        for param, grad, ax in _tensors(streams):
            g = -grad if h.maximize else grad
            if h.weight_decay != 0:
                g = g + h.weight_decay * param
            param *= 1 - h.lambd * h.eta
            param -= h.eta * g
            if h.mu == 1:
                ax[...] = param
            else:
                ax += (param - ax) * h.mu
    return None


def lars(streams: tuple[Any, ...], step: int, hparams: tuple[Any, ...]) -> Optional[Problem]:
    problem = _validate.check_streams("lars", streams)
    if problem is not None:
        return problem
    h = _hyperparameters("lars", hparams)
    with np.errstate(all="ignore"):
        for param, grad, buf in _tensors(streams):
            update = -grad if h.maximize else grad
            if h.weight_decay != 0:
                update = update + h.weight_decay * param
            ratio = _trust_ratio(param, update, h.trust_coefficient, h.eps) if h.trust_ratio else 1.0
            update = -(h.lr * ratio) * update
            if h.momentum != 0:
                buf *= h.momentum
                buf += update
                update = update + h.momentum * buf if h.nesterov else buf
            param += update
    return None


# ----------------------------------------------------------------------------- gradient tools
# Same arguments and results as the native ones (csrc/bindings/gradients.cpp). Norm kinds
# (_constants.NormKind): L2 sum of squares, L1 sum of magnitudes, INF largest magnitude, POWER sum
# of |x|**p; accumulated in float64, before the final root.

def grad_norm(streams: tuple[Any, ...], kind: int, p: float, writable: bool) -> Union[float, Problem]:
    problem = _validate.check_streams("clip" if writable else "norm", streams)
    if problem is not None:
        return problem
    total = 0.0
    with np.errstate(all="ignore"):
        for (grad,) in _tensors(streams):
            magnitude = np.abs(grad.astype(np.float64).ravel())
            if kind == NormKind.L2:
                total += float(np.dot(magnitude, magnitude))
            elif kind == NormKind.L1:
                total += float(magnitude.sum())
            elif kind == NormKind.INF and magnitude.size:
                largest = float(magnitude.max())  # NaN if any element is NaN
                total = largest if math.isnan(largest) or largest > total else total
            elif kind == NormKind.POWER:
                total += float(np.sum(magnitude ** p))
    return float(total)


def grad_scale(streams: tuple[Any, ...], scale: float) -> Optional[Problem]:
    problem = _validate.check_streams("clip", streams)
    if problem is not None:
        return problem
    for (grad,) in _tensors(streams):
        grad *= grad.dtype.type(scale)
    return None


def grad_clamp(streams: tuple[Any, ...], clip: float) -> Optional[Problem]:
    problem = _validate.check_streams("clip", streams)
    if problem is not None:
        return problem
    for (grad,) in _tensors(streams):
        np.clip(grad, -clip, clip, out=grad)
    return None


def grad_accumulate(streams: tuple[Any, ...], scale: float, overwrite: bool) -> Optional[Problem]:
    problem = _validate.check_streams("accumulate", streams)
    if problem is not None:
        return problem
    for total, grad in _tensors(streams):
        if overwrite:
            np.multiply(grad, total.dtype.type(scale), out=total)
        else:
            total += total.dtype.type(scale) * grad
    return None


# Each kernel's step, by kernel name (the backends' common interface, see _backends/__init__.py).
steps = {kernel: globals()[kernel] for kernel in KERNELS}


def check(optimizer: str, streams: tuple[Any, ...]) -> Optional[Problem]:
    """The array checks of `optimizer`'s call alone: None, or the problem tuple."""
    return _validate.check_streams(optimizer, streams)
