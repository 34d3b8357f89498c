"""pygd.torch's CUDA path, run without a GPU: CudaCall's launches go to a stand-in that performs
them with the CPU kernels on the same addresses, reading the step count, grad_scale and found_inf
from the memory the pointers name, as the device kernel does. This checks the wiring (stream order,
hyperparameters, the device step protocol, GradScaler skipping) against torch.optim on the CPU; the
CUDA kernels themselves are tested on a GPU by tests/test_cuda_device.py."""

import ctypes

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import pygd._native as native  # noqa: E402
import pygd.torch as pygd_torch  # noqa: E402
from pygd.torch import _calls  # noqa: E402

CTYPES = {"float32": ctypes.c_float, "float64": ctypes.c_double}


def _array(address, size, dtype):
    return np.ctypeslib.as_array((CTYPES[dtype] * size).from_address(address))


def _read_float32(address):
    return float(_array(address, 1, "float32")[0])


class FakeDevice:
    """Records every launch and performs it with pygd's CPU kernels."""

    def __init__(self):
        self.launches = []

    def launch(self, optimizer, dtype, sizes, streams, step, step_ptr, hparams, grad_scale_ptr,
               found_inf_ptr, stream, device):
        self.launches.append(dict(optimizer=optimizer, dtype=dtype, step=step, step_ptr=step_ptr,
                                  grad_scale_ptr=grad_scale_ptr, found_inf_ptr=found_inf_ptr,
                                  stream=stream))
        if found_inf_ptr and _read_float32(found_inf_ptr) != 0.0:
            return  # the device kernel returns before touching anything
        if step is None:
            step = int(_read_float32(step_ptr))
        grad_scale = _read_float32(grad_scale_ptr) if grad_scale_ptr else 1.0
        arrays = tuple(None if row is None else [_array(a, n, dtype) for a, n in zip(row, sizes)]
                       for row in streams)
        run = getattr(native, optimizer)
        assert run(arrays, step or 1, hparams, grad_scale=grad_scale) is None  # RMSprop: no step


class FakeStream:
    cuda_stream = 1234


@pytest.fixture
def fake_device(monkeypatch):
    device = FakeDevice()
    from pygd._backends import cuda
    monkeypatch.setattr(cuda, "launch", device.launch)
    monkeypatch.setattr(_calls, "call_class_for", lambda _device: _calls.CudaCall)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda _device=None: FakeStream())
    return device


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adamax", dict(lr=0.01, weight_decay=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.01, decoupled_weight_decay=True)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.01)),
    ("Rprop", dict(lr=0.01, step_sizes=(1e-4, 0.1))),
]


@pytest.mark.parametrize("name, options", CASES, ids=[c[0] for c in CASES])
def test_cuda_calls_match_torch(fake_device, name, options):
    reference, model = _model(), _model()
    torch_opt = getattr(torch.optim, name)(reference.parameters(), **options)
    opt = getattr(pygd_torch, name)(model.parameters(), **options)
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    for _ in range(5):
        for m, o in ((reference, torch_opt), (model, opt)):
            o.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            o.step()
    for p, q in zip(reference.parameters(), model.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)
    assert len(fake_device.launches) == 5  # one launch per step: the whole group in one call
    launch = fake_device.launches[-1]
    assert launch["optimizer"] == {"AdamW": "adam"}.get(name, name.lower())
    assert launch["stream"] == FakeStream.cuda_stream
    if name == "SGD":  # no step tensors: the host says whether the momentum buffer is new
        assert (launch["step"], launch["step_ptr"]) == (5, 0)
    else:              # the device step protocol: the kernel reads the count
        assert launch["step"] is None and launch["step_ptr"] != 0
        assert opt.state_dict()["state"][0]["step"].item() == 5.0


def test_grad_scaler_on_the_device_path(fake_device):
    reference, model = _model(), _model()
    torch_opt = torch.optim.Adam(reference.parameters(), lr=1e-2, fused=True)
    # fused=True: GradScaler hands grad_scale and found_inf to the optimizer, as to torch's fused one.
    opt = pygd_torch.Adam(model.parameters(), lr=1e-2, fused=True)
    scalers = [torch.amp.GradScaler("cpu", init_scale=2.0 ** 8) for _ in range(2)]
    x = torch.randn(16, 6)
    for step in range(4):
        for m, o, scaler in ((reference, torch_opt, scalers[0]), (model, opt, scalers[1])):
            o.zero_grad()
            scaler.scale(m(x).square().mean()).backward()
            if step == 2:
                m[0].weight.grad[0, 0] = float("inf")
            scaler.step(o)
            scaler.update()
    # The skipped step reached the kernel with found_inf set, and the step count was taken back.
    assert fake_device.launches[2]["found_inf_ptr"] != 0
    assert opt.state_dict()["state"][0]["step"].item() == 3.0
    assert scalers[0].get_scale() == scalers[1].get_scale()
    for p, q in zip(reference.parameters(), model.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(q.grad, p.grad)  # left unscaled, as torch's fused step does
