"""pygd._cuda without a GPU: it is built where nvcc is (so a broken CUDA build fails CI), pygd
imports and reports CUDA without it, and GPU arrays are read and checked (same errors as NumPy
arrays) before anything touches a device. The arrays here are fakes: NumPy memory behind a
__cuda_array_interface__ (or DLPack), which the checks read exactly as they read a GPU's.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import pygd
from pygd import _backends, _validate
from pygd._backends import cuda as cuda_backend
from pygd._backends import cuda_arrays

CUDA_MODULE = cuda_backend._load()[0]
needs_module = pytest.mark.skipif(CUDA_MODULE is None, reason="pygd._cuda is not built here")


def nvcc_found():
    homes = [os.environ.get(v) for v in ("CUDA_HOME", "CUDA_PATH")] + ["/usr/local/cuda"]
    return shutil.which("nvcc") is not None or any(
        h and os.path.isfile(os.path.join(h, "bin", "nvcc")) for h in homes)


@pytest.mark.skipif(os.environ.get("PYGD_CUDA", "").strip() == "0" or not nvcc_found(),
                    reason="no nvcc, or PYGD_CUDA=0: pygd._cuda is not built")
def test_cuda_module_is_built_where_nvcc_is():
    info = pygd.info()
    assert info["cuda_built"], f"pygd._cuda did not import: {cuda_backend._load()[1]}"


def test_info_reports_cuda():
    info = pygd.info()
    assert isinstance(info["cuda_built"], bool)
    assert isinstance(info["cuda_devices"], int) and info["cuda_devices"] >= 0
    assert (info["cuda_error"] is None) == (info["cuda_devices"] > 0), info
    if not info["cuda_built"]:
        assert info["cuda_devices"] == 0 and "pygd._cuda" in info["cuda_error"]


def test_a_machine_without_a_driver_is_told_so():
    """The CUDA runtime calls a missing driver an insufficient one; pygd says there is none."""
    import ctypes
    info = pygd.info()
    if not info["cuda_built"]:
        pytest.skip("pygd._cuda is not built here")
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        assert info["cuda_error"] == "no NVIDIA driver here (libcuda.so.1 cannot be loaded)", info
        assert "insufficient" not in info["cuda_error"]
    else:
        pytest.skip("an NVIDIA driver is installed here")


def test_pygd_imports_and_runs_without_the_cuda_module():
    code = ("import sys; sys.modules['pygd._cuda'] = None\n"  # makes `import pygd._cuda` fail
            "import numpy as np, pygd\n"
            "info = pygd.info()\n"
            "assert info['cuda_built'] is False and info['cuda_devices'] == 0, info\n"
            "assert 'pygd._cuda is not available' in info['cuda_error'], info\n"
            "p = np.ones(3)\n"
            "pygd.sgd_(p, np.ones(3), step=1, lr=0.5)\n"
            "assert p.tolist() == [0.5] * 3\n")
    pygd_home = os.path.dirname(os.path.dirname(pygd.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([pygd_home, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


# ----------------------------------------------------------------------------- fake GPU arrays

class FakeGpuArray:
    """NumPy memory seen through __cuda_array_interface__ only (as a Numba device array is), with
    the interface's fields overridable. `device`: also expose __dlpack_device__ (CUDA, that id)."""

    def __init__(self, base, read_only=None, strides=None, typestr=None, device=None):
        self.base = base
        interface = base.__array_interface__
        self._interface = {"version": 3, "shape": base.shape, "typestr": typestr or interface["typestr"],
                           "data": (interface["data"][0], interface["data"][1] if read_only is None else read_only),
                           "strides": strides if strides is not None else interface["strides"],
                           "stream": None}
        if device is not None:
            self.__dlpack_device__ = lambda: (2, device)

    @property
    def __cuda_array_interface__(self):
        return dict(self._interface)


class FakeDlpackArray:
    """NumPy memory exported through DLPack only, claiming to be on CUDA device `device`."""

    def __init__(self, base, device=0):
        self.base, self.device = base, device

    def __dlpack_device__(self):
        return (2, self.device)

    def __dlpack__(self, stream=None):
        assert stream is not None and stream != 0  # DLPack: the consumer names its stream, never 0
        return self.base.__dlpack__()


def _adam_call(n=2, dtype=np.float32):
    rng = np.random.default_rng(5)
    return {name: [rng.standard_normal(4).astype(dtype) for _ in range(n)]
            for name in ("params", "grads", "exp_avgs", "exp_avg_sqs")}


def _gpu_call(host, kind=FakeGpuArray):
    return {name: [kind(a) for a in arrays] for name, arrays in host.items()}


def _aligned_off_by(nbytes):
    raw = np.zeros(8 * 4 + 8, np.uint8)
    start = (-raw.ctypes.data) % 16 + nbytes
    return raw[start:start + 16].view(np.float32)


def _overlapping(call, first, second):
    """Makes two arrays of `call` views of one buffer, one element apart."""
    shared = np.zeros(5, np.float32)
    call[first[0]][first[1]], call[second[0]][second[1]] = shared[:4], shared[1:]


BAD = [  # an edit of the host call: the same problem in the GPU call made of the same memory
    pytest.param(lambda c: c["params"].__setitem__(1, c["params"][1].astype(np.int32)),
                 TypeError, r"params\[1\] has dtype <i4", id="int-dtype"),
    pytest.param(lambda c: c["grads"].__setitem__(0, c["grads"][0].astype(np.float64)),
                 TypeError, r"grads\[0\] has dtype float64 but params\[0\] has float32", id="mixed-dtypes"),
    pytest.param(lambda c: c["exp_avgs"].__setitem__(1, np.zeros(5, np.float32)),
                 ValueError, r"exp_avgs\[1\] has shape \(5,\) but params\[1\] has shape \(4,\)", id="shape"),
    pytest.param(lambda c: c["grads"].pop(), ValueError, r"grads has 1 arrays but params has 2", id="length"),
    pytest.param(lambda c: c["exp_avgs"].__setitem__(0, c["params"][0]), ValueError,
                 r"params\[0\] and exp_avgs\[0\] share memory", id="aliased"),
    pytest.param(lambda c: _overlapping(c, ("exp_avgs", 0), ("exp_avg_sqs", 1)), ValueError,
                 r"exp_avgs\[0\] and exp_avg_sqs\[1\] share memory", id="partly-aliased"),
    pytest.param(lambda c: c["params"][1].setflags(write=False), ValueError, r"params\[1\] is read-only",
                 id="read-only"),
    pytest.param(lambda c: c["exp_avgs"].__setitem__(0, np.zeros((4, 2), np.float32)[:, 0]), ValueError,
                 r"exp_avgs\[0\] is not C-contiguous", id="strided"),
    pytest.param(lambda c: c["exp_avgs"].__setitem__(1, _aligned_off_by(2)), ValueError,
                 r"exp_avgs\[1\] is not aligned", id="misaligned"),
]


@pytest.mark.parametrize("edit, exc, match", BAD)
def test_bad_gpu_arrays_raise_as_numpy_arrays_do(edit, exc, match):
    host = _adam_call()
    edit(host)
    gpu = _gpu_call(host)
    before = [a.copy() for arrays in host.values() for a in arrays]
    messages = []
    for call, backend in ((host, "reference"), (gpu, "auto")):
        with pytest.raises(exc, match=match) as raised:
            pygd.adam_(**call, step=1, backend=backend)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    # The optimizer classes' check: the same tuple as NumPy arrays get.
    problem = _validate.check_streams("adam", (*host.values(), None))
    assert cuda_backend.check("adam", (*gpu.values(), None)) == problem is not None
    assert all(a.tobytes() == b.tobytes() for a, b in zip(before, (a for v in host.values() for a in v)))


def test_bad_dlpack_arrays_raise_as_numpy_arrays_do():
    host = _adam_call()
    host["exp_avgs"][1] = np.zeros(5, np.float32)
    with pytest.raises(ValueError) as on_host:
        pygd.adam_(**host, step=1, backend="reference")
    with pytest.raises(ValueError) as on_gpu:
        pygd.adam_(**_gpu_call(host, FakeDlpackArray), step=1)
    assert str(on_gpu.value) == str(on_host.value)


def test_numpy_array_in_a_gpu_call():
    call = _gpu_call(_adam_call())
    call["exp_avg_sqs"][1] = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match=r"exp_avg_sqs\[1\] must be on the GPU like params .*got ndarray"):
        pygd.adam_(**call, step=1)


def test_arrays_of_two_devices_are_refused_before_any_device_is_asked():
    host = _adam_call()
    call = {name: [FakeGpuArray(a, device=0) for a in arrays] for name, arrays in host.items()}
    call["grads"][1] = FakeGpuArray(host["grads"][1], device=1)
    with pytest.raises(ValueError, match=r"grads\[1\] is on cuda:1 but params\[0\] is on cuda:0"):
        pygd.adam_(**call, step=1)


def test_a_valid_call_of_fake_arrays_never_runs():
    """Host memory is no GPU's: the call fails (no device here; or, on a GPU machine, the runtime
    says the memory is not device memory) and leaves the arrays as they were."""
    host = _adam_call()
    before = [a.copy() for arrays in host.values() for a in arrays]
    with pytest.raises((RuntimeError, TypeError)):
        pygd.adam_(**_gpu_call(host), step=1)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(before, (a for v in host.values() for a in v)))


def test_auto_routes_by_where_params_are():
    host = np.zeros(3, np.float32)
    assert _backends.for_call("auto", host) is _backends.default
    assert _backends.for_call("auto", [host]) is _backends.default
    assert _backends.for_call("auto", [FakeGpuArray(host)]) is cuda_backend
    assert _backends.for_call("auto", FakeDlpackArray(host)) is cuda_backend
    assert _backends.for_call("reference", [FakeGpuArray(host)]) is _backends.get("reference")


def test_interface_parsing():
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    v = cuda_arrays.view(FakeGpuArray(base, read_only=True), 0, [])
    assert (v.address, v.shape, v.dtype, v.read_only, v.device) == (base.ctypes.data, (3, 4), "float64", True, None)
    assert cuda_arrays.view(FakeGpuArray(base, typestr=">f8"), 0, []).dtype is None  # byte-swapped
    assert cuda_arrays.view(FakeGpuArray(base.astype(np.float16)), 0, []).dtype == "float16"
    assert cuda_arrays.view(base, 0, []) is None
    keep = []
    v = cuda_arrays.view(FakeDlpackArray(base[1:], device=3), 1, keep)
    assert (v.address, v.shape, v.dtype, v.device) == (base[1:].ctypes.data, (2, 4), "float64", 3)
    assert len(keep) == 1  # the capsule, held until the launch is enqueued
    assert _validate.c_contiguous((3, 1, 4), (16, 999, 4), 4)
    assert not _validate.c_contiguous((3, 4), (4, 12), 4)


def test_launch_streams_and_waits():
    a, b = np.zeros(4, np.float32), np.zeros(4, np.float32)
    p = FakeGpuArray(a)
    p._interface["stream"] = 77
    g = FakeGpuArray(b)
    g._interface["stream"] = 1  # the legacy default stream
    problem, call = cuda_arrays.read("sgd", ([p], [g], None))
    assert problem is None
    assert call.stream == 77 and call.wait_for == [0]
    assert (call.dtype, call.sizes, call.addresses) == ("float32", [4], [[a.ctypes.data], [b.ctypes.data], None])


@needs_module
@pytest.mark.parametrize("args, match", [
    (dict(optimizer="nosuch"), "optimizer must be one of"),  # (LAMB, now one, is refused: test_trust_ratio)
    (dict(dtype="int8"), "dtype must be one of"),
    (dict(hparams=(0.1,)), "hparams of sgd must have 6 items"),
    (dict(streams=([1], [2])), "streams must have 3 items"),
    (dict(streams=([1], None, None)), r"streams\[1\] is required"),
    (dict(streams=([1], [2, 3], None)), r"streams\[1\] has 2 addresses for 1 sizes"),
    (dict(step=None), "sgd needs a step"),
    (dict(step=0), "step must be >= 1"),
], ids=lambda x: x if isinstance(x, str) else "-".join(x))
def test_launch_rejects_malformed_calls_before_any_device_work(args, match):
    call = dict(optimizer="sgd", dtype="float32", sizes=[4], streams=([1 << 20], [2 << 20], None), step=1,
                step_ptr=0, hparams=(0.1, 0.0, 0.0, 0.0, False, False), grad_scale_ptr=0, found_inf_ptr=0,
                stream=0, device=0)
    call.update(args)
    with pytest.raises(ValueError, match=match):
        cuda_backend.launch(**call)


@needs_module
def test_launch_of_empty_tensors_needs_no_device():
    cuda_backend.launch("adam", "float32", [0, 0], ([0, 0], [0, 0], [0, 0], [0, 0], None), 1, 0,
                        (1e-3, 0.9, 0.999, 1e-8, 0.0, False, False, False), 0, 0, 0, 0)
