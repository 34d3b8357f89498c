"""The optimizers: torch.optim's constructors and defaults over pygd's kernels, each read from its
spec (_specs.py) by Optimizer.__init_subclass__ (_base.py)."""

from .._specs import SPECS
from ._base import Optimizer


class SGD(Optimizer, spec=SPECS["sgd"]):
    """torch.optim.SGD: momentum, dampening, Nesterov, (coupled) weight decay, maximize."""


class Adam(Optimizer, spec=SPECS["adam"]):
    """torch.optim.Adam: bias-corrected moments, (coupled) weight decay, AMSGrad, maximize;
    decoupled_weight_decay=True makes it AdamW."""


class AdamW(Adam, spec=SPECS["adamw"]):
    """torch.optim.AdamW: Adam with decoupled weight decay (default 1e-2)."""


class RMSprop(Optimizer, spec=SPECS["rmsprop"]):
    """torch.optim.RMSprop: optionally centered, with momentum, (coupled) weight decay, maximize."""


class Adagrad(Optimizer, spec=SPECS["adagrad"]):
    """torch.optim.Adagrad: learning-rate decay, (coupled) weight decay, initial accumulator, maximize."""


class Adamax(Optimizer, spec=SPECS["adamax"]):
    """torch.optim.Adamax: Adam's first moment over an infinity-norm second moment, (coupled) weight
    decay, maximize."""


class RAdam(Optimizer, spec=SPECS["radam"]):
    """torch.optim.RAdam: Adam with a rectified adaptive step, coupled or decoupled weight decay,
    maximize."""


class Adadelta(Optimizer, spec=SPECS["adadelta"]):
    """torch.optim.Adadelta: running averages of squared grads and squared updates, (coupled)
    weight decay, maximize."""


class Rprop(Optimizer, spec=SPECS["rprop"]):
    """torch.optim.Rprop: per-element step sizes adapted by the gradient's sign, within bounds;
    they start at lr. maximize."""


class Lion(Optimizer, spec=SPECS["lion"]):
    """Lion (Chen et al. 2023, not in torch.optim): the sign of an interpolation of momentum and
    gradient, decoupled weight decay, maximize."""


class NAdam(Optimizer, spec=SPECS["nadam"]):
    """torch.optim.NAdam: Adam with Nesterov momentum through a momentum schedule, coupled or
    decoupled weight decay, maximize. Each param's state keeps "mu_product" (a float, the product
    of the momentum coefficients so far, as torch keeps it)."""


class ASGD(Optimizer, spec=SPECS["asgd"]):
    """torch.optim.ASGD: SGD with a decaying learning rate and a running average of the params
    (state "ax"), coupled weight decay, maximize. Each param's state keeps "eta" and "mu" (floats,
    advanced after each step as torch's)."""


class LAMB(Optimizer, spec=SPECS["lamb"]):
    """LAMB (You et al. 2019, not in torch.optim), as optax.lamb: Adam's direction plus weight
    decay, scaled per param by the trust ratio ||param|| / ||update||. A group with
    trust_ratio=False takes the plain update, one with weight_decay=0.0 no decay (optax's masks);
    maximize."""


class LARS(Optimizer, spec=SPECS["lars"]):
    """LARS (You et al. 2017, not in torch.optim), as optax.lars: grad plus weight decay, scaled
    per param by trust_coefficient * ||param|| / (||update|| + eps), then momentum (optax's trace,
    optionally Nesterov). A group with trust_ratio=False takes the plain update, one with
    weight_decay=0.0 no decay (optax's masks); maximize."""


class Adafactor(Optimizer, spec=SPECS["adafactor"]):
    """torch.optim.Adafactor: a second moment factored into row and column means for params of
    dim > 1 (the last two dims; leading dims a batch), relative step sizes min(lr, 1 / sqrt(t))
    scaled by the param's RMS, update clipping at d, decoupled weight decay; maximize. Its state per
    param is torch's: row_var and col_var (dim > 1) or variance (dim <= 1), and the step count."""
