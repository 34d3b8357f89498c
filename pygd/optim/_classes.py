"""The optimizers: torch.optim's constructors and defaults over pygd's functional steps."""

import numpy as np

from .. import _validate, functional
from .._specs import SPECS
from ._base import Optimizer

# Stands for a state list the optimizer will provide, when a functional validator is run on
# hyperparameters alone (its required-state checks must pass).
_PROVIDED = object()


def _validated(where, check, *args):
    try:
        return check(*args)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}{exc}") from None


class SGD(Optimizer):
    """torch.optim.SGD: momentum, dampening, Nesterov, (coupled) weight decay, maximize."""
    _kernel = "sgd"
    _state_streams = tuple(SPECS["sgd"].torch_states.values())

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, backend="auto"):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize), backend)

    def _check_group(self, g, where):
        _validated(where, _validate.sgd, 1, g["lr"], g["momentum"], g["dampening"], g["nesterov"],
                   g["weight_decay"], _PROVIDED)

    def _needed_states(self, g):
        return SPECS["sgd"].needed_states(g)

    def _update(self, params, grads, states, step, g):
        functional.sgd_(params, grads, states.get("momentum_buffer"), step=step, lr=g["lr"],
                        momentum=g["momentum"], dampening=g["dampening"], nesterov=g["nesterov"],
                        weight_decay=g["weight_decay"], maximize=g["maximize"], backend=self.backend)


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected moments, (coupled) weight decay, AMSGrad, maximize;
    decoupled_weight_decay=True makes it AdamW."""
    _kernel = "adam"
    _state_streams = tuple(SPECS["adam"].torch_states.values())

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False, backend="auto"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay), backend)

    def _check_group(self, g, where):
        _validated(where, _validate.adam, 1, g["lr"], g["betas"], g["eps"], g["weight_decay"],
                   g["amsgrad"], _PROVIDED)

    def _needed_states(self, g):
        return SPECS["adam"].needed_states(g)

    def _update(self, params, grads, states, step, g):
        adam = functional.adamw_ if g["decoupled_weight_decay"] else functional.adam_
        adam(params, grads, states["exp_avg"], states["exp_avg_sq"], step=step, lr=g["lr"],
             betas=g["betas"], eps=g["eps"], weight_decay=g["weight_decay"], amsgrad=g["amsgrad"],
             max_exp_avg_sqs=states.get("max_exp_avg_sq"), maximize=g["maximize"],
             backend=self.backend)


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (default 1e-2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, backend="auto"):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, backend=backend)


class RMSprop(Optimizer):
    """torch.optim.RMSprop: optionally centered, with momentum, (coupled) weight decay, maximize."""
    _kernel = "rmsprop"
    _state_streams = tuple(SPECS["rmsprop"].torch_states.values())

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False, backend="auto"):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize),
                         backend)

    def _check_group(self, g, where):
        _validated(where, _validate.rmsprop, g["lr"], g["alpha"], g["eps"], g["weight_decay"],
                   g["momentum"], g["centered"], _PROVIDED, _PROVIDED)

    def _needed_states(self, g):
        return SPECS["rmsprop"].needed_states(g)

    def _update(self, params, grads, states, step, g):
        functional.rmsprop_(params, grads, states["square_avg"], lr=g["lr"], alpha=g["alpha"],
                            eps=g["eps"], weight_decay=g["weight_decay"], momentum=g["momentum"],
                            centered=g["centered"], momentum_buffers=states.get("momentum_buffer"),
                            grad_avgs=states.get("grad_avg"), maximize=g["maximize"],
                            backend=self.backend)


class Adagrad(Optimizer):
    """torch.optim.Adagrad: learning-rate decay, (coupled) weight decay, initial accumulator, maximize."""
    _kernel = "adagrad"
    _state_streams = tuple(SPECS["adagrad"].torch_states.values())

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, maximize=False, backend="auto"):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize), backend)

    def _check_group(self, g, where):
        _validated(where, _validate.adagrad, 1, g["lr"], g["lr_decay"], g["weight_decay"], g["eps"])
        _validated(where, _validate.non_negative, "initial_accumulator_value",
                   g["initial_accumulator_value"])

    def _needed_states(self, g):
        return SPECS["adagrad"].needed_states(g)

    def _initial_state(self, name, param, group):
        return np.full_like(param, group["initial_accumulator_value"])

    def _update(self, params, grads, states, step, g):
        functional.adagrad_(params, grads, states["sum"], step=step, lr=g["lr"], lr_decay=g["lr_decay"],
                            weight_decay=g["weight_decay"], eps=g["eps"], maximize=g["maximize"],
                            backend=self.backend)
