"""A user's script, which tests/test_typing.py checks with `mypy --strict` (it is never run).

pygd's public API as a user calls it must type-check, with real types: each `reveal_type` line's
`# reveals:` comment lists what mypy must print for it (`;` between parts), and each
`type: ignore[code]` marks an error mypy must report there (strict mode's warn_unused_ignores makes
a missing one an error of its own).
"""

import numpy as np
from numpy.typing import NDArray
from typing_extensions import reveal_type

import pygd
from pygd import data, optim, schedules

params = [np.zeros((4, 3), np.float32), np.zeros(3, np.float32)]
grads = [np.ones_like(p) for p in params]
exp_avgs = [np.zeros_like(p) for p in params]
exp_avg_sqs = [np.zeros_like(p) for p in params]
weights64 = np.zeros(5)

# The functional steps: arrays or lists of one dtype, keyword-only hyperparameters.
pygd.adam_(params, grads, exp_avgs, exp_avg_sqs, step=1, lr=1e-3, betas=(0.9, 0.99))
pygd.sgd_(weights64, np.ones(5), step=1, lr=0.1, nesterov=False, backend="native")
pygd.rmsprop_(params, grads, exp_avgs, momentum=0.9, momentum_buffers=exp_avg_sqs)
pygd.adam_(params, grads, exp_avgs, exp_avg_sqs, step=1, learning_rate=1e-3)  # type: ignore[call-arg]
pygd.adam_(params, grads, exp_avgs, exp_avg_sqs, 1)  # type: ignore[call-arg]
pygd.adam_(params, grads, exp_avgs, exp_avg_sqs, step=1, lr="fast")  # type: ignore[arg-type]
pygd.sgd_(params, grads, step=1, backend="gpu")  # type: ignore[arg-type]
pygd.adagrad_(params, grads, exp_avgs)  # type: ignore[call-arg]
pygd.sgd_(params, [weights64, weights64], step=1)  # type: ignore[misc]  # float32 and float64
reveal_type(pygd.adam_)  # reveals: *, step: int; lr: float =; betas: tuple[float, float] =; backend: Literal
result = pygd.sgd_(params, grads, step=1)  # type: ignore[func-returns-value]

# pygd.optim: torch.optim's constructors, typed from the specs.
opt = optim.Adam(params, lr=1e-3, weight_decay=0.01, maximize=False)
sgd = optim.SGD([{"params": params, "lr": 0.1}], momentum=0.9, nesterov=True)
optim.AdamW(params, lr=1e-3, decoupled_weight_decay=True)  # type: ignore[call-arg]
optim.Adam(params, learning_rate=1e-3)  # type: ignore[call-arg]
optim.SGD(params, 0.1, 0.9, 0.0, 0.0, False, False)  # type: ignore[call-arg]  # maximize: keyword
reveal_type(opt)  # reveals: pygd.optim._classes.Adam
opt.step(grads)
sgd.step([grads[0], None])
reveal_type(opt.param_groups)  # reveals: list[dict[str, Any]]
checkpoint = opt.state_dict()
opt.load_state_dict(optim.from_arrays(optim.to_arrays(checkpoint)))

# Schedules, clipping, accumulation, mini-batches, the runtime.
schedule = schedules.warmup(schedules.cosine(1e-3, total_steps=100), 10)
schedules.attach(opt, schedule)
schedules.attach(sgd, [schedules.constant(0.1)])
schedules.one_cycle(0.1, 100, anneal_strategy="quadratic")  # type: ignore[arg-type]
reveal_type(schedule(5))  # reveals: float
plateau = schedules.ReduceLROnPlateau(1e-3, patience=5)
reveal_type(plateau.step(0.5))  # reveals: float
reveal_type(pygd.clip_grad_norm_(grads, max_norm=1.0))  # reveals: float
mixed: list[NDArray[np.float32] | NDArray[np.float64]] = [*grads, weights64]
pygd.clip_grad_value_(mixed, 0.5)
reveal_type(pygd.grad_norm(mixed, "inf"))  # reveals: float
acc = pygd.GradientAccumulator(params, micro_batches=2)
reveal_type(acc.add(grads))  # reveals: bool
reveal_type(acc.grads)  # reveals: list[numpy.ndarray[; numpy.floating[numpy._typing._nbit_base._32Bit]
pygd.accumulate_(acc.grads, grads, scale=0.5)
for idx in data.batches(100, batch_size=10, seed=0):
    reveal_type(idx)  # reveals: numpy.ndarray[; numpy.signedinteger
reveal_type(pygd.get_num_threads())  # reveals: int
pygd.set_num_threads(None)
reveal_type(pygd.info())  # reveals: dict[str, Any]
