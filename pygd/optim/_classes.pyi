# Generated from pygd/_specs.py by `python -m pygd._stubgen`: edit the specs (or
# pygd/_steps.py, pygd/_stubgen.py), not this file.
"""The optimizers: torch.optim's constructors and defaults over pygd's kernels, each read from its
spec (_specs.py) by Optimizer.__init_subclass__ (_base.py)."""

from collections.abc import Iterable

from .._typing import Backend, FloatArray, ParamGroup
from ._base import Optimizer

class SGD(Optimizer):
    """torch.optim.SGD: momentum, dampening, Nesterov, (coupled) weight decay, maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.001,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected moments, (coupled) weight decay, AMSGrad, maximize;
    decoupled_weight_decay=True makes it AdamW."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-08,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (default 1e-2)."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-08,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class RMSprop(Optimizer):
    """torch.optim.RMSprop: optionally centered, with momentum, (coupled) weight decay, maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-08,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class Adagrad(Optimizer):
    """torch.optim.Adagrad: learning-rate decay, (coupled) weight decay, initial accumulator, maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.01,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class Adamax(Optimizer):
    """torch.optim.Adamax: Adam's first moment over an infinity-norm second moment, (coupled) weight
    decay, maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.002,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-08,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class RAdam(Optimizer):
    """torch.optim.RAdam: Adam with a rectified adaptive step, coupled or decoupled weight decay,
    maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-08,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class Adadelta(Optimizer):
    """torch.optim.Adadelta: running averages of squared grads and squared updates, (coupled)
    weight decay, maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-06,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class Rprop(Optimizer):
    """torch.optim.Rprop: per-element step sizes adapted by the gradient's sign, within bounds;
    they start at lr. maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.01,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-06, 50.0),
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class NAdam(Optimizer):
    """torch.optim.NAdam: Adam with Nesterov momentum through a momentum schedule, coupled or
    decoupled weight decay, maximize. Each param's state keeps "mu_product" (a float, the product
    of the momentum coefficients so far, as torch keeps it)."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.002,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-08,
        weight_decay: float = 0.0,
        momentum_decay: float = 0.004,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class ASGD(Optimizer):
    """torch.optim.ASGD: SGD with a decaying learning rate and a running average of the params
    (state "ax"), coupled weight decay, maximize. Each param's state keeps "eta" and "mu" (floats,
    advanced after each step as torch's)."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.01,
        lambd: float = 0.0001,
        alpha: float = 0.75,
        t0: float = 1000000.0,
        weight_decay: float = 0.0,
        maximize: bool = False,
        *,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class Lion(Optimizer):
    """Lion (Chen et al. 2023, not in torch.optim): the sign of an interpolation of momentum and
    gradient, decoupled weight decay, maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.0001,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class Adafactor(Optimizer):
    """torch.optim.Adafactor: a second moment factored into row and column means for params of
    dim > 1 (the last two dims; leading dims a batch), relative step sizes min(lr, 1 / sqrt(t))
    scaled by the param's RMS, update clipping at d, decoupled weight decay; maximize. Its state per
    param is torch's: row_var and col_var (dim > 1) or variance (dim <= 1), and the step count."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.01,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 0.001),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class LAMB(Optimizer):
    """LAMB (You et al. 2019, not in torch.optim), as optax.lamb: Adam's direction plus weight
    decay, scaled per param by the trust ratio ||param|| / ||update||. A group with
    trust_ratio=False takes the plain update, one with weight_decay=0.0 no decay (optax's masks);
    maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-06,
        weight_decay: float = 0.0,
        trust_ratio: bool = True,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...


class LARS(Optimizer):
    """LARS (You et al. 2017, not in torch.optim), as optax.lars: grad plus weight decay, scaled
    per param by trust_coefficient * ||param|| / (||update|| + eps), then momentum (optax's trace,
    optionally Nesterov). A group with trust_ratio=False takes the plain update, one with
    weight_decay=0.0 no decay (optax's masks); maximize."""

    def __init__(
        self,
        params: Iterable[FloatArray] | Iterable[ParamGroup],
        lr: float = 1.0,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
        eps: float = 0.0,
        nesterov: bool = False,
        trust_ratio: bool = True,
        *,
        maximize: bool = False,
        backend: Backend = "auto",
        state_dtype: str | None = None,
    ) -> None: ...
