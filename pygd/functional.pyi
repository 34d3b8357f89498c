# Generated from pygd/_specs.py by `python -m pygd._stubgen`: edit the specs (or
# pygd/_steps.py, pygd/_stubgen.py), not this file.
"""In-place optimizer steps over one NumPy array or a list of arrays (multi-tensor).

Each function validates its hyperparameters, then hands the whole list to the chosen backend in one
call, which checks the arrays before writing anything (an unfit one comes back as a problem that
_validate words as the exception): with the native backend, that is one GIL release and one
multi-threaded pass over every tensor. Arrays are updated in place and the functions return None.
The update rules are those of torch.optim (docs/update-rules.md). An array argument is an ndarray
or a list/tuple of ndarrays aligned with `params`; float32 or float64, C-contiguous, and writable
unless it is a grad. With backend="auto", params on a GPU (CuPy, Numba, torch CUDA tensors,
DLPack) are updated there by the CUDA backend.

The functions are compiled from the optimizers' specs (_specs.py, _steps.py): their signatures,
defaults and checks are declared there, once.
"""

from ._typing import Arrays, Backend, CopyArrays, F, FactorArrays

__all__ = [
    "sgd_",
    "adam_",
    "adamw_",
    "rmsprop_",
    "adagrad_",
    "adamax_",
    "radam_",
    "adadelta_",
    "rprop_",
    "nadam_",
    "asgd_",
    "lion_",
    "adafactor_",
    "lamb_",
    "lars_",
]


def sgd_(
    params: Arrays[F],
    grads: Arrays[F],
    momentum_buffers: Arrays[F] | None = None,
    *,
    step: int,
    lr: float = 0.001,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """SGD, with optional momentum, dampening, Nesterov momentum and (coupled) weight decay.

    `momentum_buffers` is required when momentum != 0; at step 1 it is overwritten with the
    gradient (no dampening on the first step, as torch.optim.SGD), so its initial content is unused.
    """


def adam_(
    params: Arrays[F],
    grads: Arrays[F],
    exp_avgs: Arrays[F],
    exp_avg_sqs: Arrays[F],
    *,
    step: int,
    lr: float = 0.001,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-08,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    max_exp_avg_sqs: Arrays[F] | None = None,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """Adam, with coupled (L2) weight decay and optional AMSGrad.

    States start as zeros; `max_exp_avg_sqs` is required when amsgrad=True.
    """


def adamw_(
    params: Arrays[F],
    grads: Arrays[F],
    exp_avgs: Arrays[F],
    exp_avg_sqs: Arrays[F],
    *,
    step: int,
    lr: float = 0.001,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-08,
    weight_decay: float = 0.01,
    amsgrad: bool = False,
    max_exp_avg_sqs: Arrays[F] | None = None,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """AdamW: Adam with decoupled weight decay, param *= 1 - lr * weight_decay before the update.
    """


def rmsprop_(
    params: Arrays[F],
    grads: Arrays[F],
    square_avgs: Arrays[F],
    *,
    lr: float = 0.01,
    alpha: float = 0.99,
    eps: float = 1e-08,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    momentum_buffers: Arrays[F] | None = None,
    centered: bool = False,
    grad_avgs: Arrays[F] | None = None,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """RMSprop, optionally centered and with momentum.

    `momentum_buffers` is required when momentum > 0, `grad_avgs` when centered=True; all states
    start as zeros.
    """


def adagrad_(
    params: Arrays[F],
    grads: Arrays[F],
    state_sums: Arrays[F],
    *,
    step: int,
    lr: float = 0.01,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """Adagrad with learning-rate decay lr / (1 + (step - 1) * lr_decay).

    `state_sums` starts at the initial accumulator value (torch's default: zeros).
    """


def adamax_(
    params: Arrays[F],
    grads: Arrays[F],
    exp_avgs: Arrays[F],
    exp_infs: Arrays[F],
    *,
    step: int,
    lr: float = 0.002,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-08,
    weight_decay: float = 0.0,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """Adamax: Adam's bias-corrected first moment over an exponentially weighted infinity norm,
    exp_inf = max(beta2 * exp_inf, |grad| + eps), with (coupled) weight decay.

    States start as zeros.
    """


def radam_(
    params: Arrays[F],
    grads: Arrays[F],
    exp_avgs: Arrays[F],
    exp_avg_sqs: Arrays[F],
    *,
    step: int,
    lr: float = 0.001,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-08,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """RAdam: Adam with its adaptive step rectified by the variance of the second moment's
    estimate, and plain bias-corrected momentum while that variance is intractable (the SMA length
    rho_t <= 5: the first steps, and every step for small beta2); coupled weight decay, or
    decoupled (param *= 1 - lr * weight_decay) with decoupled_weight_decay=True.

    States start as zeros.
    """


def adadelta_(
    params: Arrays[F],
    grads: Arrays[F],
    square_avgs: Arrays[F],
    acc_deltas: Arrays[F],
    *,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-06,
    weight_decay: float = 0.0,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """Adadelta: delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad, both running
    averages with rho (square_avg of grad², acc_delta of delta²), then param -= lr * delta; coupled
    weight decay.

    States start as zeros.
    """


def rprop_(
    params: Arrays[F],
    grads: Arrays[F],
    prevs: Arrays[F],
    step_sizes: Arrays[F],
    *,
    etas: tuple[float, float] = (0.5, 1.2),
    step_size_min: float = 1e-06,
    step_size_max: float = 50.0,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """Rprop (resilient backpropagation): each element's step size grows by etaplus while its
    gradient keeps its sign and shrinks by etaminus when the sign flips (then that gradient counts as
    0, for this step and the next comparison), within step_sizes; param -= sign(grad) * step_size.

    `prevs` (the last gradients) start as zeros and `step_sizes` at lr (torch's initial step size).
    """


def nadam_(
    params: Arrays[F],
    grads: Arrays[F],
    exp_avgs: Arrays[F],
    exp_avg_sqs: Arrays[F],
    *,
    step: int,
    lr: float = 0.002,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-08,
    weight_decay: float = 0.0,
    momentum_decay: float = 0.004,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    mu_product: float,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """NAdam: Adam with Nesterov momentum, through the momentum schedule
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)); coupled weight decay, or decoupled
    (param *= 1 - lr * weight_decay) with decoupled_weight_decay=True.

    `mu_product` is mu_1 * ... * mu_t, through this step: state the caller keeps, as torch keeps
    state["mu_product"] (pygd.optim.NAdam keeps it; `pygd.nadam_momentum(t, beta1, momentum_decay)`
    gives mu_t, so at step t it is the last step's times that). States start as zeros.
    """


def asgd_(
    params: Arrays[F],
    grads: Arrays[F],
    axs: Arrays[F],
    *,
    lambd: float = 0.0001,
    weight_decay: float = 0.0,
    maximize: bool = False,
    eta: float,
    mu: float,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """ASGD (averaged SGD): param = param * (1 - lambd * eta) - eta * grad, and ax, the running
    average of the params, ax += mu * (param - ax) (ax = param while mu == 1); coupled weight decay.

    `eta` and `mu` are state the caller keeps, as torch keeps state["eta"] and state["mu"], here
    their values before this step: after step t they become lr / (1 + lambd * lr * t) ** alpha and
    1 / max(1, t - t0) (pygd.optim.ASGD keeps them, from its lr, alpha and t0). `axs` start as zeros.
    """


def lion_(
    params: Arrays[F],
    grads: Arrays[F],
    exp_avgs: Arrays[F],
    *,
    lr: float = 0.0001,
    betas: tuple[float, float] = (0.9, 0.99),
    weight_decay: float = 0.0,
    maximize: bool = False,
    param_copy: CopyArrays | None = None,
    backend: Backend = "auto",
) -> None:
    """Lion (Chen et al. 2023): param -= lr * sign(beta1 * exp_avg + (1 - beta1) * grad), then
    exp_avg = beta2 * exp_avg + (1 - beta2) * grad; decoupled weight decay (param *= 1 - lr *
    weight_decay first), as the paper and optax. sign(0) is 0 and a NaN stays NaN.

    `exp_avgs` start as zeros.
    """


def adafactor_(
    params: Arrays[F],
    grads: Arrays[F],
    row_vars: FactorArrays[F],
    col_vars: FactorArrays[F],
    variances: FactorArrays[F],
    *,
    step: int,
    lr: float = 0.01,
    beta2_decay: float = -0.8,
    eps: tuple[float | None, float] = (None, 0.001),
    d: float = 1.0,
    weight_decay: float = 0.0,
    maximize: bool = False,
    backend: Backend = "auto",
) -> None:
    """Adafactor (Shazeer and Stern 2018) as torch.optim.Adafactor: per tensor, with t the
    step, rho = min(lr, 1 / sqrt(t)) and alpha = max(eps2, rms(param)) * rho (the param before
    weight decay); param *= 1 - lr * weight_decay; the second moment lerps toward grad**2 by
    t ** beta2_decay, factored for a param of dim > 1 (row_var, the mean over its last dim, and
    col_var, over its second-to-last: leading dims are a batch of matrices) into
    var = row_var * col_var / max(mean(row_var), eps1), full for dim <= 1 (variance);
    u = grad / sqrt(max(var, eps1**2)); param -= alpha / max(1, rms(u) / d) * u.

    eps = (eps1, eps2); eps1=None is the params' dtype's machine epsilon. For each param of dim > 1,
    `row_vars[i]` has its shape with the last dim 1 and `col_vars[i]` its shape with dim -2 1, and
    `variances[i]` is not read; for dim <= 1, `variances[i]` has its shape and `row_vars[i]`,
    `col_vars[i]` are not read (pass None). The norms and factor sums are the same bits whatever
    the thread count.

    States start as zeros.
    """


def lamb_(
    params: Arrays[F],
    grads: Arrays[F],
    exp_avgs: Arrays[F],
    exp_avg_sqs: Arrays[F],
    *,
    step: int,
    lr: float = 0.001,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-06,
    weight_decay: float = 0.0,
    trust_ratio: bool = True,
    maximize: bool = False,
    backend: Backend = "auto",
) -> None:
    """LAMB (You et al. 2019), as optax.lamb: Adam's bias-corrected direction
    u = m_hat / (sqrt(v_hat) + eps) + weight_decay * param, then, per tensor,
    param -= lr * ratio * u with ratio = ||param|| / ||u||, or 1 where either norm is 0.

    trust_ratio=False takes ratio = 1 (optax's masked-out leaves); weight_decay=0.0 is the weight
    decay mask's False. The norms are the same bits whatever the thread count. A NaN anywhere in a
    tensor's param or u makes its ratio, and so all of its params, NaN (as optax's).

    States start as zeros.
    """


def lars_(
    params: Arrays[F],
    grads: Arrays[F],
    momentum_buffers: Arrays[F] | None = None,
    *,
    lr: float = 1.0,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    trust_coefficient: float = 0.001,
    eps: float = 0.0,
    nesterov: bool = False,
    trust_ratio: bool = True,
    maximize: bool = False,
    backend: Backend = "auto",
) -> None:
    """LARS (You et al. 2017), as optax.lars: u = grad + weight_decay * param, scaled per
    tensor by ratio = trust_coefficient * ||param|| / (||u|| + eps) (1 where either norm is 0) and
    by -lr, then optax's trace: buf = momentum * buf - lr * ratio * u, and param += buf (with
    nesterov, param += momentum * buf - lr * ratio * u).

    trust_ratio=False takes ratio = 1 (optax's trust_ratio_mask False); weight_decay=0.0 is the
    weight decay mask's False. The norms are the same bits whatever the thread count.

    `momentum_buffers` is required when momentum != 0 and starts as zeros (optax's trace).
    """
