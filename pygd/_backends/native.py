"""The native backend: pygd._native, the C++ kernels (csrc/). Argument plumbing only.

Each function passes the streams tuple and the already-validated hyperparameters straight to the
extension, which checks the arrays, releases the GIL and runs one multi-threaded pass over every
tensor of the list. An unfit array comes back as a problem tuple, raised here as the error
_validate words for it.
"""

import os
import warnings

from .. import _native, _validate

name = "native"


def _checked(kernel, optimizer):
    names = _validate.STREAMS[optimizer]

    def call(streams, *hyperparameters):
        problem = kernel(streams, *hyperparameters)
        if problem is not None:
            raise _validate.buffer_error(problem, names, streams)

    call.__name__ = optimizer
    return call


sgd = _checked(_native.sgd, "sgd")
adam = _checked(_native.adam, "adam")
rmsprop = _checked(_native.rmsprop, "rmsprop")
adagrad = _checked(_native.adagrad, "adagrad")

ISAS = ("scalar", "avx2", "avx512")


def select_isa(isa):
    """Use `isa` for the next calls; ValueError if this build or CPU cannot run it."""
    if not _native.select_isa(isa):
        raise ValueError(f"isa must be one of {_native.supported_isas()} on this machine, got {isa!r}")


def _apply_isa_cap():
    """PYGD_ISA=scalar|avx2|avx512 caps the level chosen at import; unset or empty: the best."""
    cap = os.environ.get("PYGD_ISA", "").strip().lower()
    if not cap:
        return
    if cap not in ISAS:
        warnings.warn(f"PYGD_ISA={cap!r} is not one of {ISAS}; using the best available level",
                      RuntimeWarning, stacklevel=3)
        return
    allowed = ISAS[: ISAS.index(cap) + 1]
    best = [isa for isa in _native.supported_isas() if isa in allowed][-1]
    _native.select_isa(best)


_apply_isa_cap()
