"""Host arrays that are not NumPy's but speak DLPack (torch CPU tensors, JAX arrays, CuPy's pinned
host arrays...): NumPy views of their memory, made without a copy, so the functional API updates
them as it updates ndarrays.

Nothing here runs on the fast path: a call is first checked as given, and only when its checks
report an array that is not an ndarray (or a stream that is not a list of them) are the streams
viewed here and the call made again. A read-only export (a JAX array) stays read-only: it can be a
grad, never a param or a state.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._constants import BufferProblem

# The problems a NumPy view of a DLPack array can cure: the array was not an ndarray.
_CURABLE = (BufferProblem.NOT_ARRAY, BufferProblem.NOT_SEQUENCE)
# DLPack device types whose memory the host reads: CPU, CUDA pinned host memory, ROCm host memory.
_HOST_DEVICES = (1, 3, 11)


def _speaks_dlpack(obj: object) -> bool:
    return type(obj) is not np.ndarray and hasattr(obj, "__dlpack__") and hasattr(obj, "__dlpack_device__")


def _view(obj: Any) -> Any:
    """A NumPy view of `obj`'s memory, or `obj` itself when it is not a host DLPack array or NumPy
    cannot view it (why_not_viewed then says why)."""
    if not _speaks_dlpack(obj):
        return obj
    try:
        if int(obj.__dlpack_device__()[0]) not in _HOST_DEVICES:
            return obj
        return np.from_dlpack(obj)
    except Exception:  # noqa: BLE001 - any producer's refusal leaves the array as it was
        return obj


def _viewed_stream(stream: Any) -> Any:
    if isinstance(stream, (list, tuple)):
        return [_view(a) for a in stream]
    if _speaks_dlpack(stream):
        return _view(stream)
    return stream


def host_views(problem: Optional[tuple[int, ...]], streams: tuple[Any, ...]) -> Optional[tuple[Any, ...]]:
    """`streams` with NumPy views of their host DLPack arrays, when `problem` (a check's result) is
    one that such views can cure and at least one array was viewed; otherwise None (the problem
    stands as it is)."""
    if problem is None or problem[0] not in _CURABLE:
        return None
    viewed = tuple(_viewed_stream(s) for s in streams)
    changed = any(v is not s and (not isinstance(s, (list, tuple))
                                  or any(a is not b for a, b in zip(v, s)))
                  for v, s in zip(viewed, streams))
    return viewed if changed else None


def why_not_viewed(obj: Any) -> str:
    """For a message about `obj`, which was not accepted as an array: why NumPy could not view it
    through DLPack ("" when it does not speak DLPack)."""
    if not _speaks_dlpack(obj):
        return ""
    try:
        device = int(obj.__dlpack_device__()[0])
        if device not in _HOST_DEVICES:
            return f" (a DLPack array, but in device memory: DLPack device type {device})"
        np.from_dlpack(obj)
    except Exception as exc:  # noqa: BLE001 - the producer's or NumPy's words
        return f" (a DLPack array, but NumPy cannot view it: {type(exc).__name__}: {exc})"
    return ""
