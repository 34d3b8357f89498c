"""Gradient clipping, in place: by total norm (one native pass to measure, one to scale when
needed) or by value. Results match torch.nn.utils.clip_grad_norm_ / clip_grad_value_.

`grads` is an ndarray or a list of them: float32 or float64, C-contiguous, writable; lists may mix
the two dtypes. The norm is accumulated in float64 over fixed blocks, joined in a fixed order, so it
is bit-identical for any thread count.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Union

from . import _backends, _dlpack, _validate
from ._constants import BufferProblem, NormKind
from ._typing import A, Backend, MixedArrays

__all__ = ["clip_grad_norm_", "clip_grad_value_", "grad_norm"]

_L2, _L1, _INF, _POWER = NormKind.L2, NormKind.L1, NormKind.INF, NormKind.POWER


def _norm_kind(norm_type: Union[float, str]) -> tuple[Any, float]:
    """(kind, p) for a norm order: 2, 1, inf (also 'inf'), or any other finite p > 0."""
    if isinstance(norm_type, str) and norm_type.strip().lower() in ("inf", "infinity"):
        return _INF, math.inf
    p = _validate.real("norm_type", norm_type)
    if not p > 0:
        raise ValueError(f"norm_type must be > 0 or inf, got {norm_type!r}")
    return {2.0: _L2, 1.0: _L1, math.inf: _INF}.get(p, _POWER), p


def _by_dtype(grads: Any) -> list[list[Any]]:
    """A mixed-dtype list as one list per dtype (the kernels take one dtype per call)."""
    parts: dict[object, list[Any]] = {}
    for g in grads:
        parts.setdefault(getattr(g, "dtype", None), []).append(g)
    return list(parts.values())


def _accumulated(tools: ModuleType, grads: Any, kind: int, p: float, writable: bool) -> tuple[Any, float]:
    """The grads measured (NumPy views of host DLPack arrays in place of those arrays) and the
    norm's running value (before the root) over them, or raise the problem."""
    streams = (grads,)
    result = tools.grad_norm(streams, kind, p, writable)
    if type(result) is float:
        return grads, result
    viewed = _dlpack.host_views(result, streams)
    if viewed is not None:
        return _accumulated(tools, viewed[0], kind, p, writable)
    if result[0] == BufferProblem.DTYPE_MISMATCH and isinstance(grads, (list, tuple)):
        parts = [_accumulated(tools, part, kind, p, writable)[1] for part in _by_dtype(grads)]
        if kind == _INF:
            return grads, max(parts, key=lambda x: (math.isnan(x), x))
        return grads, math.fsum(parts)
    raise _validate.buffer_error(result, "clip" if writable else "norm", streams)


def _finish(kind: int, p: float, total: float) -> float:
    if kind == _L2:
        return math.sqrt(total)
    if kind == _POWER:
        root: float = total ** (1.0 / p)  # float ** float is typed Any (a negative base)
        return root
    return total


def grad_norm(grads: MixedArrays[A], norm_type: Union[float, str] = 2.0, *,
              backend: Backend = "auto") -> float:
    """The norm of all `grads` together, as if concatenated into one vector (read-only)."""
    kind, p = _norm_kind(norm_type)
    return _finish(kind, p, _accumulated(_backends.tools(backend), grads, kind, p, False)[1])


def clip_grad_norm_(grads: MixedArrays[A], max_norm: float, norm_type: Union[float, str] = 2.0,
                    error_if_nonfinite: bool = False, *, backend: Backend = "auto") -> float:
    """Scales `grads` in place so that their total norm is at most max_norm; returns the total norm
    (before clipping) as a float.

    As torch: the scale is max_norm / (norm + 1e-6) and is applied only when it is below 1 (or NaN,
    which a NaN or infinite norm gives; error_if_nonfinite=True raises RuntimeError instead)."""
    max_norm = _validate.non_negative("max_norm", max_norm)
    kind, p = _norm_kind(norm_type)
    tools = _backends.tools(backend)
    grads, total = _accumulated(tools, grads, kind, p, True)
    total = _finish(kind, p, total)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {p} for gradients is non-finite, so it cannot be "
                           "clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set error_if_nonfinite=False")
    scale = max_norm / (total + 1e-6)  # 0 for an infinite norm, NaN for a NaN one, as torch's
    if not scale >= 1.0:
        for part in ([grads] if not isinstance(grads, (list, tuple)) else _by_dtype(grads)):
            tools.grad_scale((part,), scale)
    return total


def clip_grad_value_(grads: MixedArrays[A], clip_value: float, *, backend: Backend = "auto") -> None:
    """Clamps every element of `grads` to [-clip_value, clip_value] in place (NaN stays NaN)."""
    clip_value = _validate.non_negative("clip_value", clip_value)
    tools = _backends.tools(backend)
    parts = [grads] if not isinstance(grads, (list, tuple)) else _by_dtype(grads)
    for part in parts:  # every part is checked before any is written
        problem = _validate.check_streams("clip", (part,)) if len(parts) > 1 else None
        if problem is not None:
            _restart_or_raise(problem, grads, part, clip_value, backend)
            return
    for part in parts:
        problem = tools.grad_clamp((part,), clip_value)
        if problem is not None:  # only a single part can fail here: nothing was written
            _restart_or_raise(problem, grads, part, clip_value, backend)
            return


def _restart_or_raise(problem: Any, grads: Any, part: Any, clip_value: float, backend: Backend) -> None:
    """clip_grad_value_ again on NumPy views of host DLPack arrays where they cure `problem`."""
    viewed = _dlpack.host_views(problem, (grads,))
    if viewed is None:
        raise _validate.buffer_error(problem, "clip", (part,))
    clip_grad_value_(viewed[0], clip_value, backend=backend)
