"""First steps with pygd: two classic gradient-descent problems, solved with in-place steps.

1. Minimize f(x) = (x - 2)^2 with plain gradient descent: x <- x - lr * f'(x).
2. Fit y = X w + b by least squares with batch gradient descent (the whole data set every step),
   first with SGD + momentum, then with Adam, printing the loss as it descends.
"""

import numpy as np

import pygd


def minimize_parabola(lr=0.1, steps=25):
    print("1) minimize f(x) = (x - 2)^2 from x = 10, SGD with lr =", lr)
    x = np.array([10.0])
    for step in range(1, steps + 1):
        grad = 2.0 * (x - 2.0)  # f'(x)
        pygd.sgd_(x, grad, step=step, lr=lr)
        if step in (1, 2, 3, 5, 10, 15, 20, 25):
            print(f"   step {step:3d}   x = {x[0]:.6f}   f(x) = {(x[0] - 2.0) ** 2:.3e}")
    return x[0]


def sgd_momentum(params, lr=0.1, momentum=0.9):
    buffers = [np.zeros_like(p) for p in params]
    return lambda grads, step: pygd.sgd_(params, grads, buffers, step=step, lr=lr, momentum=momentum)


def adam(params, lr=0.05):
    exp_avgs = [np.zeros_like(p) for p in params]
    exp_avg_sqs = [np.zeros_like(p) for p in params]
    return lambda grads, step: pygd.adam_(params, grads, exp_avgs, exp_avg_sqs, step=step, lr=lr)


def least_squares(make_optimizer, steps=300):
    rng = np.random.default_rng(0)
    n, d = 1000, 5
    X = rng.standard_normal((n, d))
    true_w, true_b = np.array([1.5, -2.0, 0.5, 3.0, -1.0]), 0.7
    y = X @ true_w + true_b + 0.1 * rng.standard_normal(n)

    w, b = np.zeros(d), np.zeros(1)
    optimizer_step = make_optimizer([w, b])  # one multi-tensor call updates both
    print(f"2) least squares, n={n}, d={d}: batch gradient descent with {make_optimizer.__name__}")
    for step in range(1, steps + 1):
        residual = X @ w + b - y
        loss = 0.5 * np.mean(residual ** 2)
        optimizer_step([X.T @ residual / n, np.array([residual.mean()])], step)
        if step in (1, 2, 5, 10, 25, 50, 100, 200, 300):
            print(f"   step {step:3d}   loss = {loss:.6f}")
    print(f"   w = {np.round(w, 3)} (true {true_w}),  b = {b[0]:.3f} (true {true_b})")
    return w, b


if __name__ == "__main__":
    info = pygd.info()
    print(f"pygd {info['version']}: backend {info['backend']}, isa {info['isa']}, "
          f"{info['threads']} threads\n")
    minimize_parabola()
    print()
    least_squares(sgd_momentum)
    print()
    least_squares(adam)
