"""In-place optimizer steps over one NumPy array or a list of arrays (multi-tensor).

Each function validates its hyperparameters, then hands the whole list to the chosen backend in one
call, which checks the arrays before writing anything (an unfit one comes back as a problem that
_validate words as the exception): with the native backend, that is one GIL release and one
multi-threaded pass over every tensor. Arrays are updated in place and the functions return None.
The update rules are those of torch.optim (docs/update-rules.md). An array argument is an ndarray
or a list/tuple of ndarrays aligned with `params`; float32 or float64, C-contiguous, and writable
unless it is a grad. With backend="auto", params on a GPU (CuPy, Numba, torch CUDA tensors,
DLPack) are updated there by the CUDA backend.

The functions are compiled from the optimizers' specs (_specs.py, _steps.py): their signatures,
defaults and checks are declared there, once.
"""

from ._specs import SPECS
from ._steps import functional_step

sgd_ = functional_step(SPECS["sgd"])
adam_ = functional_step(SPECS["adam"])
adamw_ = functional_step(SPECS["adamw"])
rmsprop_ = functional_step(SPECS["rmsprop"])
adagrad_ = functional_step(SPECS["adagrad"])
adamax_ = functional_step(SPECS["adamax"])
radam_ = functional_step(SPECS["radam"])
adadelta_ = functional_step(SPECS["adadelta"])
rprop_ = functional_step(SPECS["rprop"])
lion_ = functional_step(SPECS["lion"])
nadam_ = functional_step(SPECS["nadam"])
asgd_ = functional_step(SPECS["asgd"])
lamb_ = functional_step(SPECS["lamb"])
lars_ = functional_step(SPECS["lars"])
adafactor_ = functional_step(SPECS["adafactor"])

__all__ = [f"{name}_" for name in SPECS]
