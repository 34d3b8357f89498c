"""Each optimizer's update of one element, written once in Numba (docs/update-rules.md).

An element function takes the element's values (its parameter, gradient and states) and the step's
scalars (pygd.numba.scalars), and returns the new parameter and states. It reads no arrays, so the
same function is inlined into pygd's parallel CPU loops (cpu_loops.py), compiled as a CUDA device
function into pygd's kernels (cuda_kernels.py), and called from a user's own @njit or @cuda.jit loop.

The arithmetic stays in the type of the values as long as the scalars have that type (they do when
made by the factories with the arrays' dtype): no float literal appears below, since Numba would
widen a float32 expression that meets a Python float to float64. A state that the options do not
use (e.g. max_exp_avg_sq without AMSGrad) may be passed as any value of the element type, such as the
parameter itself; it comes back unchanged and need not be stored. Mirrors csrc/include/pygd/*.h
operation for operation: torch's order and rounding (its fused CPU kernels; for RMSprop and those
torch has no fused kernel for, its for-loop), each
operation rounded once, fused only through `fmadd` (LLVM never contracts without fastmath).
"""

import math

from numba import njit, types
from numba.core.extending import intrinsic

# error_model="numpy": a division by zero gives inf/NaN, as in C++, instead of a raised exception
# (and no check per division). fastmath stays off: IEEE rounding, NaN and inf are part of the rules.
_element = njit(cache=True, error_model="numpy")


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c with one rounding (LLVM's llvm.fma: the FMA instruction where the CPU has one, a
    correctly rounded libm call elsewhere), as the C++ lane packs' fmadd."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return a(a, b, c), codegen


@_element
def fmadd(a, b, c):
    """a * b + c, rounded once (csrc/cpu/lane.inl's fmadd)."""
    return _fma(a, b, c)  # type: ignore[call-arg]  # numba passes typingctx itself


@_element
def lerp(start, end, weight, neg_one_minus_weight, from_end):
    """torch.lerp(start, end, weight), exact at both ends: start + w (end - start) for |w| < 0.5,
    end + (w - 1)(end - start) from there on, each one fused multiply-add. The moving averages are
    lerps toward the gradient."""
    diff = end - start
    if from_end:
        return fmadd(neg_one_minus_weight, diff, end)
    return fmadd(weight, diff, start)


@_element
def nan_max(a, b):
    """max(a, b) where a NaN in either argument wins, as torch.maximum."""
    return a if (a != a or a > b) else b


@_element
def sgd_element(param, grad, momentum_buffer, s):
    """SGD with momentum, dampening, Nesterov, coupled weight decay and maximize.

    s: SgdScalars. Returns (param, momentum_buffer).
    """
    g = -grad if s.maximize else grad
    if s.has_weight_decay:
        g = fmadd(param, s.weight_decay, g)
    if s.has_momentum:
        # The first step takes the gradient as the buffer, without dampening (as torch).
        if s.first_step:
            momentum_buffer = g
        else:
            momentum_buffer = fmadd(s.one_minus_dampening, g, momentum_buffer * s.momentum)
        g = fmadd(momentum_buffer, s.momentum, g) if s.nesterov else momentum_buffer
    return fmadd(g, s.neg_lr, param), momentum_buffer


@_element
def adam_element(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s):
    """Adam, AdamW (decoupled weight decay) and AMSGrad.

    s: AdamScalars. Returns (param, exp_avg, exp_avg_sq, max_exp_avg_sq).
    """
    g = -grad if s.maximize else grad
    if s.decoupled_decay:
        param = param * s.param_scale
    if s.coupled_decay:
        g = fmadd(param, s.weight_decay, g)
    exp_avg = lerp(exp_avg, g, s.exp_avg_weight, s.exp_avg_neg_one_minus_weight, s.exp_avg_from_end)
    exp_avg_sq = fmadd(s.one_minus_beta2 * g, g, exp_avg_sq * s.beta2)
    second_moment = exp_avg_sq
    if s.amsgrad:
        # The running maximum is kept on the raw (not bias-corrected) second moment, as torch does.
        max_exp_avg_sq = nan_max(max_exp_avg_sq, exp_avg_sq)
        second_moment = max_exp_avg_sq
    # eps is added outside the square root, after bias correction.
    denom = math.sqrt(second_moment) / s.bc2_sqrt + s.eps
    return param + s.neg_step_size * exp_avg / denom, exp_avg, exp_avg_sq, max_exp_avg_sq


@_element
def rmsprop_element(param, grad, square_avg, momentum_buffer, grad_avg, s):
    """RMSprop, plain or centered, with optional momentum.

    s: RmspropScalars. Returns (param, square_avg, momentum_buffer, grad_avg).
    """
    g = -grad if s.maximize else grad
    if s.has_weight_decay:
        g = fmadd(param, s.weight_decay, g)
    square_avg = fmadd(s.one_minus_alpha * g, g, square_avg * s.alpha)
    if s.centered:
        grad_avg = lerp(grad_avg, g, s.grad_avg_weight, s.grad_avg_neg_one_minus_weight,
                        s.grad_avg_from_end)
        avg = math.sqrt(fmadd(-grad_avg, grad_avg, square_avg)) + s.eps
    else:
        avg = math.sqrt(square_avg) + s.eps
    if s.has_momentum:
        momentum_buffer = momentum_buffer * s.momentum + g / avg
        return fmadd(momentum_buffer, s.neg_lr, param), square_avg, momentum_buffer, grad_avg
    return param + s.neg_lr * g / avg, square_avg, momentum_buffer, grad_avg


@_element
def adagrad_element(param, grad, state_sum, s):
    """Adagrad with lr decay and coupled weight decay; state_sum starts at the initial accumulator.

    s: AdagradScalars. Returns (param, state_sum).
    """
    g = -grad if s.maximize else grad
    if s.has_weight_decay:
        g = fmadd(param, s.weight_decay, g)
    state_sum = fmadd(g, g, state_sum)
    return param + s.neg_clr * g / (math.sqrt(state_sum) + s.eps), state_sum


@_element
def adamax_element(param, grad, exp_avg, exp_inf, s):
    """Adamax: Adam's first moment over an exponentially weighted infinity norm, coupled weight decay.

    s: AdamaxScalars. Returns (param, exp_avg, exp_inf).
    """
    g = -grad if s.maximize else grad
    if s.has_weight_decay:
        g = fmadd(param, s.weight_decay, g)
    exp_avg = lerp(exp_avg, g, s.exp_avg_weight, s.exp_avg_neg_one_minus_weight, s.exp_avg_from_end)
    # abs, not math.fabs: it keeps float32 in float32.
    exp_inf = nan_max(exp_inf * s.beta2, abs(g) + s.eps)
    return param + s.neg_clr * exp_avg / exp_inf, exp_avg, exp_inf


@_element
def adam_moments(param, grad, exp_avg, exp_avg_sq, s):
    """What RAdam and NAdam share (csrc/include/pygd/adam_moments.h): the signed grad, coupled or
    decoupled decay, Adam's moments. Returns (param, grad, exp_avg, exp_avg_sq)."""
    g = -grad if s.maximize else grad
    if s.decoupled_decay:
        param = param * s.param_scale
    if s.coupled_decay:
        g = fmadd(param, s.weight_decay, g)
    exp_avg = lerp(exp_avg, g, s.exp_avg_weight, s.exp_avg_neg_one_minus_weight, s.exp_avg_from_end)
    return param, g, exp_avg, fmadd(s.one_minus_beta2 * g, g, exp_avg_sq * s.beta2)


@_element
def radam_element(param, grad, exp_avg, exp_avg_sq, s):
    """RAdam: Adam's moments, its adaptive step rectified once the SMA length passes 5 (else plain
    bias-corrected momentum), coupled or decoupled weight decay.

    s: RadamScalars. Returns (param, exp_avg, exp_avg_sq).
    """
    param, g, exp_avg, exp_avg_sq = adam_moments(param, grad, exp_avg, exp_avg_sq, s)
    step = exp_avg / s.bc1 * s.lr
    if s.rectified:
        # s.one: the reciprocal in the arrays' type (a literal 1.0 would widen float32).
        adaptive = s.one / (math.sqrt(exp_avg_sq) + s.eps) * s.bc2_sqrt
        return param - step * adaptive * s.rect, exp_avg, exp_avg_sq
    return param - step, exp_avg, exp_avg_sq


@_element
def adadelta_element(param, grad, square_avg, acc_delta, s):
    """Adadelta: a step of RMS[delta] / RMS[grad] times the gradient, coupled weight decay.

    s: AdadeltaScalars. Returns (param, square_avg, acc_delta).
    """
    g = -grad if s.maximize else grad
    if s.has_weight_decay:
        g = fmadd(param, s.weight_decay, g)
    square_avg = fmadd(s.one_minus_rho * g, g, square_avg * s.rho)
    delta = math.sqrt(acc_delta + s.eps) / math.sqrt(square_avg + s.eps) * g
    acc_delta = fmadd(s.one_minus_rho * delta, delta, acc_delta * s.rho)
    return fmadd(delta, s.neg_lr, param), square_avg, acc_delta


@_element
def rprop_element(param, grad, prev, step_size, s):
    """Rprop: the step size grows by etaplus while the gradient keeps its sign and shrinks by
    etaminus when it flips (that gradient then counts as 0), within the step-size bounds.

    s: RpropScalars. Returns (param, prev, step_size).
    """
    g = -grad if s.maximize else grad
    agreement = g * prev  # its sign; NaN's counts as 0 (torch.sign)
    if agreement > s.zero:
        factor = s.etaplus
    elif agreement < s.zero:
        factor = s.etaminus
    else:
        factor = s.one
    step_size = nan_max(step_size * factor, s.step_size_min)
    if step_size > s.step_size_max:
        step_size = s.step_size_max
    if factor == s.etaminus:
        g = s.zero
    if g > s.zero:
        sign = s.one
    elif g < s.zero:
        sign = -s.one
    else:
        sign = s.zero
    return param - sign * step_size, g, step_size  # = fma(-sign, step_size, param): see rprop.h


@_element
def lion_element(param, grad, exp_avg, s):
    """Lion: the sign of a lerp between the momentum and the gradient, decoupled weight decay.

    s: LionScalars. Returns (param, exp_avg).
    """
    g = -grad if s.maximize else grad
    c = lerp(exp_avg, g, s.update_weight, s.update_neg_one_minus_weight, s.update_from_end)
    if c > s.zero:
        sign = s.one
    elif c < s.zero:
        sign = -s.one
    elif c == s.zero:
        sign = s.zero
    else:
        sign = c  # NaN
    exp_avg = lerp(exp_avg, g, s.exp_avg_weight, s.exp_avg_neg_one_minus_weight, s.exp_avg_from_end)
    if s.has_weight_decay:
        param = param * s.param_scale
    return param - s.lr * sign, exp_avg


@_element
def nadam_element(param, grad, exp_avg, exp_avg_sq, s):
    """NAdam: Adam's moments with Nesterov momentum through the schedule mu_t, coupled or
    decoupled weight decay.

    s: NadamScalars. Returns (param, exp_avg, exp_avg_sq).
    """
    param, g, exp_avg, exp_avg_sq = adam_moments(param, grad, exp_avg, exp_avg_sq, s)
    denom = math.sqrt(exp_avg_sq / s.bc2) + s.eps
    param = param + s.grad_value * g / denom
    return param + s.exp_avg_value * exp_avg / denom, exp_avg, exp_avg_sq


@_element
def asgd_element(param, grad, ax, s):
    """ASGD: SGD with the decayed learning rate eta, and ax the running average of the params.

    s: AsgdScalars. Returns (param, ax).
    """
    g = -grad if s.maximize else grad
    if s.has_weight_decay:
        g = fmadd(param, s.weight_decay, g)
    param = fmadd(g, s.neg_eta, param * s.decay_scale)
    if s.mu_is_one:
        return param, param
    return param, ax + (param - ax) * s.mu


# The trust-ratio optimizers (csrc/include/pygd/trust_ratio.h): each is a direction, the first
# pass's element (the state it writes and the direction, whose squares and the param's the loop
# sums per tensor), and the second pass's, which applies the tensor's scale (-lr * ratio, in the
# arrays' type) to the direction recomputed from what the first pass stored.

@_element
def lamb_direction(param, exp_avg, exp_avg_sq, s):
    """LAMB's u = m_hat / (sqrt(v_hat) + eps) + weight_decay * param (optax's scale_by_adam, then
    add_decayed_weights). s: LambScalars."""
    u = (exp_avg * s.inv_bc1) / (math.sqrt(exp_avg_sq * s.inv_bc2) + s.eps)
    if s.has_weight_decay:
        u = fmadd(param, s.weight_decay, u)
    return u


@_element
def lamb_reduce_element(param, grad, exp_avg, exp_avg_sq, s):
    """LAMB's first pass: returns (exp_avg, exp_avg_sq, u)."""
    g = -grad if s.maximize else grad
    exp_avg = lerp(exp_avg, g, s.exp_avg_weight, s.exp_avg_neg_one_minus_weight, s.exp_avg_from_end)
    exp_avg_sq = fmadd(s.one_minus_beta2 * g, g, exp_avg_sq * s.beta2)
    return exp_avg, exp_avg_sq, lamb_direction(param, exp_avg, exp_avg_sq, s)


@_element
def lamb_apply_element(param, exp_avg, exp_avg_sq, scale, s):
    """LAMB's second pass: returns param + scale * u."""
    return fmadd(scale, lamb_direction(param, exp_avg, exp_avg_sq, s), param)


@_element
def lars_direction(param, grad, s):
    """LARS's u = grad + weight_decay * param (optax's add_decayed_weights). s: LarsScalars."""
    g = -grad if s.maximize else grad
    return fmadd(param, s.weight_decay, g) if s.has_weight_decay else g


@_element
def lars_apply_element(param, grad, momentum_buffer, scale, s):
    """LARS's second pass: u' = scale * u, then optax's trace. Returns (param, momentum_buffer)."""
    d = scale * lars_direction(param, grad, s)
    if s.has_momentum:
        momentum_buffer = fmadd(momentum_buffer, s.momentum, d)
        d = fmadd(momentum_buffer, s.momentum, d) if s.nesterov else momentum_buffer
    return param + d, momentum_buffer
