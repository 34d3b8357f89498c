"""The Numba backend on the CPU, and pygd.numba as a library for a user's own Numba code.

Parity with the float64 oracle for every case of the table, dtype and size (the tolerances of
cases.py); the bitwise promises (thread count, one call over a list vs one call per tensor); the
element functions inside a user's @njit loop; and how the backend is found, named and cached.
Bad inputs on this backend are checked with the others: "numba" is in cases.BACKENDS.
GPU calls: test_numba_cuda.py.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import pygd
from cases import CASES, DTYPES, HEAVY, assert_bitwise, assert_run_close, reference, run

# pygd.numba has no factored optimizer (Adafactor: it refuses it by name, test_adafactor.py).
CASES = [c for c in CASES if not c.opt.spec.factored]
HEAVY = [c for c in HEAVY if not c.opt.spec.factored]
from pygd import numba as pygd_numba
from pygd.numba import cpu_loops as cpu

STEPS = 20
SMALL = [(0,), (1,), (7,), (4097,)]
# Several chunks of the CPU driver (CHUNK = 32768), the last one partial, beside small tensors.
LARGE = (3 * cpu.CHUNK + 11,)
# Tensors that split across threads mid-list, and empty or tiny ones between them.
SPLIT = [(4099,), (7,), (1,), (130,), (3,), (0,), (2 * cpu.CHUNK + 5,)]
BITWISE_STEPS = 5

case_param = pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
heavy_param = pytest.mark.parametrize("case", HEAVY, ids=lambda c: c.id)
dtype_param = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def numba_threads():
    """set(n): the Numba backend's thread count for this test: pygd's count, which its parallel
    loops take (conftest restores it)."""
    return pygd.set_num_threads


# ----------------------------------------------------------------------------- parity

@pytest.mark.skipif(not pygd.info()["isas"], reason="needs the native extension")
@dtype_param
@case_param
def test_numba_equals_native_bitwise_at_the_scalar_isa(case, dtype, runtime):
    """Both follow torch's fused operation order with the same fused multiply-adds; at the
    scalar level the native kernels are one lane each, so the bits agree."""
    runtime(isa="scalar")
    assert_bitwise(run(case, SPLIT, dtype, BITWISE_STEPS, backend="numba"),
                   run(case, SPLIT, dtype, BITWISE_STEPS, backend="native"), "numba vs native")


@dtype_param
@case_param
def test_numba_matches_float64_reference(case, dtype):
    ref = reference(case, SMALL, dtype, STEPS)
    for multi in (False, True):
        assert_run_close(case, run(case, SMALL, dtype, STEPS, backend="numba", multi=multi), ref,
                         dtype, STEPS)


@dtype_param
@heavy_param
def test_numba_matches_float64_reference_large(case, dtype):
    shapes = SMALL + [LARGE]
    ref = reference(case, shapes, dtype, STEPS, cached=False)
    assert_run_close(case, run(case, shapes, dtype, STEPS, backend="numba"), ref, dtype, STEPS)


@dtype_param
@case_param
def test_thread_count_is_bitwise_invisible(case, dtype, numba_threads):
    most = min(2, numba.config.NUMBA_NUM_THREADS)  # the most Numba allows in this process
    results = {}
    for threads in (1, most):
        numba_threads(threads)
        results[threads] = run(case, SPLIT, dtype, BITWISE_STEPS, backend="numba")
    assert_bitwise(results[1], results[most], f"1 vs {most} threads")


@dtype_param
@heavy_param
def test_multi_tensor_call_equals_single_calls_bitwise(case, dtype):
    assert_bitwise(run(case, SPLIT, dtype, BITWISE_STEPS, backend="numba", multi=True),
                   run(case, SPLIT, dtype, BITWISE_STEPS, backend="numba", multi=False),
                   "multi vs single")


# ----------------------------------------------------------------------------- the library

@numba.njit
def _user_adam_loop(params, grads, exp_avgs, exp_avg_sqs, steps, lr):
    """A user's own training loop: the scalars made inside @njit, the update per element."""
    for t in range(1, steps + 1):
        s = pygd_numba.adam_scalars(np.float32, t, lr, 0.9, 0.999, 1e-8, 0.1)
        for i in range(params.size):
            pygd_numba.adam_at(i, params, grads[t - 1], exp_avgs, exp_avg_sqs, None, s)


def test_user_njit_loop_equals_the_backend_bitwise():
    rng = np.random.default_rng(3)
    steps, n = 4, 1000
    grads = rng.standard_normal((steps, n)).astype(np.float32)
    mine = [rng.standard_normal(n).astype(np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)]
    theirs = [a.copy() for a in mine]
    _user_adam_loop(*mine[:1], grads, *mine[1:], steps, 1e-2)
    for t in range(1, steps + 1):
        pygd.adam_(theirs[0], grads[t - 1], *theirs[1:], step=t, lr=1e-2, weight_decay=0.1,
                   backend="numba")
    for a, b in zip(mine, theirs):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_element_arithmetic_stays_in_the_arrays_type(dtype):
    """Scalars made for dtype keep every operation in dtype: no float64 in a float32 update."""
    element = numba.typeof(dtype(0))
    nb = pygd_numba
    cases = [  # (element function, values it takes, values it returns, scalars)
        (nb.sgd_element, 3, 2, nb.sgd_scalars(dtype, 2, 0.1, 0.9, 0.1, False, 0.1, True)),
        (nb.adam_element, 5, 4, nb.adam_scalars(dtype, 2, amsgrad=True, weight_decay=0.1)),
        (nb.rmsprop_element, 5, 4, nb.rmsprop_scalars(dtype, momentum=0.9, centered=True)),
        (nb.adagrad_element, 3, 2, nb.adagrad_scalars(dtype, 2, lr_decay=0.1)),
    ]
    for function, takes, returns, s in cases:
        assert {type(x) for x in s if not isinstance(x, bool)} == {dtype}, s
        signature = (element,) * takes + (numba.typeof(s),)
        function.compile(signature)
        returned = function.overloads[signature].signature.return_type
        assert returned == numba.types.UniTuple(element, returns)


def test_scalars_made_in_njit_equal_those_made_in_python():
    @numba.njit
    def made_in_njit(step):
        return pygd_numba.adam_scalars(np.float32, step, 1e-3, 0.8, 0.99, 1e-6, 0.1, True, True, True)

    python = pygd_numba.adam_scalars(np.float32, 7, 1e-3, 0.8, 0.99, 1e-6, 0.1, True, True, True)
    assert tuple(made_in_njit(7)) == tuple(python)


def _load_example(name):
    """examples/<name>.py as a module, registered under its name: Numba's cache records the module
    of compiled code and imports it by name when it loads that code back."""
    if name not in sys.modules:
        path = os.path.join(REPO, "examples", f"{name}.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.parametrize("backend", ["numba", "native"])
def test_example_trained_in_njit_matches_pygd_adam(backend):
    """examples/numba_logistic_regression.py trains inside one @njit function with pygd's element
    update; the same steps through pygd.adam_ give the same model: bitwise with the Numba backend
    (the same compiled update), to rounding with the native one."""
    example = _load_example("numba_logistic_regression")
    X, y = example.make_data(n=512, d=6)
    steps, batch_size, lr = 40, 32, 0.05
    w, b, losses = example.train(X, y, steps, batch_size, lr)

    params = [np.zeros(X.shape[1], np.float32), np.zeros(1, np.float32)]
    exp_avgs, exp_avg_sqs = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    grad_w = np.zeros_like(params[0])
    for step in range(1, steps + 1):
        start, stop = example.batch_rows(step, X.shape[0], batch_size)
        grad_b, _ = example.gradient(params[0], params[1][0], X, y, start, stop, grad_w)
        pygd.adam_(params, [grad_w, np.array([grad_b], np.float32)], exp_avgs, exp_avg_sqs,
                   step=step, lr=lr, backend=backend)
    if backend == "numba":
        assert params[0].tobytes() == w.tobytes() and params[1][0] == b
    else:
        np.testing.assert_allclose(params[0], w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(params[1][0], b, rtol=1e-4, atol=1e-5)
    assert losses[-1] < losses[0]


# ----------------------------------------------------------------------------- the backend

def test_optimizer_classes_run_on_the_numba_backend():
    """pygd.optim passes backend= to the functional steps: the same result as calling them."""
    from pygd import optim
    rng = np.random.default_rng(11)
    params = [rng.standard_normal(s).astype(np.float32) for s in ((5, 3), (3,))]
    mine = [p.copy() for p in params]
    states = [[np.zeros_like(p) for p in params] for _ in range(2)]
    opt = optim.Adam(params, lr=1e-2, weight_decay=0.1, backend="numba")
    for step in range(1, 4):
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
        opt.step(grads)
        pygd.adam_(mine, grads, *states, step=step, lr=1e-2, weight_decay=0.1, backend="numba")
    for a, b in zip(params, mine):
        assert a.tobytes() == b.tobytes()
    with pytest.raises(ValueError, match=r"shape"):
        opt.step([np.zeros((5, 4), np.float32), np.zeros(3, np.float32)])



def test_backend_is_found_by_name():
    from pygd import _backends
    assert _backends.get("numba").name == "numba"
    assert "numba" in _backends.NAMES


def subprocess_env(**env):
    """os.environ plus `env`, with the pygd this process runs first on the path."""
    pygd_home = os.path.dirname(os.path.dirname(pygd.__file__))  # the pygd this process imported
    paths = [pygd_home, *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p), **env)


def _python(code, **env):
    """Runs `code` in a fresh interpreter (with this process's pygd); returns stdout."""
    environment = subprocess_env(**env)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment, check=False,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_pygd_does_not_import_numba():
    out = _python("""
        import sys, pygd
        print("numba" in sys.modules)
    """)
    assert out.split() == ["False"]


def test_pygd_backend_numba_is_the_default():
    out = _python("""
        import numpy as np, pygd
        p, g = np.zeros(3), np.ones(3)
        pygd.sgd_(p, g, step=1, lr=0.5)
        print(pygd.info()["backend"], p.tolist())
    """, PYGD_BACKEND="numba")
    assert out.split() == ["numba", "[-0.5,", "-0.5,", "-0.5]"]


def test_without_numba_the_backend_says_how_to_install_it():
    out = _python("""
        import sys
        sys.modules["numba"] = None  # as if numba were not installed
        import numpy as np, pygd
        p, g = np.zeros(3), np.ones(3)
        pygd.sgd_(p, g, step=1, lr=0.5)  # other backends still work
        try:
            pygd.sgd_(p, g, step=1, lr=0.5, backend="numba")
        except RuntimeError as exc:
            print(exc)
    """)
    assert "pip install 'numba>=0.60'" in out


def test_second_process_loads_compiled_code_from_the_cache(tmp_path):
    """cache=True: the first process compiles and saves, the second only loads."""
    code = """
        import numpy as np, pygd
        from pygd.numba import cpu_loops as cpu
        p, g, m, v = (np.ones(10, np.float32) for _ in range(4))
        pygd.adam_(p, g, m, v, step=1, backend="numba")
        stats = cpu.chunks.stats
        print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
    """
    first = _python(code, NUMBA_CACHE_DIR=str(tmp_path)).split()
    second = _python(code, NUMBA_CACHE_DIR=str(tmp_path)).split()
    assert first == ["0", "1"]
    assert second == ["1", "0"]
