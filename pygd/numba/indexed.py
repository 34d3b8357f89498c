"""Each optimizer's element function applied to arrays at one index: loads, update, stores.

`adam_at(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s)` updates element i of the arrays
in place. A state the options leave unused is passed as None: Numba compiles the None case
separately, without loading or storing that state. pygd's CPU loops and CUDA kernels call these,
and so can a user's own @njit or @cuda.jit loop over arrays.
"""

from numba import njit

from .elements import adagrad_element, adam_element, rmsprop_element, sgd_element

_indexed = njit(cache=True, error_model="numpy")


@_indexed
def sgd_at(i, param, grad, momentum_buffer, s):
    p = param[i]
    buf = p if momentum_buffer is None else momentum_buffer[i]
    param[i], buf = sgd_element(p, grad[i], buf, s)
    if momentum_buffer is not None:
        momentum_buffer[i] = buf


@_indexed
def adam_at(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s):
    p = param[i]
    vmax = p if max_exp_avg_sq is None else max_exp_avg_sq[i]
    param[i], exp_avg[i], exp_avg_sq[i], vmax = adam_element(p, grad[i], exp_avg[i], exp_avg_sq[i],
                                                             vmax, s)
    if max_exp_avg_sq is not None:
        max_exp_avg_sq[i] = vmax


@_indexed
def rmsprop_at(i, param, grad, square_avg, momentum_buffer, grad_avg, s):
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
    param[i], state_sum[i] = adagrad_element(param[i], grad[i], state_sum[i], s)
