"""The scalars of one step of each optimizer, as its element function takes them.

docs/update-rules.md: everything derived from the hyperparameters and the step count (bias corrections,
step size, 1/sqrt(bc2), Adagrad's decayed lr, lerp weights) is computed once per call in float64,
then narrowed to the arrays' float type, so the per-element arithmetic stays in that type. This
mirrors `make_step` in csrc/include/pygd/hparams.h field for field.

Each factory takes `dtype` first (np.float32 or np.float64) and returns a namedtuple of that type's
scalars and flags. They do not validate: pass values that pygd's functional API would accept. They
run as plain Python (what the backend calls once per step) and compile inside a user's @njit
function (register_jitable), so a training loop written in Numba can make the scalars of each step.
"""

import collections
import math

from numba.extending import register_jitable

from .._state_scalars import nadam_momentum

_nadam_momentum = register_jitable(nadam_momentum)

SgdScalars = collections.namedtuple("SgdScalars", (
    "neg_lr", "momentum", "one_minus_dampening", "weight_decay",
    "has_momentum", "first_step", "nesterov", "maximize", "has_weight_decay"))

# Lerp weights are three fields (w, w - 1, !(|w| < 0.5)) rather than a nested tuple: Numba's parallel
# loops cannot take nested tuples as loop-invariant arguments.
AdamScalars = collections.namedtuple("AdamScalars", (
    # exp_avg's lerp toward the gradient, w = 1 - beta1
    "exp_avg_weight", "exp_avg_neg_one_minus_weight", "exp_avg_from_end",
    "beta2", "one_minus_beta2",
    "neg_step_size",  # -lr / (1 - beta1^t)
    "bc2_sqrt",       # sqrt(1 - beta2^t), divided by per element as torch does
    "eps", "weight_decay",
    "param_scale",   # 1 - lr * weight_decay (AdamW)
    "amsgrad", "maximize", "coupled_decay", "decoupled_decay"))

RmspropScalars = collections.namedtuple("RmspropScalars", (
    "neg_lr", "alpha", "one_minus_alpha", "eps", "weight_decay", "momentum",
    "grad_avg_weight", "grad_avg_neg_one_minus_weight", "grad_avg_from_end",  # w = 1 - alpha
    "centered", "has_momentum", "maximize", "has_weight_decay"))

AdagradScalars = collections.namedtuple("AdagradScalars", (
    "neg_clr",  # -lr / (1 + (t - 1) * lr_decay)
    "weight_decay", "eps", "maximize", "has_weight_decay"))

AdamaxScalars = collections.namedtuple("AdamaxScalars", (
    # exp_avg's lerp toward the gradient, w = 1 - beta1
    "exp_avg_weight", "exp_avg_neg_one_minus_weight", "exp_avg_from_end",
    "beta2", "eps", "weight_decay",
    "neg_clr",  # -lr / (1 - beta1^t)
    "maximize", "has_weight_decay"))

RadamScalars = collections.namedtuple("RadamScalars", (
    "exp_avg_weight", "exp_avg_neg_one_minus_weight", "exp_avg_from_end",  # w = 1 - beta1
    "beta2", "one_minus_beta2",
    "bc1",       # 1 - beta1^t, divided by per element as torch does
    "lr", "eps", "weight_decay",
    "bc2_sqrt",  # sqrt(1 - beta2^t)
    "rect",      # the variance rectification term (used only when rectified)
    "param_scale",  # 1 - lr * weight_decay (decoupled)
    "one",       # 1 in the arrays' type: the adaptive step is a reciprocal, as torch's
    "rectified", "maximize", "coupled_decay", "decoupled_decay"))

AdadeltaScalars = collections.namedtuple("AdadeltaScalars", (
    "neg_lr", "rho", "one_minus_rho", "eps", "weight_decay", "maximize", "has_weight_decay"))

RpropScalars = collections.namedtuple("RpropScalars", (
    "etaminus", "etaplus", "step_size_min", "step_size_max",
    "zero", "one",  # in the arrays' type (a literal would widen float32)
    "maximize"))

LionScalars = collections.namedtuple("LionScalars", (
    "update_weight", "update_neg_one_minus_weight", "update_from_end",  # w = 1 - beta1
    "exp_avg_weight", "exp_avg_neg_one_minus_weight", "exp_avg_from_end",  # w = 1 - beta2
    "lr", "param_scale",  # 1 - lr * weight_decay
    "zero", "one",  # in the arrays' type (a literal would widen float32)
    "maximize", "has_weight_decay"))

NadamScalars = collections.namedtuple("NadamScalars", (
    "exp_avg_weight", "exp_avg_neg_one_minus_weight", "exp_avg_from_end",  # w = 1 - beta1
    "beta2", "one_minus_beta2",
    "bc2",  # 1 - beta2^t, divided by per element as torch does
    "eps", "weight_decay",
    "grad_value",     # -lr (1 - mu_t) / (1 - mu_product)
    "exp_avg_value",  # -lr mu_{t+1} / (1 - mu_product mu_{t+1})
    "param_scale",    # 1 - lr * weight_decay (decoupled)
    "maximize", "coupled_decay", "decoupled_decay"))

AsgdScalars = collections.namedtuple("AsgdScalars", (
    "decay_scale",  # 1 - lambd * eta
    "neg_eta", "mu", "weight_decay",
    "mu_is_one",  # ax takes the param while mu == 1
    "maximize", "has_weight_decay"))

# Their docstrings, which a namedtuple would otherwise make of its field names.
for _scalars in (SgdScalars, AdamScalars, RmspropScalars, AdagradScalars, AdamaxScalars, RadamScalars,
                 AdadeltaScalars, RpropScalars, LionScalars, NadamScalars, AsgdScalars):
    _opt = _scalars.__name__[:-len("Scalars")].lower()
    _scalars.__doc__ = (f"The scalars of one {_opt} step, in the arrays' type ({_opt}_scalars makes "
                        f"them, {_opt}_element takes them).")


@register_jitable
def _lerp_weight(dtype, weight):
    """(w, w - 1, !(|w| < 0.5)) with w rounded to dtype and w - 1 computed in dtype, as torch's
    lerp (make_lerp_weight in csrc/include/pygd/lerp.h)."""
    w = dtype(weight)
    return w, w - dtype(1.0), not (abs(w) < 0.5)


@register_jitable
def sgd_scalars(dtype, step, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False,
                weight_decay=0.0, maximize=False):
    """The scalars of SGD's step `step` (1-based) for arrays of `dtype`."""
    return SgdScalars(dtype(-lr), dtype(momentum), dtype(1.0 - dampening), dtype(weight_decay),
                      momentum != 0.0, step == 1, nesterov, maximize, weight_decay != 0.0)


@register_jitable
def adam_scalars(dtype, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False, decoupled=False):
    """The scalars of Adam's step `step` (1-based) for arrays of `dtype`; decoupled=True is AdamW."""
    # math.pow with a float exponent, as std::pow: Numba computes `x ** int` by repeated
    # multiplication, which rounds differently.
    t = float(step)
    bias_correction1 = 1.0 - math.pow(beta1, t)
    bias_correction2 = 1.0 - math.pow(beta2, t)
    w, w_minus_one, from_end = _lerp_weight(dtype, 1.0 - beta1)
    decay = weight_decay != 0.0
    return AdamScalars(w, w_minus_one, from_end,
                       dtype(beta2), dtype(1.0 - beta2),
                       dtype(-(lr / bias_correction1)), dtype(math.sqrt(bias_correction2)),
                       dtype(eps), dtype(weight_decay), dtype(1.0 - lr * weight_decay),
                       amsgrad, maximize, decay and not decoupled, decay and decoupled)


@register_jitable
def rmsprop_scalars(dtype, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                    centered=False, maximize=False):
    """The scalars of an RMSprop step (it has no step count) for arrays of `dtype`."""
    w, w_minus_one, from_end = _lerp_weight(dtype, 1.0 - alpha)
    return RmspropScalars(dtype(-lr), dtype(alpha), dtype(1.0 - alpha), dtype(eps),
                          dtype(weight_decay), dtype(momentum),
                          w, w_minus_one, from_end,
                          centered, momentum > 0.0, maximize, weight_decay != 0.0)


@register_jitable
def adagrad_scalars(dtype, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
                    maximize=False):
    """The scalars of Adagrad's step `step` (1-based) for arrays of `dtype`."""
    clr = lr / (1.0 + float(step - 1) * lr_decay)
    return AdagradScalars(dtype(-clr), dtype(weight_decay), dtype(eps), maximize,
                          weight_decay != 0.0)


@register_jitable
def adamax_scalars(dtype, step, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                   maximize=False):
    """The scalars of Adamax's step `step` (1-based) for arrays of `dtype`."""
    bias_correction1 = 1.0 - math.pow(beta1, float(step))  # math.pow: see adam_scalars
    w, w_minus_one, from_end = _lerp_weight(dtype, 1.0 - beta1)
    return AdamaxScalars(w, w_minus_one, from_end, dtype(beta2), dtype(eps), dtype(weight_decay),
                         dtype(-(lr / bias_correction1)), maximize, weight_decay != 0.0)


@register_jitable
def radam_scalars(dtype, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                  decoupled=False, maximize=False):
    """The scalars of RAdam's step `step` (1-based) for arrays of `dtype`; decoupled=True decays
    the weights as AdamW."""
    t = float(step)  # math.pow: see adam_scalars
    bias_correction1 = 1.0 - math.pow(beta1, t)
    bias_correction2 = 1.0 - math.pow(beta2, t)
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * t * math.pow(beta2, t) / bias_correction2
    rectified = rho_t > 5.0
    rect = math.pow((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t),
                    0.5) if rectified else 0.0
    w, w_minus_one, from_end = _lerp_weight(dtype, 1.0 - beta1)
    decay = weight_decay != 0.0
    return RadamScalars(w, w_minus_one, from_end, dtype(beta2), dtype(1.0 - beta2),
                        dtype(bias_correction1), dtype(lr), dtype(eps), dtype(weight_decay),
                        dtype(math.pow(bias_correction2, 0.5)), dtype(rect),
                        dtype(1.0 - lr * weight_decay), dtype(1.0),
                        rectified, maximize, decay and not decoupled, decay and decoupled)


@register_jitable
def adadelta_scalars(dtype, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    """The scalars of an Adadelta step (its update does not use the step count) for arrays of
    `dtype`."""
    return AdadeltaScalars(dtype(-lr), dtype(rho), dtype(1.0 - rho), dtype(eps), dtype(weight_decay),
                           maximize, weight_decay != 0.0)


@register_jitable
def rprop_scalars(dtype, etaminus=0.5, etaplus=1.2, step_size_min=1e-6, step_size_max=50.0,
                  maximize=False):
    """The scalars of an Rprop step (its update does not use the step count) for arrays of
    `dtype`."""
    return RpropScalars(dtype(etaminus), dtype(etaplus), dtype(step_size_min), dtype(step_size_max),
                        dtype(0.0), dtype(1.0), maximize)


@register_jitable
def lion_scalars(dtype, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0, maximize=False):
    """The scalars of a Lion step (its update does not use the step count) for arrays of `dtype`."""
    w1, w1_minus_one, from_end1 = _lerp_weight(dtype, 1.0 - beta1)
    w2, w2_minus_one, from_end2 = _lerp_weight(dtype, 1.0 - beta2)
    return LionScalars(w1, w1_minus_one, from_end1, w2, w2_minus_one, from_end2, dtype(lr),
                       dtype(1.0 - lr * weight_decay), dtype(0.0), dtype(1.0), maximize, weight_decay != 0.0)


@register_jitable
def nadam_scalars(dtype, step, mu_product, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                  momentum_decay=4e-3, decoupled=False, maximize=False):
    """The scalars of NAdam's step `step` (1-based) for arrays of `dtype`; mu_product is
    mu_1 * ... * mu_t through this step, state the caller keeps (pygd.nadam_momentum gives each
    mu_t)."""
    bias_correction2 = 1.0 - math.pow(beta2, float(step))  # math.pow: see adam_scalars
    mu = _nadam_momentum(step, beta1, momentum_decay)
    mu_next = _nadam_momentum(step + 1, beta1, momentum_decay)
    mu_product_next = mu_product * mu_next
    w, w_minus_one, from_end = _lerp_weight(dtype, 1.0 - beta1)
    decay = weight_decay != 0.0
    return NadamScalars(w, w_minus_one, from_end, dtype(beta2), dtype(1.0 - beta2), dtype(bias_correction2),
                        dtype(eps), dtype(weight_decay), dtype(-lr * (1.0 - mu) / (1.0 - mu_product)),
                        dtype(-lr * mu_next / (1.0 - mu_product_next)), dtype(1.0 - lr * weight_decay),
                        maximize, decay and not decoupled, decay and decoupled)


@register_jitable
def asgd_scalars(dtype, eta, mu, lambd=1e-4, weight_decay=0.0, maximize=False):
    """The scalars of an ASGD step for arrays of `dtype`; eta and mu are the state the caller
    keeps, as they are before this step (its update does not use the step count)."""
    return AsgdScalars(dtype(1.0 - lambd * eta), dtype(-eta), dtype(mu), dtype(weight_decay), mu == 1.0,
                       maximize, weight_decay != 0.0)
