"""The C ABI (libpygd, csrc/capi/pygd.h) through its cffi bindings (pygd.capi): the functional API's
tests run through it. Every optimizer of the table (cases.py) matches the float64 oracle and
pygd's own functions bit for bit; bad input gets the functional API's exception and words and
writes nothing; what only C callers can get wrong (NULL pointers, negative sizes, a bad dtype, a
struct of another size) is an error code and a message, never a crash. The generated parts of
the header are current (python -m pygd._capigen --check)."""

import math
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("cffi")

from test_validate import BAD_ARRAYS, BAD_HYPERPARAMETERS, _arrays  # noqa: E402

import pygd  # noqa: E402
from cases import (  # noqa: E402
    CASES,
    DTYPES,
    HEAVY,
    NATIVE,
    OPTIMIZERS,
    assert_bitwise,
    assert_run_close,
    grads_at,
    initial_params,
    reference,
)

if not NATIVE:
    with pytest.raises(ImportError, match="libpygd"):
        import pygd.capi
    pytest.skip("pygd was built without its native code: pygd.capi raises ImportError", allow_module_level=True)

import pygd.capi as capi  # noqa: E402
from pygd import _capigen  # noqa: E402

# The C ABI leaves out the factored optimizers (Adafactor: _capigen.SKIPPED says why).
CASES = [c for c in CASES if c.optimizer not in _capigen.SKIPPED]
HEAVY = [c for c in HEAVY if c.optimizer not in _capigen.SKIPPED]

ffi, lib = capi.ffi, capi.lib
SHAPES = [(1,), (7,), (33,), (4, 17), (1031,)]  # odd sizes: every vector width's tail
STEPS = 5


def call_kwargs(case, states, t):
    """The keyword arguments of case.call (without backend): options, states, the step count and
    the state scalars (NAdam's mu_product) that steps 1..t give."""
    kwargs = dict(case.options, **states)
    if case.opt.takes_step:
        kwargs["step"] = t
    kwargs.update(case.state_scalars(t))
    return kwargs


def run_capi(case, shapes, dtype, steps, multi=True):
    """cases.run through pygd.capi: (params, states)."""
    fn = capi.STEPS[case.optimizer]
    params = [initial_params(s, dtype) for s in shapes]
    states = case.new_states(shapes, dtype)
    for t in range(1, steps + 1):
        grads = [grads_at(s, dtype, t) for s in shapes]
        calls = [(params, grads, states)] if multi else [
            (params[i], grads[i], {k: v[i] for k, v in states.items()}) for i in range(len(shapes))]
        for p, g, st in calls:
            fn(p, g, **call_kwargs(case, st, t))
    return params, states


def run_python(case, shapes, dtype, steps):
    """The same calls through the functional API's native backend."""
    params = [initial_params(s, dtype) for s in shapes]
    states = case.new_states(shapes, dtype)
    for t in range(1, steps + 1):
        case.call(params, [grads_at(s, dtype, t) for s in shapes], states, t, "native")
    return params, states


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_generated_parts_are_current():
    """csrc/capi/pygd.h's generated region and specs.inc say what the specs say (of the source tree
    above these tests, whichever pygd is imported)."""
    if not os.path.isdir(os.path.join(ROOT, "csrc", "capi")):
        pytest.skip("no source tree above the tests")
    assert _capigen.main(["--check", "--root", ROOT]) == 0, "run python -m pygd._capigen and commit csrc/capi/"


def test_the_installed_header_is_the_source_trees():
    source = os.path.join(ROOT, "csrc", "capi", "pygd.h")
    if not os.path.isfile(source):
        pytest.skip("no source tree above the tests")
    with open(source) as a, open(os.path.join(pygd.get_include(), "pygd.h")) as b:
        assert a.read() == b.read(), "the installed pygd.h is not this tree's: rebuild pygd"


def test_every_spec_has_its_functions():
    for name in pygd._specs.SPECS:
        if name in _capigen.SKIPPED:  # the factored ones (Adafactor), with the reason
            assert "shape" in _capigen.SKIPPED[name] and not hasattr(lib, f"pygd_{name}_step")
            continue
        assert callable(getattr(lib, f"pygd_{name}_step"))
        assert callable(getattr(lib, f"pygd_{name}_hparams_init"))
        assert callable(getattr(capi, f"{name}_"))
    assert set(OPTIMIZERS) - set(_capigen.SKIPPED) <= set(capi.STEPS)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matches_float64_reference_and_the_functional_api_bitwise(case, dtype):
    got = run_capi(case, SHAPES, dtype, STEPS)
    assert_run_close(case, got, reference(case, SHAPES, dtype, STEPS), dtype, STEPS)
    assert_bitwise(got, run_python(case, SHAPES, dtype, STEPS), f"{case.id}: C ABI vs pygd.{case.optimizer}_")


@pytest.mark.parametrize("case", HEAVY, ids=lambda c: c.id)
def test_single_tensor_calls_equal_one_list_call(case):
    assert_bitwise(run_capi(case, SHAPES, np.float32, 3, multi=False), run_capi(case, SHAPES, np.float32, 3))


@pytest.mark.parametrize("case", HEAVY[:2], ids=lambda c: c.id)
def test_thread_count_is_bitwise_invisible(case):
    shapes = [(70001,), (3,)]  # above twice the default grain: two threads share it
    before = capi.get_num_threads()
    try:
        capi.set_num_threads(1)
        one = run_capi(case, shapes, np.float32, 2)
        capi.set_num_threads(2)
        assert capi.get_num_threads() == 2
        two = run_capi(case, shapes, np.float32, 2)
    finally:
        capi.set_num_threads(0)
    assert_bitwise(one, two, f"{case.id}: 1 vs 2 threads")
    assert capi.get_num_threads() == before


def test_every_isa_level_gives_the_same_bits():
    case = HEAVY[1]
    results = []
    try:
        for isa in pygd.info()["isas"]:
            capi.set_isa(isa)
            assert capi.isa() == isa
            results.append(run_capi(case, SHAPES, np.float64, 2))
    finally:
        capi.set_isa(pygd.info()["isas"][-1])
    for r in results[1:]:
        assert_bitwise(results[0], r, "ISA levels")
    with pytest.raises(ValueError, match="isa must be one of .* got 'mmx'"):
        capi.set_isa("mmx")


# ----------------------------------------------------------------------------- bad input

_BACKEND_CASES = ("unknown-backend", "cuda-with-host-arrays", "backend-none")


def _without_backend(params):
    return [p for p in params if not any(b in p.id for b in _BACKEND_CASES)
            and not any(p.id.startswith(f"{name}-") for name in _capigen.SKIPPED)]


@pytest.mark.parametrize("build, exc, match", _without_backend(BAD_ARRAYS + BAD_HYPERPARAMETERS))
def test_bad_input_gets_the_functional_apis_words_and_writes_nothing(build, exc, match):
    messages = []
    for via in ("functional", "capi"):
        fn, kwargs = build()
        if via == "capi":
            fn = getattr(capi, fn.__name__)
        before = [(a, a.tobytes()) for a in _arrays(kwargs)]
        with pytest.raises(exc, match=match) as raised:
            fn(**kwargs)
        for a, data in before:
            assert a.tobytes() == data, f"{via}: an array changed although the call was rejected"
        messages.append(str(raised.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-1.0), "lr must be >= 0, got -1.0"),
    (dict(lr=1e-300 * -1), "lr must be >= 0, got -1e-300"),
    (dict(eps=-2.5e-17), "eps must be >= 0, got -2.5e-17"),
    (dict(weight_decay=-123456789012345678.0), "weight_decay must be >= 0, got -1.2345678901234568e+17"),
    (dict(weight_decay=-1e16), "weight_decay must be >= 0, got -1e+16"),
    (dict(weight_decay=-1234567890123456.0), "weight_decay must be >= 0, got -1234567890123456.0"),
    (dict(lr=-0.0001), "lr must be >= 0, got -0.0001"),
    (dict(lr=-0.00001), "lr must be >= 0, got -1e-05"),
    (dict(lr=float("-inf")), "lr must be >= 0, got -inf"),
    (dict(betas=(0.9, float("inf"))), "betas[1] must be in [0, 1), got inf"),
    (dict(lr=-1), "lr must be >= 0, got -1"),  # not floats: the functional API's own check
    (dict(betas=[0.9, 2]), "betas[1] must be in [0, 1), got 2"),
    (dict(eps=np.float32(-0.5)), "eps must be >= 0, got np.float32(-0.5)"),
])
def test_numbers_are_quoted_as_python_writes_them(kwargs, message):
    for fn in (pygd.adam_, capi.adam_):
        params = [np.zeros(3)]
        with pytest.raises(ValueError) as raised:
            fn(params, [np.zeros(3)], [np.zeros(3)], [np.zeros(3)], step=1, **kwargs)
        assert str(raised.value) == message


def _raw_adam(dtype=None, count=1, sizes=(4,), tables=None, step=1, hparams=None, grad_scale=1.0):
    """A direct C call of pygd_adam_step, default arguments valid; returns (code, message, arrays)."""
    arrays = [np.full(4, k + 1.0) for k in range(5)]
    pointers = [ffi.new("void*[]", [ffi.cast("void*", a.ctypes.data)]) for a in arrays]
    if tables is not None:
        pointers = tables(pointers, arrays)
    if hparams is None:
        hparams = ffi.new("pygd_adam_hparams*")
        lib.pygd_adam_hparams_init(hparams, ffi.sizeof("pygd_adam_hparams"))
    sizes = ffi.new("int64_t[]", list(sizes)) if sizes is not None else ffi.NULL
    before = [a.copy() for a in arrays]
    code = lib.pygd_adam_step(lib.PYGD_FLOAT64 if dtype is None else dtype, count, sizes, *pointers, step,
                              hparams, grad_scale)
    message = capi.last_error()
    if code != lib.PYGD_OK:
        for a, b in zip(arrays, before):
            assert a.tobytes() == b.tobytes(), "an array changed although the call was rejected"
    return code, message


def _sized(size):
    h = ffi.new("pygd_adam_hparams*")
    lib.pygd_adam_hparams_init(h, ffi.sizeof("pygd_adam_hparams"))
    h.size = size
    return h


def _null_entry(stream):
    def edit(pointers, arrays):
        pointers[stream][0] = ffi.NULL
        return pointers
    return edit


def _null_table(stream):
    def edit(pointers, arrays):
        pointers[stream] = ffi.NULL
        return pointers
    return edit


def _offset(stream, by):
    def edit(pointers, arrays):
        pointers[stream][0] = ffi.cast("void*", arrays[stream].ctypes.data + by)
        return pointers
    return edit


def _into(stream, other, by):
    def edit(pointers, arrays):
        pointers[stream][0] = ffi.cast("void*", arrays[other].ctypes.data + by)
        return pointers
    return edit


def _at(stream, address):
    def edit(pointers, arrays):
        pointers[stream][0] = ffi.cast("void*", address)
        return pointers
    return edit


def _alias(stream, other):
    def edit(pointers, arrays):
        pointers[stream][0] = pointers[other][0]
        return pointers
    return edit


@pytest.mark.parametrize("call, code, message", [
    (dict(dtype=7), "TYPE", "dtype must be PYGD_FLOAT32 (0) or PYGD_FLOAT64 (1), got 7"),
    (dict(count=-1), "VALUE", "count must be >= 0, got -1"),
    (dict(sizes=None), "VALUE", "sizes is NULL"),
    (dict(sizes=(-3,)), "VALUE", "sizes[0] must be >= 0, got -3"),
    (dict(sizes=(2**62,)), "VALUE", "sizes[0] is too large"),
    (dict(tables=_null_table(0)), "VALUE", "params is NULL"),
    (dict(tables=_null_table(3)), "VALUE", "exp_avg_sqs is NULL"),
    (dict(tables=_null_entry(2)), "VALUE", "exp_avgs[0] is NULL"),
    (dict(tables=_offset(1, 4)), "VALUE", "grads[0] is not aligned to its dtype's size"),
    (dict(tables=_into(2, 3, 8)), "VALUE", "exp_avgs[0] and exp_avg_sqs[0] share memory"),
    (dict(tables=_alias(3, 0)), "VALUE", "params[0] and exp_avg_sqs[0] share memory"),
    (dict(tables=_at(0, 2**64 - 16)), "VALUE", "params[0] runs past the end of the address space"),
    (dict(step=0), "VALUE", "step must be >= 1 and < 2**62 (the 1-based step count), got 0"),
    (dict(step=-(2**63)), "VALUE", "got -9223372036854775808"),
    (dict(hparams=ffi.NULL), "VALUE", "hparams is NULL"),
    (dict(hparams=_sized(0)), "VALUE", "hparams.size is 0; set it with pygd_adam_hparams_init"),
    (dict(hparams=_sized(1000)), "VERSION", "hparams.size is 1000 but this libpygd"),
    (dict(grad_scale=0.0), "VALUE", "grad_scale must be finite and > 0 (1: none), got 0.0"),
    (dict(grad_scale=float("nan")), "VALUE", "grad_scale must be finite and > 0 (1: none), got nan"),
    (dict(grad_scale=2.0, tables=_alias(1, 1)), None, ""),  # one tensor: nothing shared
])
def test_what_only_c_can_get_wrong_is_a_code_and_a_message(call, code, message):
    got, text = _raw_adam(**call)
    expected = lib.PYGD_OK if code is None else getattr(lib, f"PYGD_ERROR_{code}")
    assert got == expected, text
    assert message in text if message else text == ""


def test_grads_stored_back_unscaled_must_not_share_memory():
    """Two tensors whose grads are one buffer: fine when only read, an error when written back."""
    sizes = (2, 2)

    def two(pointers, arrays):
        out = []
        for k, p in enumerate(pointers):
            out.append(ffi.new("void*[]", [p[0], ffi.cast("void*", arrays[k].ctypes.data + 16)]))
        out[1] = ffi.new("void*[]", [pointers[1][0], pointers[1][0]])
        return out
    assert _raw_adam(count=2, sizes=sizes, tables=two)[0] == lib.PYGD_OK
    code, text = _raw_adam(count=2, sizes=sizes, tables=two, grad_scale=4.0)
    assert code == lib.PYGD_ERROR_VALUE and text.startswith("grads[0] and grads[1] share memory"), text


def test_an_older_callers_smaller_struct_gets_defaults_for_the_rest():
    """A struct that ends before `eps` (a caller built against an older header): the library
    reads what it holds and gives the other fields their defaults."""
    offset = ffi.offsetof("pygd_adam_hparams", "eps")
    full, short = _sized(ffi.sizeof("pygd_adam_hparams")), _sized(offset)
    full.lr = short.lr = 0.5
    short.eps = full.eps = 123.0  # past short.size: ignored
    full.eps = 1e-8
    results = []
    for h in (full, short):
        p, g, m, v = (np.full(3, x) for x in (1.0, 0.5, 0.0, 0.0))
        tables = [ffi.new("void*[]", [ffi.cast("void*", a.ctypes.data)]) for a in (p, g, m, v)]
        assert lib.pygd_adam_step(lib.PYGD_FLOAT64, 1, ffi.new("int64_t[]", [3]), *tables, ffi.NULL, 1, h,
                                  1.0) == lib.PYGD_OK, capi.last_error()
        results.append(p)
    assert results[0].tobytes() == results[1].tobytes()


def test_an_option_without_a_default_must_be_set():
    """NAdam's mu_product (state the caller keeps) has no default: NaN until set, which its check
    rejects."""
    spec = next((s for s in pygd._specs.SPECS.values() for o in s.options if o.default is None), None)
    if spec is None:
        pytest.skip("no optimizer has an option without a default")
    option = next(o for o in spec.options if o.default is None)
    h = capi.hparams(spec.name)
    assert math.isnan(getattr(h, option.sets[0]))
    arrays = [np.zeros(3) for _ in spec.streams]
    tables = [ffi.new("void*[]", [ffi.cast("void*", a.ctypes.data)]) for a in arrays]
    tail = (1, h, 1.0) if spec.takes_step else (h, 1.0)
    code = getattr(lib, f"pygd_{spec.name}_step")(lib.PYGD_FLOAT64, 1, ffi.new("int64_t[]", [3]), *tables, *tail)
    assert code == lib.PYGD_ERROR_VALUE and capi.last_error().startswith(f"{option.name} must be"), capi.last_error()


def test_init_writes_no_more_than_the_size_it_is_given():
    buf = ffi.new("char[]", ffi.sizeof("pygd_adam_hparams") + 8)
    for i in range(len(buf)):
        buf[i] = b"\x7f"
    lib.pygd_adam_hparams_init(ffi.cast("pygd_adam_hparams*", buf), 12)
    assert bytes(ffi.buffer(buf))[12:] == b"\x7f" * (len(buf) - 12)
    assert ffi.cast("pygd_adam_hparams*", buf).size == 12


def test_torch_cpu_tensors_are_taken_as_the_functional_api_takes_them():
    torch = pytest.importorskip("torch")
    p, g, m, v = (torch.full((5,), x) for x in (1.0, 0.5, 0.0, 0.0))
    ref = [t.numpy().copy() for t in (p, g, m, v)]
    capi.adam_([p], [g], [m], [v], step=1, lr=0.1)
    pygd.adam_([ref[0]], [ref[1]], [ref[2]], [ref[3]], step=1, lr=0.1)
    assert p.numpy().tobytes() == ref[0].tobytes()


@pytest.mark.parametrize("case", HEAVY, ids=lambda c: c.id)
@pytest.mark.parametrize("empty", ["list", "array"])
def test_empty_is_a_no_op(case, empty):
    fn = capi.STEPS[case.optimizer]
    shapes = [] if empty == "list" else [(0,)]
    params = [np.zeros(s, np.float32) for s in shapes]
    states = case.new_states(shapes, np.float32)
    fn(params, [np.zeros(s, np.float32) for s in shapes], **call_kwargs(case, states, 1))


def test_versions_and_abi_check():
    assert capi.version() == pygd.__version__
    assert capi.abi_version() == lib.PYGD_ABI_VERSION
    assert lib.pygd_check_abi(lib.PYGD_ABI_VERSION) == lib.PYGD_OK and capi.last_error() == ""
    assert lib.pygd_check_abi(lib.PYGD_ABI_VERSION + 1) == lib.PYGD_ERROR_VERSION
    assert "ABI version" in capi.last_error()
    assert capi.isa() in pygd.info()["isas"]
    assert ffi.string(lib.pygd_supported_isas()).decode().split(",") == pygd.info()["isas"]


def test_library_exports_only_the_c_abi():
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("no nm")
    out = subprocess.run([nm, "-D", "--defined-only", pygd.get_library()], capture_output=True, text=True,
                         check=True).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    assert names and all(n.startswith("pygd_") for n in names), [n for n in names if not n.startswith("pygd_")]
    declared = set(re.findall(r"\b(pygd_\w+)\(", open(os.path.join(pygd.get_include(), "pygd.h")).read()))
    assert set(names) == declared


def test_paths_and_flags(capsys):
    from pygd import cli
    assert os.path.isfile(pygd.get_library())
    assert os.path.isfile(os.path.join(pygd.get_include(), "pygd.h"))
    assert cli.main(["--cflags", "--libs"]) == 0
    out = capsys.readouterr().out
    assert f"-I{pygd.get_include()}" in out and "-lpygd" in out
    assert cli.main(["--pkg-config"]) == 0
    assert "Libs: -L" in capsys.readouterr().out


def test_cdef_is_the_header():
    """pygd.capi declares to cffi exactly what the header's CDEF region says."""
    with open(os.path.join(pygd.get_include(), "pygd.h")) as f:
        source = capi.cdef_source(f.read())
    assert "PYGD_API" not in source and "pygd_adam_step" in source
