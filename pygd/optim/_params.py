"""The checks an optimizer makes on its params when they are added."""

import numpy as np

from .. import _validate


def check_param(p, where):
    if not isinstance(p, np.ndarray):
        raise TypeError(f"{where} must be a numpy.ndarray, got {type(p).__name__}")
    if p.dtype not in (np.float32, np.float64) or not p.dtype.isnative:
        raise TypeError(f"{where} has dtype {p.dtype}; pygd updates native-endian float32 and "
                        "float64 arrays")
    if not p.flags.c_contiguous:
        raise ValueError(f"{where} is not C-contiguous")
    if not p.flags.writeable:
        raise ValueError(f"{where} is read-only, but the optimizer updates it in place")
    if not p.flags.aligned:
        raise ValueError(f"{where} is not aligned to its dtype's size")


def check_disjoint(params):
    spans = []
    for i, p in enumerate(params):
        if p.size:
            start = p.__array_interface__["data"][0]
            spans.append((start, start + p.nbytes, 0, i, True))
    problem = _validate._find_overlap(spans)
    if problem is not None:
        raise ValueError(f"params[{problem[2]}] and params[{problem[4]}] share memory (an array "
                         "listed twice, or two views of one array); each param must appear once")
