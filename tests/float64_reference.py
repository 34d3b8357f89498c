"""An independent float64 model of the update rules in docs/update-rules.md, the oracle of the parity tests.

Written from the formulas in docs/update-rules.md, not from pygd's own NumPy backend: one function per
optimizer that updates ONE tensor held as float64 arrays, in place. `state` maps pygd's argument
names (e.g. "exp_avgs") to that tensor's float64 state arrays; `t` is the 1-based step count.
"""

import math

import numpy as np


def _signed(g, maximize):
    return -g if maximize else g.copy()


def sgd(p, g, state, t, *, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False,
        weight_decay=0.0, maximize=False):
    d = _signed(g, maximize) + weight_decay * p  # coupled weight decay
    if momentum != 0:
        b = state["momentum_buffers"]
        # First step: the buffer becomes the gradient itself, whatever it held before.
        b[...] = d if t == 1 else momentum * b + (1.0 - dampening) * d
        d = d + momentum * b if nesterov else b.copy()
    p -= lr * d


def adam(p, g, state, t, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
         amsgrad=False, maximize=False, decoupled=False):
    beta1, beta2 = betas
    d = _signed(g, maximize)
    if decoupled:
        p *= 1.0 - lr * weight_decay
    else:
        d += weight_decay * p
    m, v = state["exp_avgs"], state["exp_avg_sqs"]
    m[...] = beta1 * m + (1.0 - beta1) * d
    v[...] = beta2 * v + (1.0 - beta2) * d * d
    second = v
    if amsgrad:
        vmax = state["max_exp_avg_sqs"]
        vmax[...] = np.maximum(vmax, v)
        second = vmax
    m_hat = m / (1.0 - beta1 ** t)
    v_hat = second / (1.0 - beta2 ** t)
    p -= lr * m_hat / (np.sqrt(v_hat) + eps)


def adamw(p, g, state, t, *, weight_decay=1e-2, **options):
    adam(p, g, state, t, weight_decay=weight_decay, decoupled=True, **options)


def rmsprop(p, g, state, t, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
            centered=False, maximize=False):
    del t  # RMSprop has no step count
    d = _signed(g, maximize) + weight_decay * p
    v = state["square_avgs"]
    v[...] = alpha * v + (1.0 - alpha) * d * d
    mean_square = v
    if centered:
        gbar = state["grad_avgs"]
        gbar[...] = alpha * gbar + (1.0 - alpha) * d
        mean_square = v - gbar * gbar
    ratio = d / (np.sqrt(mean_square) + eps)
    if momentum > 0:
        b = state["momentum_buffers"]
        b[...] = momentum * b + ratio
        p -= lr * b
    else:
        p -= lr * ratio


def adagrad(p, g, state, t, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
            maximize=False):
    d = _signed(g, maximize) + weight_decay * p
    s = state["state_sums"]
    s += d * d
    p -= lr / (1.0 + (t - 1) * lr_decay) * d / (np.sqrt(s) + eps)


def adamax(p, g, state, t, *, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
           maximize=False):
    beta1, beta2 = betas
    d = _signed(g, maximize) + weight_decay * p
    m, u = state["exp_avgs"], state["exp_infs"]
    m[...] = beta1 * m + (1.0 - beta1) * d
    # The infinity norm's running estimate; eps joins |g| before the maximum, so u > 0 from step 1.
    u[...] = np.maximum(beta2 * u, np.abs(d) + eps)
    p -= lr / (1.0 - beta1 ** t) * m / u


def radam(p, g, state, t, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
          decoupled_weight_decay=False, maximize=False):
    beta1, beta2 = betas
    d = _signed(g, maximize)
    if decoupled_weight_decay:
        p *= 1.0 - lr * weight_decay
    else:
        d += weight_decay * p
    m, v = state["exp_avgs"], state["exp_avg_sqs"]
    m[...] = beta1 * m + (1.0 - beta1) * d
    v[...] = beta2 * v + (1.0 - beta2) * d * d
    m_hat = m / (1.0 - beta1 ** t)
    # Liu et al. 2020: the SMA length rho_t of the second moment's estimate and its limit; the
    # variance of the adaptive rate is tractable (and rectified by r_t) once rho_t > 5.
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * t * beta2 ** t / (1.0 - beta2 ** t)
    if rho_t > 5.0:
        r_t = np.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
        v_hat = v / (1.0 - beta2 ** t)
        p -= lr * m_hat * r_t / (np.sqrt(v_hat) + eps / np.sqrt(1.0 - beta2 ** t))
    else:
        p -= lr * m_hat


def adadelta(p, g, state, t, *, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    d = _signed(g, maximize) + weight_decay * p
    v, u = state["square_avgs"], state["acc_deltas"]
    v[...] = rho * v + (1.0 - rho) * d * d
    # Zeiler 2012: the update's units match the param's, RMS of past updates over RMS of grads.
    delta = np.sqrt((u + eps) / (v + eps)) * d
    u[...] = rho * u + (1.0 - rho) * delta * delta
    p -= lr * delta


def rprop(p, g, state, t, *, etas=(0.5, 1.2), step_size_min=1e-6, step_size_max=50.0, maximize=False):
    etaminus, etaplus = etas
    d = _signed(g, maximize)
    prev, size = state["prevs"], state["step_sizes"]
    same, flipped = d * prev > 0, d * prev < 0
    size[...] = np.clip(np.where(same, etaplus, np.where(flipped, etaminus, 1.0)) * size,
                        step_size_min, step_size_max)
    # After a sign flip: no step, and the next comparison starts afresh (Riedmiller & Braun's Rprop-).
    d = np.where(flipped, 0.0, d)
    p -= np.sign(d) * size
    prev[...] = d


def lion(p, g, state, t, *, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False):
    beta1, beta2 = betas
    d = _signed(g, maximize)
    m = state["exp_avgs"]
    # Chen et al. 2023, Algorithm 2: the update is the sign of an interpolation, the momentum a
    # second, slower one; the decay is decoupled.
    c = beta1 * m + (1.0 - beta1) * d
    m[...] = beta2 * m + (1.0 - beta2) * d
    p -= lr * (np.sign(c) + weight_decay * p)


def nadam(p, g, state, t, *, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
          decoupled_weight_decay=False, maximize=False, mu_product=None):
    """mu_product: the product of the momentum coefficients through step t where given (the
    functional step's argument), else made here for constant options."""
    beta1, beta2 = betas
    d = _signed(g, maximize)
    if decoupled_weight_decay:
        p *= 1.0 - lr * weight_decay
    else:
        d += weight_decay * p
    m, v = state["exp_avgs"], state["exp_avg_sqs"]
    m[...] = beta1 * m + (1.0 - beta1) * d
    v[...] = beta2 * v + (1.0 - beta2) * d * d
    # Dozat 2016 with torch's momentum schedule mu_i = beta1 (1 - 0.96^(i psi) / 2): the grad's
    # share with this step's mu, the momentum's with the next one's (Nesterov's look-ahead).
    mu = [beta1 * (1.0 - 0.5 * 0.96 ** (i * momentum_decay)) for i in range(1, t + 2)]
    product = np.prod(mu[:t]) if mu_product is None else mu_product
    v_hat = v / (1.0 - beta2 ** t)
    p -= lr * ((1.0 - mu[t - 1]) * d / (1.0 - product) + mu[t] * m / (1.0 - product * mu[t])) / (np.sqrt(v_hat) + eps)


def asgd(p, g, state, t, *, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False,
         eta=None, mu=None):
    """eta, mu: the state the step reads where given (the functional step's arguments), else made
    here for constant options."""
    d = _signed(g, maximize) + weight_decay * p
    # Polyak-Ruppert averaging with torch's schedules: the rate of step t is the one step t - 1
    # left, lr / (1 + lambd lr (t-1))^alpha (lr at step 1); the averaging weight 1 / max(1, t-1-t0).
    eta = lr / (1.0 + lambd * lr * (t - 1)) ** alpha if eta is None else eta
    mu = 1.0 / max(1.0, t - 1 - t0) if mu is None else mu
    p[...] = p * (1.0 - lambd * eta) - eta * d
    ax = state["axs"]
    ax[...] = ax + mu * (p - ax)
def _layer_ratio(p, u, coefficient, eps):
    # optax's scale_by_trust_ratio (min_norm 0), per tensor (one of optax's leaves): 1 where either
    # norm is 0, so that a zero param or a zero update still takes the plain step.
    param_norm, update_norm = np.linalg.norm(p), np.linalg.norm(u)
    if param_norm == 0.0 or update_norm == 0.0:
        return 1.0
    return coefficient * param_norm / (update_norm + eps)


def lamb(p, g, state, t, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, trust_ratio=True,
         maximize=False):
    beta1, beta2 = betas
    d = _signed(g, maximize)
    m, v = state["exp_avgs"], state["exp_avg_sqs"]
    # You et al. 2019, Algorithm 2 (optax.lamb): Adam's bias-corrected ratio, plus the decay, then the
    # layer's step scaled by ||x|| / ||r + lambda x||.
    m[...] = beta1 * m + (1.0 - beta1) * d
    v[...] = beta2 * v + (1.0 - beta2) * d * d
    r = (m / (1.0 - beta1 ** t)) / (np.sqrt(v / (1.0 - beta2 ** t)) + eps)
    u = r + weight_decay * p
    ratio = _layer_ratio(p, u, 1.0, 0.0) if trust_ratio else 1.0
    p -= lr * ratio * u


def lars(p, g, state, t, *, lr=1.0, momentum=0.9, weight_decay=0.0, trust_coefficient=0.001, eps=0.0,
         nesterov=False, trust_ratio=True, maximize=False):
    del t  # no step count
    # You et al. 2017 (optax.lars): the local lr eta * ||w|| / ||g + beta w||, times the global lr,
    # into momentum (optax's trace: v <- u + m v; the step v, or u + m v with Nesterov).
    u = _signed(g, maximize) + weight_decay * p
    ratio = _layer_ratio(p, u, trust_coefficient, eps) if trust_ratio else 1.0
    step = -lr * ratio * u
    if momentum != 0:
        b = state["momentum_buffers"]
        b[...] = step + momentum * b
        step = step + momentum * b if nesterov else b.copy()
    p += step


def adafactor(p, g, state, t, *, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
              maximize=False, dtype=np.float64):
    # Shazeer and Stern 2018, Algorithm 4 and 5, as torch.optim.Adafactor reads them: relative step
    # min(lr, t^-1/2) scaled by max(eps2, RMS(x)); beta2_hat = 1 - t^beta2_decay; the second moment
    # factored over the last two dims, R = sum over columns of G^2 / cols (a mean), C likewise, and
    # V = R C^T / max(mean(R), eps1); U = G / max(sqrt(V), eps1), clipped to RMS(U) <= d. eps1=None
    # is the machine epsilon of the run's dtype. Written with explicit sums and an outer product.
    eps1 = np.finfo(dtype).eps if eps[0] is None else eps[0]
    eps2 = eps[1]
    G = _signed(g, maximize)
    n = p.size
    if n == 0:  # nothing to update (torch's loop would divide by zero computing RMS)
        return
    w = float(t) ** beta2_decay  # the weight of the new mean: 1 - beta2_hat
    alpha = max(eps2, math.sqrt(float(np.sum(p * p)) / n)) * min(lr, 1.0 / math.sqrt(t))
    p *= 1.0 - lr * weight_decay
    if p.ndim > 1:
        rows, cols = p.shape[-2], p.shape[-1]
        R, C = state["row_vars"], state["col_vars"]
        R[...] = (1.0 - w) * R + w * (np.sum(G * G, axis=-1, keepdims=True) / cols)
        C[...] = (1.0 - w) * C + w * (np.sum(G * G, axis=-2, keepdims=True) / rows)
        floor = np.maximum(np.sum(R, axis=-2, keepdims=True) / rows, eps1)
        V = np.einsum("...ri,...ic->...rc", R, C) / floor
    else:
        v = state["variances"]
        v[...] = (1.0 - w) * v + w * G * G
        V = v
    U = G / np.maximum(np.sqrt(V), eps1)
    clip = max(1.0, math.sqrt(float(np.sum(U * U)) / n) / d)
    p -= (alpha / clip) * U


UPDATES = {"sgd": sgd, "adam": adam, "adamw": adamw, "rmsprop": rmsprop, "adagrad": adagrad,
           "adamax": adamax, "radam": radam,
           "adadelta": adadelta, "rprop": rprop, "lion": lion,
           "nadam": nadam, "asgd": asgd, "lamb": lamb, "lars": lars,
           "adafactor": adafactor}


def step(optimizer, params, grads, states, t, options):
    """One step over lists of float64 arrays: params[i], grads[i], states[name][i]."""
    update = UPDATES[optimizer]
    with np.errstate(all="ignore"):
        for i, (p, g) in enumerate(zip(params, grads)):
            update(p, g, {name: arrays[i] for name, arrays in states.items()}, t, **options)

