"""pygd's functional steps against torch.optim: every case of the table (cases.py) on the same
data, 50 steps, float32 and float64, torch's single-tensor for-loop implementation and, where torch
has one on CPU, its fused one. (pygd.torch's optimizers training a model beside torch.optim are in
test_torch_training.py.)

Tolerance: both sides are approximations in the same dtype of the same exact sequence, each within
the bound of cases.py (8·steps·u relative to |ref| + rms(ref)), so they agree within twice that
(sources=2): float32 rtol = 4.8e-5, float64 rtol = 8.9e-14 over 50 steps. torch rounds differently
(lerp for the first moment, unfused multiply-adds, different operation order), never by more;
measured: at most ~8 u apart (u = unit roundoff), against the bound's 800 u.

pygd's `step` is torch's step count: pygd is called with step=t for the t-th optimizer.step().
Grads are set by hand before each torch step (p.grad = a copy of the same array pygd gets).
"""

import numpy as np
import pytest

from cases import CASES, DTYPES, TORCH_STATE, assert_close, grads_at, initial_params, run

torch = pytest.importorskip("torch")

STEPS = 50
SHAPES = [(1,), (7,), (33,), (1001,), (5, 13)]
IMPLEMENTATIONS = {"for-loop": {"foreach": False}, "fused": {"fused": True}}


def torch_run(case, dtype, implementation):
    params = [torch.nn.Parameter(torch.from_numpy(initial_params(s, dtype))) for s in SHAPES]
    default_dtype = torch.get_default_dtype()
    if case.opt.spec.state_scalars and dtype == np.float64:
        # torch keeps NAdam's mu_product in the default dtype, float32 unless set: ~1e-10 off for
        # float64 params, whatever pygd computes (handed the float64 product).
        torch.set_default_dtype(torch.float64)
    try:
        optimizer = getattr(torch.optim, case.opt.torch_name)(params, **case.torch_kwargs(),
                                                             **IMPLEMENTATIONS[implementation])
        for t in range(1, STEPS + 1):
            for p, s in zip(params, SHAPES):
                p.grad = torch.from_numpy(grads_at(s, dtype, t).copy())
            optimizer.step()
    except (RuntimeError, ValueError, TypeError) as exc:
        if implementation == "fused":
            pytest.skip(f"torch has no fused {case.opt.torch_name} for {np.dtype(dtype).name} on CPU: {exc}")
        raise
    finally:
        torch.set_default_dtype(default_dtype)
    # None: a state of the other form (Adafactor's factors or variance), which torch does not keep
    states = {name: [None if (s := optimizer.state[p].get(TORCH_STATE[name])) is None else s.detach().numpy()
                     for p in params] for name in case.state_names}
    return [p.detach().numpy() for p in params], states


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", [c for c in CASES if c.opt.torch_name], ids=lambda c: c.id)
def test_matches_torch_optim(case, dtype, implementation):
    got_params, got_states = run(case, SHAPES, dtype, STEPS)
    want_params, want_states = torch_run(case, dtype, implementation)
    assert_close(got_params, want_params, dtype, STEPS, f"{case.id} params", sources=2)
    for name in case.state_names:
        assert_close(got_states[name], want_states[name], dtype, STEPS, f"{case.id} {name}", sources=2)
