"""The Numba backend on a GPU: arrays exposing __cuda_array_interface__, one kernel launch per call.

The device tests run where a GPU is (numba.cuda.is_available()), or under Numba's CUDA simulator
(NUMBA_ENABLE_CUDASIM=1), which must be set before numba.cuda is first imported; so in an ordinary
run, test_under_the_cuda_simulator runs this file again in a subprocess with the simulator on. The
simulator runs every GPU thread as a Python thread: sizes and step counts are kept small. Under it,
"device" memory is host memory, so the arrays are NumPy arrays behind a __cuda_array_interface__.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import pygd
from cases import (
    CASES,
    DTYPES,
    GPU_CASES,
    GPU_HEAVY,
    assert_run_close,
    grads_at,
    initial_params,
    reference,
)
from pygd import _backends

SIMULATED = bool(numba.config.ENABLE_CUDASIM)
if SIMULATED:
    ON_GPU = True
else:
    from numba import cuda as _cuda
    ON_GPU = _cuda.is_available()
device_only = pytest.mark.skipif(not ON_GPU, reason="needs a GPU or NUMBA_ENABLE_CUDASIM=1 "
                                 "(test_under_the_cuda_simulator runs them so)")

STEPS = 3
# With the simulator's 32 threads per block, 256 elements per block: 600 spans three blocks.
SHAPES = [(0,), (1,), (7,), (600,), (3, 5)]


@pytest.mark.skipif(SIMULATED, reason="this is the run under the simulator")
def test_under_the_cuda_simulator():
    """This file's device tests, in a process where NUMBA_ENABLE_CUDASIM=1 is set from the start."""
    pygd_home = os.path.dirname(os.path.dirname(pygd.__file__))  # the pygd this process imported
    paths = [pygd_home, *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=os.pathsep.join(p for p in paths if p))
    tests = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run([sys.executable, "-m", "pytest", os.path.abspath(__file__), "-q",
                           "-p", "no:cacheprovider", "-x",
                           "-k", "not test_under_the_cuda_simulator and not compiles_to_ptx"],
                          check=False, cwd=tests, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " skipped" not in done.stdout, done.stdout[-3000:]


# ----------------------------------------------------------------------------- device arrays

class DeviceArray:
    """An array on the device, seen only through __cuda_array_interface__ (with .dtype and .shape,
    as Numba's and CuPy's arrays have). `base` holds the memory: a Numba device array on a GPU, a
    NumPy array under the simulator. read_only and strides override what the interface says."""

    def __init__(self, base, read_only=False, strides=None):
        self.base, self.read_only, self.strides = base, read_only, strides
        self.dtype, self.shape = base.dtype, base.shape

    @property
    def __cuda_array_interface__(self):
        if SIMULATED:
            host = self.base.__array_interface__
            interface = {"version": 3, "shape": host["shape"], "typestr": host["typestr"],
                         "data": host["data"], "strides": host["strides"], "stream": None}
        else:
            interface = dict(self.base.__cuda_array_interface__)
        interface["data"] = (interface["data"][0], self.read_only)
        if self.strides is not None:
            interface["strides"] = self.strides
        return interface


def to_device(a, **overrides):
    return DeviceArray(a if SIMULATED else _cuda.to_device(a), **overrides)


def to_host(d):
    return d.base if SIMULATED else d.base.copy_to_host()


def run_on_device(case, shapes, dtype, steps, multi=True):
    """As cases.run(backend="numba"), with every array on the device; returns host copies."""
    params = [to_device(initial_params(s, dtype)) for s in shapes]
    states = {k: [to_device(a) for a in v] for k, v in case.new_states(shapes, dtype).items()}
    for t in range(1, steps + 1):
        grads = [to_device(grads_at(s, dtype, t)) for s in shapes]
        if multi:
            case.call(params, grads, states, t, "numba")
        else:
            for i in range(len(shapes)):
                case.call(params[i], grads[i], {k: v[i] for k, v in states.items()}, t, "numba")
    return [to_host(p) for p in params], {k: [to_host(a) for a in v] for k, v in states.items()}


# ----------------------------------------------------------------------------- parity

@device_only
@pytest.mark.parametrize("name", ["lamb", "lars"])
def test_trust_ratio_optimizers_are_refused_on_the_device(name):
    """LAMB and LARS run on the CPU only (pygd.numba.trust_loops): a device call raises."""
    case = next(c for c in CASES if c.optimizer == name)
    with pytest.raises(NotImplementedError, match="on the CPU only"):
        run_on_device(case, [(7,)], np.float32, 1)


@device_only
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", GPU_CASES, ids=lambda c: c.id)
def test_device_matches_float64_reference(case, dtype):
    got = run_on_device(case, SHAPES, dtype, STEPS)
    assert_run_close(case, got, reference(case, SHAPES, dtype, STEPS), dtype, STEPS)


@device_only
@pytest.mark.parametrize("case", GPU_HEAVY, ids=lambda c: c.id)
def test_device_single_tensor_calls(case):
    got = run_on_device(case, SHAPES, np.float32, STEPS, multi=False)
    assert_run_close(case, got, reference(case, SHAPES, np.float32, STEPS), np.float32, STEPS)


@device_only
def test_a_list_is_one_launch(monkeypatch):
    from pygd.numba import cuda_kernels as kernels
    launches = []
    real = kernels.launch
    monkeypatch.setattr(kernels, "launch", lambda *a: launches.append(a) or real(*a))
    run_on_device(next(c for c in CASES if c.id == "adam-plain"), SHAPES, np.float32, 2)
    assert len(launches) == 2


# ----------------------------------------------------------------------------- bad inputs

def _adam_call(n=2, dtype=np.float32):
    rng = np.random.default_rng(5)
    return {name: [rng.standard_normal(4).astype(dtype) for _ in range(n)]
            for name in ("params", "grads", "exp_avgs", "exp_avg_sqs")}


def _device_call(host):
    return {name: [to_device(a) for a in arrays] for name, arrays in host.items()}


BAD = [  # (edit of the host call, edit of the device call): the same problem on each side
    pytest.param(lambda c: c["params"].__setitem__(1, c["params"][1].astype(np.int32)),
                 None, TypeError, r"params\[1\] has dtype <i4", id="int-dtype"),
    pytest.param(lambda c: c["grads"].__setitem__(0, c["grads"][0].astype(np.float64)),
                 None, TypeError, r"grads\[0\] has dtype float64 but params\[0\] has float32",
                 id="mixed-dtypes"),
    pytest.param(lambda c: c["exp_avgs"].__setitem__(1, np.zeros(5, np.float32)),
                 None, ValueError, r"exp_avgs\[1\] has shape \(5,\) but params\[1\] has shape \(4,\)",
                 id="shape"),
    pytest.param(lambda c: c["grads"].pop(), None, ValueError, r"grads has 1 arrays but params has 2",
                 id="length"),
    pytest.param(lambda c: c["exp_avgs"].__setitem__(0, c["params"][0]), None, ValueError,
                 r"params\[0\] and exp_avgs\[0\] share memory", id="aliased"),
    pytest.param(lambda c: c["params"][1].setflags(write=False),
                 lambda c: c["params"].__setitem__(1, to_device(to_host(c["params"][1]),
                                                                read_only=True)),
                 ValueError, r"params\[1\] is read-only", id="read-only"),
]


@device_only
@pytest.mark.parametrize("edit_host, edit_device, exc, match", BAD)
def test_bad_device_arrays_raise_as_host_arrays_do(edit_host, edit_device, exc, match):
    host = _adam_call()
    device = _device_call(host)
    edit_host(host)
    (edit_device or (lambda c: c.update(_device_call(host))))(device)
    before = [to_host(a).copy() for arrays in device.values() for a in arrays]
    messages, problems = [], []
    for call in (host, device):
        with pytest.raises(exc, match=match) as raised:
            pygd.adam_(**call, step=1, backend="numba")
        messages.append(str(raised.value))
        problems.append(_backends.get("numba").check("adam", (*call.values(), None)))
    assert messages[0] == messages[1]
    assert problems[0] == problems[1] is not None  # the optimizer classes' check: the same tuple
    after = [to_host(a) for arrays in device.values() for a in arrays]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(before, after))


@device_only
def test_non_contiguous_device_array():
    call = _device_call(_adam_call())
    call["grads"][1] = to_device(np.zeros(4, np.float32), strides=(8,))  # rejected before any use
    with pytest.raises(ValueError, match=r"grads\[1\] is not C-contiguous"):
        pygd.adam_(**call, step=1, backend="numba")


@device_only
def test_host_array_in_a_device_call():
    call = _device_call(_adam_call())
    call["exp_avg_sqs"][1] = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match=r"exp_avg_sqs\[1\] must be on the GPU like params "
                                         r".*got ndarray"):
        pygd.adam_(**call, step=1, backend="numba")


# ----------------------------------------------------------------------------- compiled for a GPU

def _nvvm_compiles():
    """Whether numba.cuda can compile to PTX here (libnvvm of a CUDA toolkit found; no GPU needed)."""
    from numba import cuda
    try:
        cuda.compile_ptx(lambda a: None, (numba.float32[:],), cc=(9, 0))
    except Exception:  # no toolkit, or one numba cannot use
        return False
    return True


@pytest.mark.skipif(SIMULATED, reason="the simulator compiles nothing")
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_kernel_compiles_to_ptx(monkeypatch, dtype):
    """Each optimizer's kernel, with every optional stream present and with none, compiles for
    sm_90 where no GPU is: the simulator runs the kernels as Python, so only this proves that the
    CUDA target types them (a kernel made for every optimizer, the update picked by its scalars)."""
    import types

    import numba.cuda.dispatcher

    from pygd._specs import KERNELS
    from pygd.numba import cuda_kernels as numba_kernels
    from pygd.numba import scalars
    if not _nvvm_compiles():
        pytest.skip("numba.cuda cannot compile PTX here (no usable libnvvm)")
    # Device functions are compiled for the current device's compute capability: there is none.
    monkeypatch.setattr(numba.cuda.dispatcher, "get_current_device",
                        lambda: types.SimpleNamespace(compute_capability=(9, 0)))
    for kernel, spec in KERNELS.items():
        if spec.trust_ratio:  # LAMB, LARS: CPU loops only (pygd.numba.trust_loops)
            continue
        if spec.factored:  # Adafactor: no Numba kernel (pygd.numba refuses it by name)
            continue
        make = getattr(scalars, f"{kernel}_scalars")
        state = {o.name: 0.5 for o in spec.state_scalars}  # NAdam's mu_product: any valid value
        s = make(dtype, 1, **state) if spec.takes_step else make(dtype, **state)
        table = np.zeros((2 + len(spec.streams), 2), np.int64)
        for present in (True, None):
            presence = tuple(present if stream.needed_if else True for stream in spec.streams)
            ptx, _ = numba.cuda.compile_ptx(numba_kernels.kernel(presence).py_func,
                                            (numba.typeof(table), numba.typeof(dtype(0)), numba.typeof(s)),
                                            cc=(9, 0))
            assert ".entry" in ptx, (kernel, presence)
