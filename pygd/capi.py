"""cffi bindings of pygd's C ABI (libpygd, csrc/capi/pygd.h), and a thin layer over NumPy arrays.

    import pygd.capi
    pygd.capi.adam_(params, grads, exp_avgs, exp_avg_sqs, step=1, lr=1e-3)

`ffi` and `lib` are cffi's, in ABI mode over the shipped library (pygd.get_library()), declared
from the shipped header (pygd.get_include()): nothing is compiled at import. `lib.pygd_adam_step`
etc. are the C functions themselves, which Numba can also call from nopython code (see
examples/numba_capi.py). The `<name>_` functions here take what the functional API takes (pygd.adam_
etc., without `backend`) and call the C ABI: the C library checks the hyperparameters, the step,
the states they need, alignment and overlaps, and words its errors as the functional API does;
what only Python objects can get wrong (types, contiguity, read-only arrays, shapes, list lengths)
is checked here by the functional API's own checker, pygd._validate. Nothing is written on error.

Needs cffi (`pip install pygd[capi]`) and a pygd built with its native code; else importing this
module raises ImportError.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _capigen, _dlpack, _paths, _steps, _validate
from ._constants import BufferProblem
from ._specs import OptimizerSpec

try:
    import cffi
except ImportError as missing:  # pragma: no cover - depends on the environment
    raise ImportError("pygd.capi needs cffi: pip install 'pygd[capi]' (or cffi>=1.15)") from missing

try:
    LIBRARY = _paths.get_library()
    INCLUDE = _paths.get_include()
except FileNotFoundError as absent:
    raise ImportError(f"pygd.capi needs libpygd, pygd's C ABI library: {absent}") from None

_CDEF = re.compile(r"/\* PYGD_CDEF_BEGIN.*?\*/(.*)/\* PYGD_CDEF_END \*/", re.S)


def cdef_source(header: str) -> str:
    """The declarations of pygd.h as cffi's cdef takes them: the region between its CDEF markers,
    without PYGD_API and the string macros (cffi's cdef takes integer macros only)."""
    match = _CDEF.search(header)
    if match is None:
        raise ImportError("pygd.h has no PYGD_CDEF_BEGIN/PYGD_CDEF_END region")
    lines = [line for line in match.group(1).splitlines()
             if not re.match(r'\s*#define\s+\w+\s+"', line)]
    return "\n".join(lines).replace("PYGD_API ", "")


def _header() -> str:
    with open(f"{INCLUDE}/pygd.h", encoding="utf-8") as f:
        return f.read()


def _load() -> tuple[Any, Any]:
    ffi = cffi.FFI()
    ffi.cdef(cdef_source(_header()))
    lib = ffi.dlopen(LIBRARY)
    if lib.pygd_check_abi(lib.PYGD_ABI_VERSION) != lib.PYGD_OK:
        raise ImportError(f"{LIBRARY}: {ffi.string(lib.pygd_last_error()).decode()}")
    return ffi, lib


ffi, lib = _load()
_EXCEPTIONS: dict[int, type[Exception]] = {lib.PYGD_ERROR_VALUE: ValueError, lib.PYGD_ERROR_TYPE: TypeError}
_DTYPES = {np.dtype(np.float32): lib.PYGD_FLOAT32, np.dtype(np.float64): lib.PYGD_FLOAT64}
_DTYPE_NAMES = {"float32": lib.PYGD_FLOAT32, "float64": lib.PYGD_FLOAT64}
# Problems of Python objects, which cannot cross the C ABI: checked here (pygd._validate).
_PYTHON_ONLY = frozenset(BufferProblem) - {BufferProblem.MISALIGNED, BufferProblem.OVERLAP}
_INT64 = (-(2**63), 2**63)


_NOPYTHON: list[tuple[Any, Any]] = []


def nopython() -> tuple[Any, Any]:
    """(ffi, lib) of the same library, declared so that Numba's nopython mode can call it: each
    pointer table as `uint64_t*` (an array of addresses, np.uint64) and each hyperparameter struct
    as `const uint8_t*` (its bytes, e.g. np.frombuffer(ffi.buffer(hparams(...)), np.uint8)):
    Numba types neither `void* const*` nor structs. The same functions, on 64-bit platforms."""
    if not _NOPYTHON:
        source = cdef_source(_header())
        source = re.sub(r"void\* const\* ", "uint64_t* ", source)
        source = re.sub(r"const pygd_\w+_hparams\* hparams", "const uint8_t* hparams", source)
        ffi = cffi.FFI()
        ffi.cdef(source)
        _NOPYTHON.append((ffi, ffi.dlopen(LIBRARY)))
    return _NOPYTHON[0]


def hparams(name: str, **options: Any) -> Any:
    """A `pygd_<name>_hparams` struct (cffi) at torch's defaults, then `options` set by field name
    (betas as beta1, beta2; flags as 0/1). The step function checks the values."""
    struct = ffi.new(f"pygd_{name}_hparams*")
    getattr(lib, f"pygd_{name}_hparams_init")(struct, ffi.sizeof(struct[0]))
    for field, value in options.items():
        setattr(struct, field, value)
    return struct


def last_error() -> str:
    """The message of this thread's last failed C call."""
    message: bytes = ffi.string(lib.pygd_last_error())
    return message.decode()


def error(code: int, bare: tuple[str, ...] = ()) -> Exception:
    """The exception for a C call's return code: TypeError or ValueError as the functional API
    raises them (RuntimeError for the others). `bare`: streams passed as one array, not a list,
    which the functional API names without an index ("params", not "params[0]")."""
    message = last_error()
    for name in bare:
        message = re.sub(rf"\b{name}\[0\]", name, message)
    return _EXCEPTIONS.get(code, RuntimeError)(message)


def version() -> str:
    """pygd's version, as the library says it."""
    text: bytes = ffi.string(lib.pygd_version())
    return text.decode()


def abi_version() -> int:
    """The library's ABI version (PYGD_ABI_VERSION)."""
    return int(lib.pygd_abi_version())


def isa() -> str:
    """The instruction-set level the library's calls use."""
    text: bytes = ffi.string(lib.pygd_isa())
    return text.decode()


def set_isa(name: str) -> None:
    """Selects an instruction-set level for the library's calls (ValueError if it cannot run)."""
    code = lib.pygd_set_isa(name.encode())
    if code:
        raise error(code)


def get_num_threads() -> int:
    """The threads a library call made now on this thread uses."""
    return int(lib.pygd_get_num_threads())


def set_num_threads(n: int) -> None:
    """Sets the library's thread count (n <= 0: the environment decides again)."""
    code = lib.pygd_set_num_threads(n)
    if code:
        raise error(code)


def _address(a: object) -> int:
    if isinstance(a, np.ndarray):
        address: int = a.__array_interface__["data"][0]
        return address
    return 0  # not an array: a problem found before it is reached in the C checks


class _Plan:
    """What a call of one spec's C step needs, looked up once: its C functions and struct type,
    its options as (name, check, kernel names), its streams as (name, needed, option)."""

    def __init__(self, spec: OptimizerSpec) -> None:
        self.spec = spec
        self.struct = ffi.typeof(f"pygd_{spec.name}_hparams*")
        self.size = ffi.sizeof(f"pygd_{spec.name}_hparams")
        self.init = getattr(lib, f"pygd_{spec.name}_hparams_init")
        self.step = getattr(lib, f"pygd_{spec.name}_step")
        # (name, kind, check, kernel names, split): kind "flag", "pair" or "real"; split: a pair the
        # functional step takes as its two names (_specs.Option.functional_split)
        self.options = [(o.name, "flag" if o.check == "flag" else "pair" if len(o.sets) == 2 else "real", o.check,
                         o.sets, bool(getattr(o, "functional_split", False)))
                        for o in spec.options if _capigen.takes(o) and o.sets]
        self.streams = [(s.name, s.needed, s.option if s.needed else None) for s in spec.streams]


# The functional API's checks of one option, by kind (_specs.CHECKS), for values that are not floats.
_SCALAR_CHECKS: dict[str, Callable[[str, Any], float]] = {
    "non_negative": _validate.non_negative, "not_nan": _validate.not_nan,
    "unit_interval": lambda name, value: _validate.in_unit_interval(name, value, include_one=True)}
_VOIDP = ffi.typeof("void*")
_TABLE = ffi.typeof("void*[]")
_SIZES = ffi.typeof("int64_t[]")


def _call(plan: _Plan, values: dict[str, Any]) -> None:
    """One call of a spec's C step with the functional API's arguments `values`."""
    spec = plan.spec
    step = 1
    if spec.takes_step:
        step = values["step"]
        if type(step) is not int or not _INT64[0] <= step < _INT64[1]:
            step = _validate.step_count(step)  # the type (and an out-of-range int): raises
    hparams = ffi.new(plan.struct)
    plan.init(hparams, plan.size)
    options: dict[str, Any] = {}
    for name, kind, check, sets, split in plan.options:
        # A float (a pair of floats) goes to the C checks as it is; anything else gets the
        # functional API's own check, which says what is wrong with it in its words.
        if kind == "flag":
            options[name] = bool(values[name])
            setattr(hparams, sets[0], options[name])
        elif kind == "pair":
            pair = (values[sets[0]], values[sets[1]]) if split else values[name]
            if not (type(pair) is tuple and len(pair) == 2 and type(pair[0]) is float and type(pair[1]) is float):
                pair = getattr(_validate, check)(pair)
            setattr(hparams, sets[0], pair[0])
            setattr(hparams, sets[1], pair[1])
        else:
            value = values[name]
            options[name] = value if type(value) is float else _SCALAR_CHECKS.get(check, _validate.real)(name, value)
            setattr(hparams, sets[0], options[name])
    # An optional state the options do not need is not the call's (as in the functional API).
    streams = tuple(values[name] if needed is None or option not in options or needed(options[option]) else None
                    for name, needed, option in plan.streams)
    problem, checked = _validate.check_arrays(spec.kernel, streams)
    if problem is not None:
        # Host arrays that speak DLPack (torch CPU tensors, JAX arrays), as NumPy views: as the
        # functional API takes them.
        viewed = _dlpack.host_views(problem, streams)
        if viewed is not None:
            streams = viewed
            problem, checked = _validate.check_arrays(spec.kernel, streams)
    bare = tuple(s[0] for s, a in zip(plan.streams, streams) if isinstance(a, np.ndarray))
    tail = (step, hparams, 1.0) if spec.takes_step else (hparams, 1.0)
    if problem is not None and problem[0] in _PYTHON_ONLY:
        # The options, step and needed states are checked before the arrays, as the functional
        # API does: the C checks alone, over no tensors.
        dummy = ffi.new("void*[1]")
        code = plan.step(lib.PYGD_FLOAT32, 0, ffi.NULL, *(ffi.NULL if a is None else dummy for a in streams), *tail)
        if code:
            raise error(code, bare)
        raise _validate.buffer_error(problem, spec.kernel, streams)
    if checked is not None:  # every array passed: the checker's addresses and sizes
        dtype = _DTYPE_NAMES.get(checked.dtype, lib.PYGD_FLOAT32)
        count, addresses = len(checked.sizes), checked.addresses
        sizes = ffi.new(_SIZES, checked.sizes or 1)
    else:  # misaligned or overlapping arrays, which the C checks report: up to the first one
        lists = [None if a is None else [a] if isinstance(a, np.ndarray) else a for a in streams]
        params: Any = lists[0]
        count = len(params)
        first = params[0] if count else None
        dtype = _DTYPES.get(first.dtype, lib.PYGD_FLOAT32) if isinstance(first, np.ndarray) else lib.PYGD_FLOAT32
        sizes = ffi.new(_SIZES, [a.size if isinstance(a, np.ndarray) else 0 for a in params] or 1)
        addresses = [None if arrays is None else [_address(a) for a in arrays] for arrays in lists]
    tables = [ffi.NULL if row is None else ffi.new(_TABLE, [ffi.cast(_VOIDP, a) for a in row] or 1)
              for row in addresses]
    code = plan.step(dtype, count, sizes, *tables, *tail)
    if code:
        raise error(code, bare)


def _step_function(spec: OptimizerSpec) -> Callable[..., None]:
    """pygd.capi.<name>_: the functional step's parameters (without backend), over the C ABI."""
    positional, keywords = _steps.functional_parameters(spec)
    keywords = [p for p in keywords if p.name != "backend"]
    names = [p.name for p in (*positional, *keywords)]
    source = "\n".join([f"def {spec.name}_({_steps.render_parameters(positional, keywords)}):",
                        f'    """{spec.doc}"""',
                        "    _call(_spec, {" + ", ".join(f'"{n}": {n}' for n in names) + "})", ""])
    namespace = {"_call": _call, "_spec": _Plan(spec), "_defaults": spec.defaults}
    function = _steps._compile(source, f"{spec.name}_", namespace)
    function.__module__ = __name__
    return function


# The C ABI's optimizers: every spec but those _capigen.SKIPPED says it cannot express.
STEPS: dict[str, Callable[..., None]] = {name: _step_function(spec) for name, spec in _capigen.C_SPECS.items()}
globals().update({f"{name}_": fn for name, fn in STEPS.items()})


def __getattr__(name: str) -> Callable[..., None]:  # the steps, for a type checker
    if name.endswith("_") and name[:-1] in STEPS:
        return STEPS[name[:-1]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
