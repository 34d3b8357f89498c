"""pygd's update rules as Numba functions, to call from your own @njit or @cuda.jit code.

    from pygd.numba import adam_element, adam_scalars

    s = adam_scalars(np.float32, step, lr=1e-3)                # once per step (Python or @njit)
    p[i], m[i], v[i], _ = adam_element(p[i], g[i], m[i], v[i], p[i], s)    # per element

Per optimizer: `<opt>_scalars(dtype, ...)` makes a step's scalars (computed in float64, narrowed to
dtype); `<opt>_element(values..., s)` returns the updated parameter and states of one element;
`<opt>_at(i, arrays..., s)` updates element i of arrays in place (None for an unused state).
These are what backend="numba" runs: pygd.numba.cpu_loops (parallel CPU loops) and pygd.numba.cuda_kernels
(CUDA kernels, imported on demand). Needs numba (the `numba` extra): pip install "numba>=0.60".

Compiled code is cached in __pycache__ (cache=True). Numba checks only the file of each cached
function, not the files of the functions it calls: after editing one of these files in place,
delete pygd/numba/__pycache__/*.nbi and *.nbc (an installed upgrade rewrites every file anyway).
"""

try:
    import numba as _numba  # noqa: F401
except ImportError as exc:
    raise ImportError("pygd.numba needs numba, an optional extra: pip install 'numba>=0.60' "
                      f"({exc})") from exc

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
from .indexed import (
    adadelta_at,
    adagrad_at,
    adam_at,
    adamax_at,
    asgd_at,
    lion_at,
    nadam_at,
    radam_at,
    rmsprop_at,
    rprop_at,
    sgd_at,
)
from .scalars import (
    AdadeltaScalars,
    AdagradScalars,
    AdamaxScalars,
    AdamScalars,
    AsgdScalars,
    LionScalars,
    NadamScalars,
    RadamScalars,
    RmspropScalars,
    RpropScalars,
    SgdScalars,
    adadelta_scalars,
    adagrad_scalars,
    adam_scalars,
    adamax_scalars,
    asgd_scalars,
    lion_scalars,
    nadam_scalars,
    radam_scalars,
    rmsprop_scalars,
    rprop_scalars,
    sgd_scalars,
)

__all__ = [
    "sgd_scalars", "adam_scalars", "rmsprop_scalars", "adagrad_scalars", "adamax_scalars", "radam_scalars",
    "adadelta_scalars", "rprop_scalars", "lion_scalars", "nadam_scalars", "asgd_scalars",
    "sgd_element", "adam_element", "rmsprop_element", "adagrad_element", "adamax_element", "radam_element",
    "adadelta_element", "rprop_element", "lion_element", "nadam_element", "asgd_element",
    "sgd_at", "adam_at", "rmsprop_at", "adagrad_at", "adamax_at", "radam_at", "adadelta_at", "rprop_at",
    "lion_at", "nadam_at", "asgd_at",
    "SgdScalars", "AdamScalars", "RmspropScalars", "AdagradScalars", "AdamaxScalars", "RadamScalars",
    "AdadeltaScalars", "RpropScalars", "LionScalars", "NadamScalars", "AsgdScalars",
]
