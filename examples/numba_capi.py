"""A Numba training loop that calls pygd's C ABI from nopython code, through cffi.

Logistic regression on generated data: the whole loop (gradients and Adam steps) is one @njit
function, which calls `pygd_adam_step` (libpygd) directly, with no Python in between. The same
training through `pygd.adam_` from Python gives the same bits, which this script checks.

    pip install "pygd[numba,capi]"
    python examples/numba_capi.py [epochs]

pygd.capi.nopython() declares the library so that Numba can type it: pointer tables as arrays of
addresses (np.uint64), the hyperparameter struct as its bytes (np.uint8).
"""

import sys

import numba
import numpy as np

import pygd
import pygd.capi

nffi, nlib = pygd.capi.nopython()
adam_step = nlib.pygd_adam_step
FLOAT64 = nlib.PYGD_FLOAT64


@numba.njit(cache=False)
def gradients(x, y, w, b, gw, gb):
    """The mean logistic loss over (x, y), and its gradient into gw, gb."""
    n, d = x.shape
    loss = 0.0
    gw[:] = 0.0
    gb[0] = 0.0
    for i in range(n):
        z = b[0]
        for j in range(d):
            z += w[j] * x[i, j]
        p = 1.0 / (1.0 + np.exp(-z))
        loss -= y[i] * np.log(p + 1e-12) + (1.0 - y[i]) * np.log(1.0 - p + 1e-12)
        r = (p - y[i]) / n
        for j in range(d):
            gw[j] += r * x[i, j]
        gb[0] += r
    return loss / n


@numba.njit(cache=False)
def train(x, y, w, b, gw, gb, tables, sizes, hparams, epochs):
    """`epochs` full-batch Adam steps over the two tensors (w, b): one C call per step. Returns
    0, or the failing step's error code (pygd.capi.last_error() has the message)."""
    for t in range(1, epochs + 1):
        gradients(x, y, w, b, gw, gb)
        code = adam_step(FLOAT64, 2, nffi.from_buffer(sizes), nffi.from_buffer(tables[0]),
                         nffi.from_buffer(tables[1]), nffi.from_buffer(tables[2]),
                         nffi.from_buffer(tables[3]), nffi.from_buffer(tables[4]), t,
                         nffi.from_buffer(hparams), 1.0)
        if code != 0:
            return code
    return 0


def data(samples=512, features=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (samples, features))
    truth = rng.standard_normal(features) * 2
    y = (x @ truth + 0.5 + 0.3 * rng.standard_normal(samples) > 0).astype(np.float64)
    return x, y


def main(epochs=300):
    x, y = data()
    d = x.shape[1]
    model = [np.zeros(d), np.zeros(1)]  # w, b
    grads = [np.zeros(d), np.zeros(1)]
    m = [np.zeros(d), np.zeros(1)]
    v = [np.zeros(d), np.zeros(1)]
    # One table per stream (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs: unused here),
    # each the addresses of the two tensors.
    tables = np.array([[a.ctypes.data for a in stream] for stream in (model, grads, m, v)] + [[0, 0]],
                      dtype=np.uint64)
    sizes = np.array([d, 1], dtype=np.int64)
    hp = pygd.capi.hparams("adam", lr=0.05)
    hp_bytes = np.frombuffer(pygd.capi.ffi.buffer(hp), np.uint8).copy()
    code = train(x, y, model[0], model[1], grads[0], grads[1], tables, sizes, hp_bytes, epochs)
    if code:
        raise pygd.capi.error(code)

    # The same loop from Python, through pygd.adam_: the same bits.
    ref = [np.zeros(d), np.zeros(1)]
    ref_grads = [np.zeros(d), np.zeros(1)]
    ref_m = [np.zeros(d), np.zeros(1)]
    ref_v = [np.zeros(d), np.zeros(1)]
    for t in range(1, epochs + 1):
        loss = gradients(x, y, ref[0], ref[1], ref_grads[0], ref_grads[1])
        pygd.adam_(ref, ref_grads, ref_m, ref_v, step=t, lr=0.05)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(model, ref)), "the C ABI and pygd.adam_ differ"
    accuracy = float(np.mean(((x @ model[0] + model[1][0]) > 0) == (y > 0.5)))
    print(f"{epochs} epochs: loss {loss:.4f}, accuracy {accuracy:.3f}; "
          "the Numba loop over the C ABI and pygd.adam_ agree bit for bit")
    return model


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
