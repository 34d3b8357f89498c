"""pygd: fused, native-accelerated gradient-descent steps for NumPy arrays.

    import pygd
    pygd.adam_(params, grads, exp_avgs, exp_avg_sqs, step=1, lr=1e-3)

See pygd.functional for the update functions, pygd.optim for optimizer classes, pygd.schedules
for learning-rate schedules, pygd.data for mini-batching, and pygd.info() for what runs here.
"""

from . import _threadpoolctl, data, optim, schedules
from ._paths import get_include, get_library
from ._state_scalars import nadam_momentum
from ._version import __version__
from .accumulation import GradientAccumulator, accumulate_
from .clip import clip_grad_norm_, clip_grad_value_, grad_norm
from .functional import (
    adadelta_,
    adafactor_,
    adagrad_,
    adam_,
    adamax_,
    adamw_,
    asgd_,
    lamb_,
    lars_,
    lion_,
    nadam_,
    radam_,
    rmsprop_,
    rprop_,
    sgd_,
)
from .runtime import get_num_threads, info, set_isa, set_num_threads

_threadpoolctl.register()

__all__ = [
    "__version__",
    "sgd_", "adam_", "adamw_", "rmsprop_", "adagrad_", "adamax_", "radam_", "adadelta_", "rprop_", "lion_",
    "nadam_", "nadam_momentum", "asgd_", "lamb_", "lars_", "adafactor_",
    "optim", "schedules", "data",
    "clip_grad_norm_", "clip_grad_value_", "grad_norm", "accumulate_", "GradientAccumulator",
    "info", "set_num_threads", "get_num_threads", "set_isa",
    "get_include", "get_library",
]
