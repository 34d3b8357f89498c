"""The CUDA kernels on a GPU: parity with the float64 oracle and the CPU kernels for every optimizer
and flag (cases.py), odd sizes and thousands of tensors, every kind of GPU array, float16/bfloat16,
the device step count and GradScaler's device tensors, and torch's fused optimizers.

Skipped as a whole where pygd._cuda has no usable device (see test_cuda_build.py for what runs
without one).
"""

import importlib.util
import inspect

import numpy as np
import pytest

import pygd
from cases import (
    CASES,
    DTYPES,
    GPU_CASES,
    GPU_HEAVY,
    OPTIMIZERS,
    assert_close,
    assert_run_close,
    grads_at,
    initial_params,
    reference,
)

if pygd.info()["cuda_devices"] == 0:
    pytest.skip(f"no usable CUDA device: {pygd.info()['cuda_error']}", allow_module_level=True)

from pygd._backends import cuda as cuda_backend  # noqa: E402

STEPS = 3
SHAPES = [(0,), (1,), (7,), (4097,), (3, 5), (2, 4096)]  # 4097: a full pack run and a tail


# ----------------------------------------------------------------------------- GPU array kinds

def _kinds():
    kinds = {}
    if importlib.util.find_spec("torch"):
        import torch
        if torch.cuda.is_available():
            kinds["torch"] = (lambda a: torch.from_numpy(np.ascontiguousarray(a)).cuda(),
                              lambda d: d.cpu().numpy())
    if importlib.util.find_spec("cupy"):
        import cupy
        kinds["cupy"] = (cupy.asarray, cupy.asnumpy)
    if importlib.util.find_spec("numba"):
        from numba import cuda
        if cuda.is_available():
            kinds["numba"] = (cuda.to_device, lambda d: d.copy_to_host())
    return kinds


KINDS = _kinds()
if not KINDS:
    pytest.skip("no GPU array library (torch with CUDA, cupy, numba) is installed", allow_module_level=True)
FIRST_KIND = next(iter(KINDS))
needs_torch = pytest.mark.skipif("torch" not in KINDS, reason="needs torch with CUDA")


def run_on_gpu(case, shapes, dtype, steps, kind=FIRST_KIND, multi=True):
    """As cases.run(), every array on the GPU (pygd's "auto" backend sends them to pygd._cuda)."""
    to_gpu, to_host = KINDS[kind]
    params = [to_gpu(initial_params(s, dtype)) for s in shapes]
    states = {k: [to_gpu(a) for a in v] for k, v in case.new_states(shapes, dtype).items()}
    for t in range(1, steps + 1):
        grads = [to_gpu(grads_at(s, dtype, t)) for s in shapes]
        if multi:
            case.call(params, grads, states, t, "auto")
        else:
            for i in range(len(shapes)):
                case.call(params[i], grads[i], {k: v[i] for k, v in states.items()}, t, "auto")
    return [to_host(p) for p in params], {k: [to_host(a) for a in v] for k, v in states.items()}


# ----------------------------------------------------------------------------- parity

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", GPU_CASES, ids=lambda c: c.id)
def test_gpu_matches_float64_reference(case, dtype):
    got = run_on_gpu(case, SHAPES, dtype, STEPS)
    assert_run_close(case, got, reference(case, SHAPES, dtype, STEPS), dtype, STEPS)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", GPU_CASES, ids=lambda c: c.id)
def test_gpu_equals_cpu_kernels_bit_for_bit(case, dtype):
    """Same Op::update, same roundings (IEEE operations, fused only where the math says fmadd), at
    every CPU level: the scalar lane's fmadd is the correctly rounded fma too (lane.inl)."""
    from cases import run
    gpu = run_on_gpu(case, SHAPES, dtype, STEPS)
    cpu = run(case, SHAPES, dtype, STEPS, backend="native")
    for got, want in zip([*gpu[0], *(a for v in gpu[1].values() for a in v)],
                         [*cpu[0], *(a for v in cpu[1].values() for a in v)]):
        assert got.tobytes() == want.tobytes(), case.id


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("case", GPU_HEAVY, ids=lambda c: c.id)
def test_every_array_kind_and_single_tensor_calls(case, kind):
    got = run_on_gpu(case, SHAPES, np.float32, STEPS, kind=kind, multi=False)
    assert_run_close(case, got, reference(case, SHAPES, np.float32, STEPS), np.float32, STEPS)


@pytest.mark.parametrize("case", GPU_HEAVY, ids=lambda c: c.id)
def test_thousands_of_small_tensors_in_one_call(case):
    shapes = [(1 + i % 37,) for i in range(2000)]  # more tensors than one kernel's table holds
    got = run_on_gpu(case, shapes, np.float32, 2)
    assert_run_close(case, got, reference(case, shapes, np.float32, 2), np.float32, 2)


@pytest.mark.parametrize("name", ["lamb", "lars"])
def test_trust_ratio_optimizers_are_refused_clearly(name):
    """LAMB and LARS have no CUDA kernels yet: a GPU call raises, naming the optimizer."""
    case = next(c for c in CASES if c.optimizer == name)
    with pytest.raises(NotImplementedError, match=f"no CUDA kernel for {name}"):
        run_on_gpu(case, [(7,)], np.float32, 1)


# ----------------------------------------------------------------------------- pointer-level launch

def _torch_adam_tensors(n, dtype="float32", seed=0):
    import torch
    g = torch.Generator().manual_seed(seed)
    make = lambda: torch.randn(n, generator=g).to(getattr(torch, dtype)).cuda()  # noqa: E731
    return {"p": make(), "g": make(), "m": torch.zeros(n, dtype=getattr(torch, dtype), device="cuda"),
            "v": torch.zeros(n, dtype=getattr(torch, dtype), device="cuda")}


ADAM_HPARAMS = (1e-2, 0.9, 0.999, 1e-8, 0.1, False, False, True)  # AdamW, weight decay 0.1


def _launch_adam(t, dtype="float32", step=1, **pointers):
    import torch
    cuda_backend.launch("adam", dtype, [t["p"].numel()],
                        ([t["p"].data_ptr()], [t["g"].data_ptr()], [t["m"].data_ptr()], [t["v"].data_ptr()], None),
                        step, pointers.get("step_ptr", 0), ADAM_HPARAMS, pointers.get("grad_scale_ptr", 0),
                        pointers.get("found_inf_ptr", 0), torch.cuda.current_stream().cuda_stream,
                        t["p"].device.index)


def _host(t):
    return {k: v.float().cpu().numpy() for k, v in t.items()}


@needs_torch
def test_device_step_count_matches_host_step():
    import torch
    by_host, by_device = _torch_adam_tensors(5000), _torch_adam_tensors(5000)
    step = torch.tensor([7.0], device="cuda")
    _launch_adam(by_host, step=7)
    _launch_adam(by_device, step=None, step_ptr=step.data_ptr())
    for k in by_host:  # the device's pow may differ from the host's in double's last bit
        assert_close([_host(by_device)[k]], [_host(by_host)[k]], np.float32, 1, k)


@needs_torch
def test_grad_scaler_protocol():
    import torch
    scaled, plain = _torch_adam_tensors(5000), _torch_adam_tensors(5000)
    scale = torch.tensor([1024.0], device="cuda")
    scaled["g"].mul_(1024.0)
    found_inf = torch.zeros(1, device="cuda")
    _launch_adam(scaled, grad_scale_ptr=scale.data_ptr(), found_inf_ptr=found_inf.data_ptr())
    _launch_adam(plain)
    for k in plain:  # a power-of-two scale: unscaling is exact, so the update is the same
        assert _host(scaled)[k].tobytes() == _host(plain)[k].tobytes(), k

    found_inf.fill_(1.0)
    before = _host(scaled)
    _launch_adam(scaled, grad_scale_ptr=scale.data_ptr(), found_inf_ptr=found_inf.data_ptr())
    for k in before:
        assert _host(scaled)[k].tobytes() == before[k].tobytes(), k


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_types_update_in_float32(dtype):
    """One step on float16/bfloat16 tensors is the float32 step on the widened values, rounded."""
    import torch
    narrow = _torch_adam_tensors(4097, dtype)
    wide = {k: v.float() for k, v in narrow.items()}
    _launch_adam(narrow, dtype)
    _launch_adam(wide)
    for k in ("p", "m", "v"):
        assert torch.equal(narrow[k], wide[k].to(narrow[k].dtype)), k


# ----------------------------------------------------------------------------- torch's fused kernels

def _torch_fused():
    """{pygd name: torch.optim class} of the optimizers whose torch class has a fused
    implementation (its constructor takes `fused`)."""
    if not importlib.util.find_spec("torch"):
        return {}
    import torch
    return {o.name: o.torch_name for o in OPTIMIZERS.values()
            if o.torch_name and "fused" in inspect.signature(getattr(torch.optim, o.torch_name)).parameters}


TORCH_FUSED = _torch_fused()


@needs_torch
@pytest.mark.parametrize("case", [c for c in CASES if c.optimizer in TORCH_FUSED], ids=lambda c: c.id)
def test_matches_torch_fused(case):
    import torch

    from cases import TORCH_STATE
    shapes = [(7,), (4097,), (3, 5)]
    try:
        tparams = [torch.from_numpy(initial_params(s, np.float32)).cuda().requires_grad_() for s in shapes]
        opt = getattr(torch.optim, TORCH_FUSED[case.optimizer])(tparams, fused=True, **case.torch_kwargs())
    except (RuntimeError, ValueError, TypeError) as exc:
        pytest.skip(f"torch has no fused {case.optimizer} on CUDA here: {exc}")
    for t in range(1, STEPS + 1):
        for p, s in zip(tparams, shapes):
            p.grad = torch.from_numpy(grads_at(s, np.float32, t)).cuda()
        opt.step()
    got = run_on_gpu(case, shapes, np.float32, STEPS, kind="torch")
    want_params = [p.detach().cpu().numpy() for p in tparams]
    assert_close(got[0], want_params, np.float32, STEPS, f"{case.id} params", sources=2)
    for name in case.state_names:
        if name == "momentum_buffers" and case.options.get("momentum", 0) == 0:
            continue
        want = [opt.state[p][TORCH_STATE[name]].cpu().numpy() for p in tparams]
        assert_close(got[1][name], want, np.float32, STEPS, f"{case.id} {name}", sources=2)
