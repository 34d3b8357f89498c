"""Optimizer classes for NumPy training loops: torch.optim's constructors, param groups and state.

    opt = pygd.optim.Adam([w, b], lr=1e-3)             # or a list of param-group dicts
    for x, y in data:
        opt.step(grads(w, b, x, y))                      # grads aligned with the params

Each class only gathers arrays: `step` makes one functional call (pygd.functional) per param group,
which is one native multi-tensor call. What it keeps between steps:

- `param_groups`: a list of dicts, one per group, holding "params" and the hyperparameters under
  torch.optim's names. Edit them freely (a new "lr" applies at the next step).
- `state`: {param index: {"step": int, <state name>: ndarray}}, the index counting params across
  groups in order, as torch.optim's state_dict does. States use torch's names ("exp_avg",
  "momentum_buffer", "sum", ...), are allocated at a param's first step and updated in place.
- `steps`: the number of step() calls made, which attached LR schedules read
  (pygd.schedules.attach).

`state_dict()` / `load_state_dict()` use plain dicts of ndarrays and Python scalars (pickle them, or
`np.savez(f, **to_arrays(sd))` and `from_arrays(np.load(f))`), and a resumed run continues
bit-identically.

A grad may be None: that param is skipped this step (no state change), as torch skips params
without a .grad.
"""

from ._base import Optimizer
from ._classes import (
           ASGD,
           LAMB,
           LARS,
           SGD,
           Adadelta,
           Adafactor,
           Adagrad,
           Adam,
           Adamax,
           AdamW,
           Lion,
           NAdam,
           RAdam,
           RMSprop,
           Rprop,
)
from ._serialization import from_arrays, to_arrays

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "RAdam", "Adadelta", "Rprop",
           "Lion", "NAdam", "ASGD", "LAMB", "LARS", "Adafactor", "to_arrays", "from_arrays"]
