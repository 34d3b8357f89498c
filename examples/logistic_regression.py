"""Logistic regression on the breast-cancer data set, trained every way pygd offers.

The data set (569 tumours, 30 features, benign or malignant) ships inside scikit-learn, so nothing is
downloaded. The model is p(malignant | x) = sigmoid(x . w + b), fitted by minimizing binary
cross-entropy; the loss and its gradient are plain NumPy, pygd does the parameter updates.

It trains the same model many times and prints one table row per run:

- batch, stochastic and mini-batch gradient descent: pygd.data.batches with batch_size = n, 1, 32;
- each optimizer class: SGD (plain, momentum, Nesterov), Adam, AdamW, RMSprop, Adagrad;
- a warmup + cosine learning-rate schedule (pygd.schedules.attach) with gradient-norm clipping;
- a learning rate far too high (the run is stopped and reported as diverged) and one far too low
  (reported as having barely moved the loss).

With matplotlib installed it also saves the loss curves as a PNG.

    pip install scikit-learn matplotlib      # matplotlib is optional
    python examples/logistic_regression.py [--epochs 30] [--seed 0] [--plot logistic_regression.png]
"""

import argparse
import math
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import pygd
from pygd import optim, schedules

DTYPE = np.float32             # data, parameters and gradients: one dtype throughout
TEST_FRACTION = 0.2            # held out, to show the fit generalizes
DIVERGENCE_FACTOR = 10.0       # a loss this many times the initial one counts as diverged
BARELY_MOVED = 0.05            # a relative loss drop below this counts as "barely moved"
MINI_BATCH = 32


# ----------------------------------------------------------------------------- data

@dataclass
class Dataset:
    X: np.ndarray   # (samples, features), standardized
    y: np.ndarray   # (samples,), 1.0 = malignant, 0.0 = benign

    def __len__(self):
        return len(self.y)


def load_data(seed):
    """The breast-cancer data as (train, test), split at random and standardized."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        sys.exit("This example needs scikit-learn, whose bundled breast-cancer data set it trains "
                 "on: pip install scikit-learn")
    X, y = load_breast_cancer(return_X_y=True)
    # sklearn labels malignant 0; flip it so that the model predicts the probability of malignancy.
    y = 1.0 - y
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(TEST_FRACTION * len(y))
    test, train = order[:n_test], order[n_test:]
    # Features span five orders of magnitude (areas in the thousands, smoothness near 0.1): without
    # standardizing, no single learning rate suits every weight. The statistics come from the
    # training split only, so the test split stays unseen.
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    X = (X - mean) / std
    return (Dataset(X[train].astype(DTYPE), y[train].astype(DTYPE)),
            Dataset(X[test].astype(DTYPE), y[test].astype(DTYPE)))


# ----------------------------------------------------------------------------- the model

def init_params(features):
    """[w, b] at zero: the loss is convex, so no random start is needed, and every run starts from
    the same loss, log 2."""
    return [np.zeros(features, DTYPE), np.zeros(1, DTYPE)]


def logits(params, X):
    w, b = params
    return X @ w + b[0]


def sigmoid(z):
    # Equal to 1 / (1 + exp(-z)), but tanh cannot overflow, where exp(-z) does for z < -88 in
    # float32 (and warns).
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def bce_loss(params, data):
    """Mean binary cross-entropy, -[y log p + (1 - y) log(1 - p)] with p = sigmoid(z).

    Written as log(1 + e^z) - y z, which is the same quantity: evaluating log(p) directly gives
    log(0) = -inf as soon as p rounds to 0 (z below about -17 in float32), and logaddexp(0, z)
    never overflows."""
    z = logits(params, data.X)
    return float(np.mean(np.logaddexp(0.0, z) - data.y * z))


def gradients(params, X, y):
    """[d loss / d w, d loss / d b] of the mean loss over the batch (X, y)."""
    residual = (sigmoid(logits(params, X)) - y) / len(y)   # d loss / d z, per sample
    return [X.T @ residual, np.array([residual.sum()], dtype=DTYPE)]


def accuracy(params, data):
    return float(np.mean((logits(params, data.X) > 0) == (data.y > 0.5)))


# ----------------------------------------------------------------------------- the runs

@dataclass(frozen=True)
class RunSpec:
    name: str
    panel: str                                  # which plot panel shows the run
    batch_size: Optional[int]                   # None: the whole training set (batch GD)
    lr: float
    make_optimizer: Callable                    # (params, lr) -> pygd.optim.Optimizer
    make_schedule: Optional[Callable] = None    # (lr, total_steps) -> pygd schedule
    clip_norm: Optional[float] = None           # clip the gradient's total norm to this

    @property
    def method(self):
        return {None: "batch", 1: "stochastic"}.get(self.batch_size, f"mini-batch {self.batch_size}")


def warmup_cosine(lr, total_steps):
    # A linear warmup over the first 10% of the steps keeps Adam's first, poorly estimated steps
    # small; the cosine then anneals to zero exactly at the last step. start_factor=0.1 rather
    # than warmup's default of 0, which would spend the first step at lr 0.
    warmup_steps = total_steps // 10
    return schedules.warmup(schedules.cosine(lr, total_steps - warmup_steps), warmup_steps,
                            start_factor=0.1)


def run_specs():
    sgd = lambda params, lr: optim.SGD(params, lr=lr)                                  # noqa: E731
    methods = "batch, stochastic or mini-batch (SGD)"
    optimizers = f"optimizers (mini-batch {MINI_BATCH})"
    learning_rates = f"learning rates (mini-batch {MINI_BATCH})"
    return [
        # The same SGD, three ways of feeding it. A single sample's gradient is noisy, so
        # stochastic GD takes a smaller lr, but it also makes len(train) steps per epoch.
        RunSpec("batch GD", methods, None, 0.5, sgd),
        RunSpec("stochastic GD", methods, 1, 0.01, sgd),
        RunSpec("mini-batch GD", methods, MINI_BATCH, 0.1, sgd),
        RunSpec("SGD + momentum", optimizers, MINI_BATCH, 0.05,
                lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9)),
        RunSpec("SGD + Nesterov", optimizers, MINI_BATCH, 0.05,
                lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)),
        RunSpec("Adam", optimizers, MINI_BATCH, 0.01, lambda params, lr: optim.Adam(params, lr=lr)),
        RunSpec("AdamW", optimizers, MINI_BATCH, 0.01,
                lambda params, lr: optim.AdamW(params, lr=lr, weight_decay=0.01)),
        RunSpec("RMSprop", optimizers, MINI_BATCH, 0.005,
                lambda params, lr: optim.RMSprop(params, lr=lr)),
        RunSpec("Adagrad", optimizers, MINI_BATCH, 0.1,
                lambda params, lr: optim.Adagrad(params, lr=lr)),
        RunSpec("Adam, warmup+cosine, clip", learning_rates, MINI_BATCH, 0.05,
                lambda params, lr: optim.Adam(params, lr=lr), warmup_cosine, clip_norm=1.0),
        # 5000x and 1/10000x the lr of "mini-batch GD" above. The logistic loss grows only
        # linearly in |w|, so a huge lr rarely reaches inf here: it flings the weights far out,
        # where every confident mistake costs a lot, and the 10x-the-initial-loss rule catches it.
        RunSpec("SGD, lr too high", learning_rates, MINI_BATCH, 500.0, sgd),
        RunSpec("SGD, lr too low", learning_rates, MINI_BATCH, 1e-5, sgd),
    ]


@dataclass
class RunResult:
    spec: RunSpec
    losses: list            # train loss before training, then after each epoch run
    status: str
    train_accuracy: float
    test_accuracy: float
    seconds: float

    @property
    def epochs(self):
        return len(self.losses) - 1


def diverged(loss, initial_loss):
    return not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * initial_loss


def final_status(losses):
    """How a run that did not diverge ended: 'ok', 'barely moved' (the loss fell by less than
    BARELY_MOVED of its start) or 'loss rose'."""
    change = f"{100 * (losses[-1] - losses[0]) / losses[0]:+.1f}%"
    if losses[-1] > losses[0]:
        return f"loss rose ({change})"
    if losses[0] - losses[-1] < BARELY_MOVED * losses[0]:
        return f"barely moved ({change})"
    return "ok"


def train(spec, train_set, test_set, epochs, seed):
    params = init_params(train_set.X.shape[1])
    optimizer = spec.make_optimizer(params, spec.lr)
    # The same seed for every run: all runs see the samples in the same order, so the table
    # compares optimizers, not shuffles.
    loader = pygd.data.batches(len(train_set), spec.batch_size or len(train_set), shuffle=True,
                               seed=seed)
    if spec.make_schedule is not None:
        schedules.attach(optimizer, spec.make_schedule(spec.lr, epochs * len(loader)))
    losses = [bce_loss(params, train_set)]
    status = None
    start = time.perf_counter()
    # A run with too high a learning rate overflows on purpose; diverged() catches the inf or NaN,
    # so NumPy's warnings about it would only be noise.
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, epochs + 1):
            for idx in loader:
                grads = gradients(params, train_set.X[idx], train_set.y[idx])
                if spec.clip_norm is not None:
                    pygd.clip_grad_norm_(grads, spec.clip_norm)
                optimizer.step(grads)
            losses.append(bce_loss(params, train_set))
            if diverged(losses[-1], losses[0]):
                status = f"diverged at epoch {epoch}"
                break
        seconds = time.perf_counter() - start
        return RunResult(spec, losses, status or final_status(losses),
                         accuracy(params, train_set), accuracy(params, test_set), seconds)


# ----------------------------------------------------------------------------- reporting

def print_table(results):
    header = (f"{'run':<26} {'method':<13} {'lr':>7} {'epochs':>6} {'train loss':>10} "
              f"{'train acc':>9} {'test acc':>8} {'time ms':>7}  status")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.spec.name:<26} {r.spec.method:<13} {r.spec.lr:>7.3g} {r.epochs:>6d} "
              f"{r.losses[-1]:>10.4g} {r.train_accuracy:>9.1%} {r.test_accuracy:>8.1%} "
              f"{1e3 * r.seconds:>7.1f}  {r.status}")


def save_plot(results, path):
    """Loss curves, one panel per RunSpec.panel; returns False when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")  # draws to a file: works without a display
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(r.spec.panel for r in results))  # in first-seen order
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), sharey=True)
    for ax, panel in zip(np.atleast_1d(axes), panels):
        for r in (r for r in results if r.spec.panel == panel):
            # A diverged run ends in inf or a huge loss: drawing only the finite part keeps it.
            losses = np.array(r.losses, dtype=float)
            losses[~np.isfinite(losses)] = np.nan
            label = f"{r.spec.name} (lr {r.spec.lr:g})"
            line, = ax.plot(np.arange(len(losses)), losses, label=label)
            if r.status.startswith("diverged"):
                line.set_label(f"{label}, {r.status}")
                finite = np.flatnonzero(np.isfinite(losses))[-1]
                ax.plot(finite, losses[finite], "x", color=line.get_color(), markersize=10)
        ax.set(title=panel, xlabel="epoch", yscale="log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    np.atleast_1d(axes)[0].set_ylabel("train loss (binary cross-entropy)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


# ----------------------------------------------------------------------------- main

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs per run (default 30)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the train/test split and of the batch order (default 0)")
    parser.add_argument("--plot", default="logistic_regression.png",
                        help="where to save the loss curves (default logistic_regression.png)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    train_set, test_set = load_data(args.seed)
    info = pygd.info()
    print(f"pygd {info['version']} ({info['backend']} backend, {info['isa']}): logistic regression "
          f"on breast cancer, {len(train_set)} train / {len(test_set)} test samples, "
          f"{train_set.X.shape[1]} features, {args.epochs} epochs, seed {args.seed}\n")
    results = [train(spec, train_set, test_set, args.epochs, args.seed) for spec in run_specs()]
    print_table(results)
    print(f"\nloss at start: {results[0].losses[0]:.4f} (log 2); 'diverged' = non-finite or above "
          f"{DIVERGENCE_FACTOR:g}x that;\n'barely moved' = fell by less than {BARELY_MOVED:.0%}; "
          "time = the training loop, with one loss evaluation per epoch")
    if save_plot(results, args.plot):
        print(f"loss curves saved to {args.plot}")
    else:
        print("matplotlib is not installed: no plot (pip install matplotlib)")


if __name__ == "__main__":
    main()
