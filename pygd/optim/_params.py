"""The checks an optimizer makes on its params when they are added: those of a step, in its words
(_validate.check_streams and buffer_error), with each param named by its index in the optimizer.
Unlike one step's arrays, an optimizer's params may mix float32 and float64 (a call per dtype)."""

from __future__ import annotations

from typing import Any

from .. import _validate
from .._validate import Span


def check_params(params: list[Any]) -> None:
    """TypeError/ValueError for the first unfit param of `params` (every param of the optimizer,
    in index order): not an array, not float32/float64/bfloat16/float16, not C-contiguous or aligned, read-only, or
    sharing memory with another."""
    streams = (params,)
    for i, p in enumerate(params):
        problem = _validate.check_streams("params", ([p],))
        if problem is not None:
            code, k, _, _, _ = problem
            raise _validate.buffer_error((code, k, i, -1, -1), "params", streams)
    spans: list[Span] = []
    for i, p in enumerate(params):
        if p.size:
            start = p.__array_interface__["data"][0]
            spans.append((start, start + p.nbytes, 0, i, True))
    problem = _validate._find_overlap(spans)
    if problem is not None:
        raise _validate.buffer_error(problem, "params", streams)
