"""Every check on the arguments of a step, and every message the user sees about them.

Runs before any byte is written, so a rejected call leaves every array bit-for-bit unchanged.
The checks of each kind of option are here; each optimizer's functional step applies them to its
options as its spec declares (_specs.py, compiled by _steps.py). Arrays are checked by
`check_arrays`, the one checker, over an adapter per kind of array (HostArrays for NumPy; the GPU
adapter in _backends/cuda_arrays.py), or, on the native path, by the extension's mirror of it
(csrc/bindings/gather.cpp). Both report the same problem tuples; `buffer_error` turns one into the
exception raised, so each message is written only here.
"""

from __future__ import annotations

import collections
import math
import operator
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from ._constants import BufferProblem
from ._dlpack import why_not_viewed
from ._specs import KERNELS

# The arrays each kernel takes, in the order of its streams (csrc/include/pygd/): the optimizers'
# from their specs (_specs.py). Every stream but `grads` is updated in place.
STREAMS = {
    **{kernel: spec.stream_names for kernel, spec in KERNELS.items()},
    # The bandwidth probe (csrc/include/pygd/probe.h): an update's memory traffic, trivial math.
    "probe": ("target", "source", "extra1", "extra2"),
    # Gradient tools (csrc/include/pygd/grad_ops.h, grad_norms.h): a norm reads the grads, clipping
    # rewrites them, accumulation adds them into running sums.
    "norm": ("grads",),
    "clip": ("grads",),
    "accumulate": ("sums", "grads"),
    # An optimizer's params, when it takes them (pygd.optim): checked as a step checks them.
    "params": ("params",),
}
READ_ONLY_STREAM = 1  # grads, in every optimizer's streams
# The stream a kernel only reads, by STREAMS key; None where every stream is written.
READ_ONLY_STREAMS: dict[str, Optional[int]] = {
    name: READ_ONLY_STREAM for name in (*KERNELS, "probe", "accumulate")}
READ_ONLY_STREAMS.update(norm=0, clip=None, params=None)
# Streams that may be None (absent), as kOptional in the headers; the options decide when they are
# needed (checked by each step with its options, _steps.py). Any other None is an error.
OPTIONAL_STREAMS = {
    **{kernel: set(spec.optional_streams) for kernel, spec in KERNELS.items()},
    "probe": {"extra1", "extra2"},
    "norm": set(),
    "clip": set(),
    "accumulate": set(),
    "params": set(),
}


# ----------------------------------------------------------------------------- hyperparameters

# The checks take anything (Any) and raise TypeError/ValueError naming what is wrong.
def real(name: str, value: Any) -> float:
    """`value` as a float; TypeError naming `name` if it is not a real number."""
    if isinstance(value, (bool, np.bool_, str, bytes, bytearray)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None


def non_negative(name: str, value: object) -> float:
    x = real(name, value)
    if not x >= 0.0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return x


def not_nan(name: str, value: object) -> float:
    x = real(name, value)
    if math.isnan(x):
        raise ValueError(f"{name} must not be NaN")
    return x


def non_positive(name: str, value: object) -> float:
    x = real(name, value)
    if not x <= 0.0:  # also rejects NaN
        raise ValueError(f"{name} must be <= 0, got {value!r}")
    return x


def at_least_one(name: str, value: object) -> float:
    x = real(name, value)
    if not x >= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return x


# Adafactor's eps1=None (the params' dtype's machine epsilon) as the kernels read it: eps1 must be
# >= 0 otherwise (torch's check), so a negative value cannot be meant as a real one.
EPS_OF_DTYPE = -1.0


def eps_pair(value: Any) -> tuple[float, float]:
    """Adafactor's (eps1, eps2): eps1 None (the dtype's machine epsilon, as EPS_OF_DTYPE) or >= 0,
    eps2 >= 0."""
    eps1, eps2 = _pair("eps", value, "(eps1, eps2)")
    return (EPS_OF_DTYPE if eps1 is None else non_negative("eps[0]", eps1), non_negative("eps[1]", eps2))


def in_unit_interval(name: str, value: object, *, include_one: bool) -> float:
    x = real(name, value)
    if not (0.0 <= x and (x <= 1.0 if include_one else x < 1.0)):
        raise ValueError(f"{name} must be in [0, {'1]' if include_one else '1)'}, got {value!r}")
    return x


def _pair(name: str, value: Any, names: str) -> tuple[Any, Any]:
    try:
        first, second = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair {names}, got {value!r}") from None
    return first, second


def betas(value: Any) -> tuple[float, float]:
    beta1, beta2 = _pair("betas", value, "(beta1, beta2)")
    return (in_unit_interval("betas[0]", beta1, include_one=False),
            in_unit_interval("betas[1]", beta2, include_one=False))


def etas(value: Any) -> tuple[float, float]:
    """Rprop's (etaminus, etaplus): a shrinking and a growing factor, 0 < etaminus < 1 < etaplus."""
    etaminus, etaplus = _pair("etas", value, "(etaminus, etaplus)")
    low, high = real("etas[0]", etaminus), real("etas[1]", etaplus)
    if not 0.0 < low < 1.0 < high:  # also rejects NaN
        raise ValueError(f"etas must satisfy 0 < etas[0] < 1 < etas[1], got {value!r}")
    return low, high


def step_sizes(value: Any) -> tuple[float, float]:
    """Rprop's (min, max) step size: 0 <= min <= max."""
    smallest, largest = _pair("step_sizes", value, "(step_size_min, step_size_max)")
    low, high = real("step_size_min", smallest), real("step_size_max", largest)
    if not 0.0 <= low <= high:  # also rejects NaN
        raise ValueError(f"step sizes must satisfy 0 <= step_size_min <= step_size_max, got {value!r}")
    return low, high


MAX_STEP = 2**62  # the kernels take the step as a 64-bit integer


def step_count(value: Any) -> int:
    """The 1-based step count as an int."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("step must be an integer, got bool")
    try:
        step = operator.index(value)
    except TypeError:
        raise TypeError(f"step must be an integer (the 1-based step count), got {type(value).__name__}") from None
    if not 1 <= step < MAX_STEP:
        raise ValueError(f"step must be >= 1 and < 2**62 (the 1-based step count), got {step}")
    return step


def required(name: str, value: object, because: str) -> object:
    if value is None:
        raise ValueError(f"{name} is required when {because}")
    return value


# ----------------------------------------------------------------------------- arrays

_FLOATS: tuple[np.dtype[Any], ...] = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16))
try:
    import ml_dtypes
except ImportError:  # pragma: no cover - the bf16 extra is not installed
    pass
else:
    _FLOATS += (np.dtype(ml_dtypes.bfloat16),)
# The name of each float dtype pygd knows (a byte-swapped one is another dtype: absent). A dict,
# as dtype.name costs microseconds.
_FLOAT_NAMES = {dtype: dtype.name for dtype in _FLOATS}


def _is_array(obj: object) -> bool:
    """A NumPy array, or (Numba backend) an array on a GPU, exposing __cuda_array_interface__."""
    return isinstance(obj, np.ndarray) or hasattr(obj, "__cuda_array_interface__")


def _as_list(stream: Any) -> Any:
    return [stream] if _is_array(stream) else stream


def c_contiguous(shape: tuple[int, ...], strides: Optional[tuple[int, ...]], itemsize: int) -> bool:
    """Whether an array described by its interface (shape, strides in bytes or None) is C-contiguous.
    NumPy's rule: strides match a C layout, ignoring axes of length 1; an empty array is."""
    if strides is None or 0 in shape:
        return True
    expected = itemsize
    for n, stride in zip(reversed(shape), reversed(strides)):
        if n != 1 and stride != expected:
            return False
        expected *= n
    return True


def _dtype_and_shape(a: Any) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """The NumPy dtype and the shape tuple of an array; a GPU array's as its interface says (a
    torch tensor's dtype and shape are torch types)."""
    if isinstance(a, np.ndarray):
        return a.dtype, a.shape
    interface = a.__cuda_array_interface__
    return np.dtype(interface["typestr"]), tuple(interface["shape"])


# What the checks read from one array, whatever kind it is. dtype: the name of a dtype the call's
# kind of array may hold ("float32", ...), or None; aligned: its address a multiple of itemsize;
# device, stream: for arrays on a GPU (None: unknown, or host memory); source: the adapter's own
# view of it (cuda_arrays.View), or None.
ArrayFacts = collections.namedtuple(
    "ArrayFacts", "address shape size dtype itemsize contiguous aligned read_only device stream source")

# What a call passed the checks with: its dtype's name, each tensor's size, each stream's addresses
# (None for an absent one) and ArrayFacts (per stream, like addresses).
CheckedCall = collections.namedtuple("CheckedCall", "dtype sizes addresses facts")
# A problem tuple: (BufferProblem code, stream, index, other stream, other index), -1 where unused.
Problem = tuple[int, int, int, int, int]
# A buffer in the overlap sweep: (start, end, stream, index, written).
Span = tuple[int, int, int, int, bool]


class HostArrays:
    """The adapter for NumPy arrays (the only kind a host call takes). `layouts`: the optimizers'
    streams are checked against the layout table (LAYOUTS), as the native gather does, although
    these backends run float32 and float64 only."""

    dtypes = ("float32", "float64")
    layouts = True

    @staticmethod
    def is_array(obj: object) -> bool:
        return isinstance(obj, np.ndarray)

    @staticmethod
    def facts(a: object) -> Optional[ArrayFacts]:
        """ArrayFacts of `a`, or None if it is not an ndarray."""
        if not isinstance(a, np.ndarray):
            return None
        flags = a.flags
        return ArrayFacts(a.__array_interface__["data"][0], a.shape, a.size, _FLOAT_NAMES.get(a.dtype),
                          a.itemsize, flags.c_contiguous, flags.aligned, not flags.writeable, None, None,
                          None)

    @staticmethod
    def foreign(label: str, obj: object, k: int, where: int) -> Problem:
        """The problem of an element that is not an array of this kind."""
        return (BufferProblem.NOT_ARRAY, k, where, -1, -1)


HOST = HostArrays()


def check_arrays(optimizer: str, streams: tuple[Any, ...], arrays: Any = HOST
                 ) -> tuple[Optional[Problem], Optional[CheckedCall]]:
    """The array checks, in the same order as the native gather(), for any kind of array through
    its adapter (`arrays`: HOST, or cuda_arrays' for arrays on a GPU): (problem, None), with the
    problem tuple (problem, stream, index, other_stream, other_index) of the first failure, or
    (None, CheckedCall). An adapter may raise instead, for an array of another device."""
    names, optional, read_only = STREAMS[optimizer], OPTIONAL_STREAMS[optimizer], READ_ONLY_STREAMS[optimizer]
    is_array = arrays.is_array
    lists: list[Any] = []
    for k, stream in enumerate(streams):
        if stream is None and names[k] in optional:
            lists.append(None)
            continue
        if is_array(stream):
            lists.append([stream])
        elif isinstance(stream, (list, tuple)):
            lists.append(stream)
        else:
            return (BufferProblem.NOT_SEQUENCE, k, -1, -1, -1), None
        if k > 0 and len(lists[k]) != len(lists[0]):
            return (BufferProblem.LENGTH, k, -1, -1, -1), None

    accepted, facts_of = arrays.dtypes, arrays.facts
    if optimizer == "params" and getattr(arrays, "layouts", False):
        # pygd.optim's params: bfloat16/float16 ones step in mode A (states made in their dtype) on
        # the native backend; another backend refuses them at the step.
        accepted = (*accepted, *_NARROW)
    expected = (_expected_dtypes(optimizer, lists, facts_of)
                if getattr(arrays, "layouts", False) and optimizer in _EVERY_LAYOUT else None)
    dtype: Optional[str] = None
    shapes: list[tuple[int, ...]] = []
    spans: list[Span] = []
    addresses: list[Optional[list[int]]] = []
    facts: list[Optional[list[ArrayFacts]]] = []
    for k, stream in enumerate(lists):
        if stream is None:
            addresses.append(None)
            facts.append(None)
            continue
        bare = is_array(streams[k])
        row: list[int] = []
        row_facts: list[ArrayFacts] = []
        for i, a in enumerate(stream):
            where = -1 if bare else i
            f = facts_of(a)
            if f is None:
                return arrays.foreign(names[k] if bare else f"{names[k]}[{i}]", a, k, where), None
            if expected is not None:  # the native gather's order: unknown, misfit, then untaken
                if f.dtype is None:
                    return (BufferProblem.DTYPE, k, where, -1, -1), None
                if f.dtype != expected[k]:
                    return (BufferProblem.DTYPE_MISMATCH, k, where, -1, -1), None
            if f.dtype not in accepted:
                return (BufferProblem.DTYPE, k, where, -1, -1), None
            dtype = f.dtype if dtype is None else dtype
            if f.dtype != dtype:
                return (BufferProblem.DTYPE_MISMATCH, k, where, -1, -1), None
            if k == 0:
                shapes.append(f.shape)
            elif f.shape != shapes[i]:
                return (BufferProblem.SHAPE, k, where, -1, -1), None
            if not f.contiguous:
                return (BufferProblem.NOT_CONTIGUOUS, k, where, -1, -1), None
            if not f.aligned:
                return (BufferProblem.MISALIGNED, k, where, -1, -1), None
            written = k != read_only
            if written and f.read_only:
                return (BufferProblem.READ_ONLY, k, where, -1, -1), None
            if f.size:
                spans.append((f.address, f.address + f.size * f.itemsize, k, where, written))
            row.append(f.address)
            row_facts.append(f)
        addresses.append(row)
        facts.append(row_facts)
    problem = _find_overlap(spans)
    if problem is not None:
        return problem, None
    first: list[ArrayFacts] = facts[0]  # type: ignore[assignment]  # params: never absent
    return None, CheckedCall(dtype, [f.size for f in first], addresses, facts)


def _expected_dtypes(optimizer: str, lists: list[Any], facts_of: Any) -> list[Optional[str]]:
    """Each stream's dtype in the layout its first arrays ask for (the native gather's
    choose_layout, csrc/bindings/gather.cpp): where they fit none, the layout of the params (and
    the copy), against which the arrays then fail."""
    op_streams = len(STREAMS[optimizer])
    first: list[Optional[str]] = []
    for stream in lists:
        f = facts_of(stream[0]) if stream else None
        first.append(f.dtype if f is not None else None)
    p = first[0]
    copy = first[op_streams] if len(lists) > op_streams else None
    if copy in _NARROW:
        grad = copy if len(first) > 1 and first[1] == copy else "float32"
        param, state = "float32", "float32"
    elif p is None or p not in _NARROW:
        param = grad = state = p or "float32"
        copy = "(bfloat16 or float16)"  # fits nothing: a copy needs a narrow dtype
    else:
        param = grad = state = p
        state = next((d for d in first[2:op_streams] if d is not None), p)
        state = "float32" if state == "float32" else p
        copy = "(bfloat16 or float16)"
    expected: list[Optional[str]] = [param, grad, *[state] * (op_streams - 2), copy]
    return expected[:max(len(lists), 2)]


def check_streams(optimizer: str, streams: tuple[Any, ...]) -> Optional[Problem]:
    """check_arrays for NumPy arrays (check_factored for a factored optimizer's): the problem tuple
    of the first failure, or None."""
    if optimizer in FACTORED:
        return check_factored(optimizer, streams)
    return check_arrays(optimizer, streams)[0]


# The optimizers some of whose streams are not their params' shape (_specs.Stream.shape), and each
# stream's shape rule: None (the param's), "row", "col" or "vector".
FACTORED = {kernel: tuple(s.shape for s in spec.streams) for kernel, spec in KERNELS.items() if spec.factored}


def factor_shape(param_shape: tuple[int, ...], rule: Optional[str]) -> Optional[tuple[int, ...]]:
    """The shape stream `rule` (Stream.shape) must have for a param of `param_shape`, or None where
    the stream is not read for it."""
    ndim = len(param_shape)
    if rule in ("row", "col"):
        if ndim <= 1:
            return None
        shape = list(param_shape)
        shape[-1 if rule == "row" else -2] = 1
        return tuple(shape)
    if rule == "vector" and ndim > 1:
        return None
    return param_shape


def check_factored(optimizer: str, streams: tuple[Any, ...]) -> Optional[Problem]:
    """The array checks of a factored optimizer's NumPy arrays, in the order of its native gather
    (csrc/bindings/factored.cpp): the streams' kinds and lengths, then param by param, each stream
    the param's form reads (a stream it does not read is not looked at: None is fine there)."""
    rules = FACTORED[optimizer]
    bare = [isinstance(s, np.ndarray) for s in streams]
    lists: list[Any] = []
    for k, stream in enumerate(streams):
        if bare[k]:
            lists.append([stream])
        elif stream is None and rules[k] is not None:
            lists.append(None)
        elif isinstance(stream, (list, tuple)):
            lists.append(stream)
        else:
            return (BufferProblem.NOT_SEQUENCE, k, -1, -1, -1)
        if k > 0 and lists[k] is not None and (len(lists[k]) != len(lists[0]) or bare[k] != bare[0]):
            return (BufferProblem.LENGTH, k, -1, -1, -1)
    read_only = READ_ONLY_STREAMS[optimizer]
    dtype: Optional[np.dtype[Any]] = None
    spans: list[Span] = []
    for i, param in enumerate(lists[0]):
        where = -1 if bare[0] else i
        if not isinstance(param, np.ndarray):
            return (BufferProblem.NOT_ARRAY, 0, where, -1, -1)
        for k, rule in enumerate(rules):
            expected = factor_shape(param.shape, rule)
            if expected is None:
                continue
            a = None if lists[k] is None else lists[k][i]
            if not isinstance(a, np.ndarray):
                return (BufferProblem.NOT_ARRAY, k, where, -1, -1)
            if _FLOAT_NAMES.get(a.dtype) is None:
                return (BufferProblem.DTYPE, k, where, -1, -1)
            dtype = a.dtype if dtype is None else dtype
            if a.dtype != dtype:
                return (BufferProblem.DTYPE_MISMATCH, k, where, -1, -1)
            if a.shape != expected:
                return (BufferProblem.SHAPE, k, where, -1, -1)
            if not a.flags.c_contiguous:
                return (BufferProblem.NOT_CONTIGUOUS, k, where, -1, -1)
            if not a.flags.aligned:
                return (BufferProblem.MISALIGNED, k, where, -1, -1)
            written = k != read_only
            if written and not a.flags.writeable:
                return (BufferProblem.READ_ONLY, k, where, -1, -1)
            if a.size:
                address = a.__array_interface__["data"][0]
                spans.append((address, address + a.size * a.itemsize, k, where, written))
    return _find_overlap(spans)


def _find_overlap(spans: list[Span]) -> Optional[Problem]:
    """Sweep the buffers in address order; report the first overlap that involves a written one."""
    spans.sort(key=lambda s: (s[0], s[2], s[3]))
    reach_any: Optional[Span] = None
    reach_written: Optional[Span] = None
    for s in spans:
        hit = reach_any if s[4] else reach_written
        if hit is not None and hit[1] > s[0]:
            a, b = sorted((hit, s), key=lambda x: (x[2], x[3]))
            return (BufferProblem.OVERLAP, a[2], a[3], b[2], b[3])
        if reach_any is None or s[1] > reach_any[1]:
            reach_any = s
        if s[4] and (reach_written is None or s[1] > reach_written[1]):
            reach_written = s
    return None


# The low-precision layouts (csrc/cpu/sweeps.h, Layout; docs/low-precision.md): the dtypes of the
# params, grads, states and param copy that an optimizer step takes, and what each is for.
LAYOUTS = (
    ("float32", "float32", "float32", None, "float32"),
    ("float64", "float64", "float64", None, "float64"),
    ("bfloat16", "bfloat16", "bfloat16", None, "(A) torch's fused bfloat16"),
    ("float16", "float16", "float16", None, "(A) torch's fused float16"),
    ("bfloat16", "bfloat16", "float32", None, "(B) narrow params, float32 states"),
    ("float16", "float16", "float32", None, "(B) narrow params, float32 states"),
    ("float32", "float32", "float32", "bfloat16", "(C) float32 master, bfloat16 copy"),
    ("float32", "float32", "float32", "float16", "(C) float32 master, float16 copy"),
    ("float32", "bfloat16", "float32", "bfloat16", "(C) float32 master, bfloat16 grads and copy"),
    ("float32", "float16", "float32", "float16", "(C) float32 master, float16 grads and copy"),
)
_NARROW = ("bfloat16", "float16")
# The kernels that take every layout (the optimizers and the probe); the others take one dtype.
_EVERY_LAYOUT = frozenset((*KERNELS, "probe"))


def layout_table() -> str:
    """The LAYOUTS as the error messages list them."""
    rows = []
    for param, grad, state, copy, what in LAYOUTS:
        text = f"params {param}, grads {grad}, states {state}"
        rows.append(f"{text}, param_copy {copy}" if copy else text)
    return "; ".join(rows)


def with_param_copy(streams: tuple[Any, ...], param_copy: Any, backend: Any) -> tuple[Any, ...]:
    """The streams with mode (C)'s param copy after them; ValueError where the backend has none."""
    if getattr(backend, "name", None) != "native":
        raise ValueError(f"param_copy needs the native backend (backend {backend.name!r} was chosen)")
    return (*streams, param_copy)


def _is_lowp_call(streams: Sequence[Any]) -> bool:
    """Whether a call's arrays include a narrow one, or it has a param copy (the layout table then
    explains a dtype mismatch better than "one dtype")."""
    for stream in streams:
        for a in _as_list(stream) if stream is not None else ():
            if isinstance(a, np.ndarray) and a.dtype.name in _NARROW:
                return True
    return False


def buffer_error(problem: Problem, optimizer: str, streams: Sequence[Any]) -> Exception:
    """The exception for a problem tuple from check_streams() or the native gather()."""
    names = STREAMS[optimizer]
    if len(streams) > len(names):  # mode (C): the param copy follows the optimizer's own streams
        names = (*names, "param_copy")
    code, k, i, k2, i2 = problem
    code = BufferProblem(code)

    def label(stream: int, index: int) -> str:
        return names[stream] if index < 0 else f"{names[stream]}[{index}]"

    def array(stream: int, index: int) -> Any:
        s = streams[stream]
        return s if index < 0 else s[index]

    what = label(k, i)
    if code is BufferProblem.NOT_SEQUENCE:
        return TypeError(f"{what} must be a numpy.ndarray or a list/tuple of them, "
                         f"got {type(streams[k]).__name__}{why_not_viewed(streams[k])}")
    if code is BufferProblem.LENGTH:
        return ValueError(f"{what} has {len(_as_list(streams[k]))} arrays but params has "
                          f"{len(_as_list(streams[0]))}; each list must align with params")
    if code is BufferProblem.NOT_ARRAY:
        return TypeError(f"{what} must be a numpy.ndarray, got {type(array(k, i)).__name__}"
                         f"{why_not_viewed(array(k, i))}")
    if code is BufferProblem.DTYPE:
        dtype = _dtype_and_shape(array(k, i))[0]
        if dtype.name in _NARROW:
            return TypeError(f"{what} has dtype {dtype.name}; this call takes float32 and float64 arrays "
                             "(bfloat16 and float16 ones are taken by the native backend's element-wise "
                             "optimizer steps; not by LAMB, LARS or Adafactor, nor the gradient tools)")
        return TypeError(f"{what} has dtype {dtype.str} ({dtype}); "
                         "pygd updates native-endian float32 and float64 arrays"
                         + (", and bfloat16 (ml_dtypes) and float16 ones in the optimizer steps"
                            if optimizer in _EVERY_LAYOUT or optimizer == "params" else ""))
    if code is BufferProblem.DTYPE_MISMATCH and optimizer in _EVERY_LAYOUT and (
            len(streams) > len(STREAMS[optimizer]) or _is_lowp_call(streams)):
        copied = len(streams) > len(STREAMS[optimizer])
        dtype = _dtype_and_shape(array(k, i))[0]
        if copied and k == len(names) - 1:
            return TypeError(f"{what} has dtype {dtype}; param_copy must be bfloat16 or float16 (the "
                             "narrow copy of float32 params)")
        if copied and k == 0:
            return TypeError(f"{what} has dtype {dtype}; with param_copy the params must be the "
                             "float32 master params")

        def first(stream: int) -> tuple[int, int]:
            return (stream, 0 if isinstance(streams[stream], (list, tuple)) else -1)
        # Set against the first array of its own stream, or of the stream that decided the layout:
        # the params for the grads and the first state, the first state for the others.
        states = [s for s in range(2, len(STREAMS[optimizer])) if streams[s] is not None]
        if i > 0:
            other = first(k)
        elif k in states[1:]:
            other = first(states[0])
        else:
            other = first(0)
        return TypeError(f"{what} has dtype {dtype} but {label(*other)} has "
                         f"{_dtype_and_shape(array(*other))[0]}: these dtypes are none of the "
                         f"combinations pygd's optimizers take ({layout_table()}; every array of a "
                         "stream has one dtype)")
    if code is BufferProblem.DTYPE_MISMATCH:
        # params are checked first, so a later stream's array differs from its own param's dtype
        other = (0, i) if k > 0 and i >= 0 else (0, 0 if isinstance(streams[0], (list, tuple)) else -1)
        return TypeError(f"{what} has dtype {_dtype_and_shape(array(k, i))[0]} but {label(*other)} "
                         f"has {_dtype_and_shape(array(*other))[0]}; all arrays of one call must "
                         "share one dtype")
    if code is BufferProblem.SHAPE:
        param = label(0, i)
        rule = FACTORED.get(optimizer, (None,) * (k + 1))[k]
        if rule in ("row", "col"):
            expected = factor_shape(_dtype_and_shape(array(0, i))[1], rule)
            return ValueError(f"{what} has shape {_dtype_and_shape(array(k, i))[1]} but {param} has shape "
                              f"{_dtype_and_shape(array(0, i))[1]}, so it must have shape {expected} "
                              f"(its {'last' if rule == 'row' else 'second-to-last'} dim 1)")
        return ValueError(f"{what} has shape {_dtype_and_shape(array(k, i))[1]} but {param} has "
                          f"shape {_dtype_and_shape(array(0, i))[1]}")
    if code is BufferProblem.NOT_CONTIGUOUS:
        return ValueError(f"{what} is not C-contiguous; pass np.ascontiguousarray(...) "
                          "and keep using that copy")
    if code is BufferProblem.MISALIGNED:
        return ValueError(f"{what} is not aligned to its dtype's size")
    if code is BufferProblem.READ_ONLY:
        return ValueError(f"{what} is read-only, but this call updates it in place")
    return ValueError(f"{what} and {label(k2, i2)} share memory; every array this call writes "
                      "must have memory of its own")
