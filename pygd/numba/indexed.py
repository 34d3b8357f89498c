"""Each optimizer's element function applied to arrays at one index: loads, update, stores.

`adam_at(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s)` updates element i of the arrays
in place. A state the options leave unused is passed as None: Numba compiles the None case
separately, without loading or storing that state. pygd's CPU loops and CUDA kernels call these,
and so can a user's own @njit or @cuda.jit loop over arrays.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._specs import KERNELS
from . import scalars
from .elements import (
    adadelta_element,
    adagrad_element,
    adam_element,
    adamax_element,
    asgd_element,
    lion_element,
    nadam_element,
    radam_element,
    rmsprop_element,
    rprop_element,
    sgd_element,
)

_indexed = njit(cache=True, error_model="numpy")


@_indexed
def sgd_at(i, param, grad, momentum_buffer, s):
    """Updates element i of param (and momentum_buffer, None when unused) in place by SGD."""
    p = param[i]
    buf = p if momentum_buffer is None else momentum_buffer[i]
    param[i], buf = sgd_element(p, grad[i], buf, s)
    if momentum_buffer is not None:
        momentum_buffer[i] = buf


@_indexed
def adam_at(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s):
    """Updates element i of param, exp_avg, exp_avg_sq (and max_exp_avg_sq, None when unused) in
    place by Adam or AdamW (as the scalars say)."""
    p = param[i]
    vmax = p if max_exp_avg_sq is None else max_exp_avg_sq[i]
    param[i], exp_avg[i], exp_avg_sq[i], vmax = adam_element(p, grad[i], exp_avg[i], exp_avg_sq[i],
                                                             vmax, s)
    if max_exp_avg_sq is not None:
        max_exp_avg_sq[i] = vmax


@_indexed
def rmsprop_at(i, param, grad, square_avg, momentum_buffer, grad_avg, s):
    """Updates element i of param, square_avg (and momentum_buffer, grad_avg, None when unused)
    in place by RMSprop."""
    p = param[i]
    buf = p if momentum_buffer is None else momentum_buffer[i]
    g_avg = p if grad_avg is None else grad_avg[i]
    param[i], square_avg[i], buf, g_avg = rmsprop_element(p, grad[i], square_avg[i], buf, g_avg, s)
    if momentum_buffer is not None:
        momentum_buffer[i] = buf
    if grad_avg is not None:
        grad_avg[i] = g_avg


@_indexed
def adagrad_at(i, param, grad, state_sum, s):
    """Updates element i of param and state_sum in place by Adagrad."""
    param[i], state_sum[i] = adagrad_element(param[i], grad[i], state_sum[i], s)


@_indexed
def adamax_at(i, param, grad, exp_avg, exp_inf, s):
    """Updates element i of param, exp_avg and exp_inf in place by Adamax."""
    param[i], exp_avg[i], exp_inf[i] = adamax_element(param[i], grad[i], exp_avg[i], exp_inf[i], s)


@_indexed
def radam_at(i, param, grad, exp_avg, exp_avg_sq, s):
    """Updates element i of param, exp_avg and exp_avg_sq in place by RAdam."""
    param[i], exp_avg[i], exp_avg_sq[i] = radam_element(param[i], grad[i], exp_avg[i], exp_avg_sq[i], s)


@_indexed
def adadelta_at(i, param, grad, square_avg, acc_delta, s):
    """Updates element i of param, square_avg and acc_delta in place by Adadelta."""
    param[i], square_avg[i], acc_delta[i] = adadelta_element(param[i], grad[i], square_avg[i], acc_delta[i], s)


@_indexed
def rprop_at(i, param, grad, prev, step_size, s):
    """Updates element i of param, prev and step_size in place by Rprop."""
    param[i], prev[i], step_size[i] = rprop_element(param[i], grad[i], prev[i], step_size[i], s)


@_indexed
def lion_at(i, param, grad, exp_avg, s):
    """Updates element i of param and exp_avg in place by Lion."""
    param[i], exp_avg[i] = lion_element(param[i], grad[i], exp_avg[i], s)


@_indexed
def nadam_at(i, param, grad, exp_avg, exp_avg_sq, s):
    """Updates element i of param, exp_avg and exp_avg_sq in place by NAdam."""
    param[i], exp_avg[i], exp_avg_sq[i] = nadam_element(param[i], grad[i], exp_avg[i], exp_avg_sq[i], s)


@_indexed
def asgd_at(i, param, grad, ax, s):
    """Updates element i of param and ax in place by ASGD."""
    param[i], ax[i] = asgd_element(param[i], grad[i], ax[i], s)


def update_at(i, arrays, s):
    """`<optimizer>_at(i, *arrays, s)` for the optimizer whose step's scalars `s` are: compiled
    loops that serve every optimizer (pygd.numba.cpu_loops) call this, and the overload below picks the
    function from the type of `s` while typing, so each optimizer's loop is compiled (and cached)
    on its own."""
    return _AT_BY_SCALARS[type(s)](i, *arrays, s)


def _scalars_type(kernel):
    """The namedtuple class of `kernel`'s scalars (pygd.numba.scalars.<kernel>_scalars)."""
    make = getattr(scalars, f"{kernel}_scalars")
    spec = KERNELS[kernel]
    state = {o.name: 0.5 for o in spec.state_scalars}  # any valid value: only the type is read
    return type(make(np.float64, 1, **state) if spec.takes_step else make(np.float64, **state))


# The elementwise kernels' (the trust-ratio ones, LAMB and LARS, run trust_loops.py's two passes;
# pygd.numba has no factored one, Adafactor: its backend refuses it by name).
_AT_BY_SCALARS = {_scalars_type(kernel): globals()[f"{kernel}_at"] for kernel, spec in KERNELS.items()
                  if not spec.trust_ratio and not spec.factored}


@overload(update_at, inline="always")
def _update_at(i, arrays, s):
    at = _AT_BY_SCALARS.get(getattr(s, "instance_class", None))
    if at is None or not isinstance(arrays, types.BaseTuple):
        return None
    args = "".join(f"arrays[{j}], " for j in range(len(arrays)))
    namespace = {"at": at}
    exec(f"def impl(i, arrays, s):\n    at(i, {args}s)", namespace)  # noqa: S102 - an argument list
    return namespace["impl"]
