"""pygd.torch against torch.optim: errors raised before anything is written, dense-in-another-order
params, CUDA, the profiler (shared set-up: torch_api.py)."""

import pytest

from torch_api import (
    HEAVY,
    NAMES,
    SPARSE_REFUSED,
    _pygd_cuda_usable,
    assert_close,
    assert_same_run,
    assert_unchanged,
    grad_for,
    linear_loss,
    make_params,
    numpy,
    pygd_only,
    pygd_torch,
    run_pair,
    set_grads,
    snapshot,
    torch,
    train,
)


@pygd_only
@pytest.mark.parametrize("name", SPARSE_REFUSED)
def test_bad_grad_in_a_later_group_changes_no_group(name):
    """Validate before write, across groups (torch.optim updates the first group before it meets
    the second group's sparse grad; pygd checks every group, and runs torch's step for the params
    it routes there, which raises torch's error, before its first native write)."""
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    params = make_params()
    opt = getattr(pygd_torch, name)([{"params": params}, {"params": [embedding.weight]}], **HEAVY[name])
    train(opt, params, 1)
    set_grads(params, 2)
    embedding(torch.tensor([2])).sum().backward()
    before = snapshot(opt, params + [embedding.weight])
    with pytest.raises((RuntimeError, TypeError), match="(?i)sparse"):
        opt.step()
    assert_unchanged(before, opt, params + [embedding.weight], "after a sparse grad in group 2")


def dense_params_in_other_orders(dtype=torch.float32):
    """Params whose elements fill their memory once each, not in row-major order: a transposed
    matrix and a channels_last convolution weight (what model.to(memory_format=torch.channels_last)
    makes), beside a row-major one."""
    g = torch.Generator().manual_seed(7)
    tensors = [torch.randn(5, 3, generator=g, dtype=torch.float64).t(),
               torch.randn(4, 3, 2, 5, generator=g, dtype=torch.float64).to(memory_format=torch.channels_last),
               torch.randn(6, generator=g, dtype=torch.float64)]
    return [torch.nn.Parameter(t.to(dtype)) for t in tensors]


@pytest.mark.parametrize("grads_from", ["backward", "assigned row-major"])
@pytest.mark.parametrize("name", NAMES)
def test_params_dense_in_another_order_train_like_torch(name, grads_from):
    """Backward gives such params grads in their own layout, used as they are; a row-major grad
    assigned by hand is read in the param's order through a copy. Either way the update is torch's,
    and every param, grad and state keeps its layout."""
    def script(opt, params):
        strides = [p.stride() for p in params]
        for t in range(1, 5):
            opt.zero_grad()
            if grads_from == "backward":
                linear_loss(params, t).backward()
            else:
                set_grads(params, t)
            opt.step()
        assert [p.stride() for p in params] == strides

    got, want = run_pair(name, HEAVY[name], script, params=dense_params_in_other_orders())
    assert_same_run(got[0], got[1], want[0], want[1], 4, f"{name} {grads_from}")
    # pygd's state lines up with its param (torch's SGD clones the first grad, in the grad's layout).
    opt, params, _ = got
    for p in params:
        for value in opt.state.get(p, {}).values():
            if value.dim() and value.shape == p.shape:  # (Adafactor's factors have shapes of their own)
                assert value.stride() == p.stride()


@pygd_only
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_params(name):
    """On a GPU, pygd.torch steps CUDA params with pygd's CUDA kernels, as torch's fused step does
    (torch's for-loop for RMSprop, which has no fused one); where pygd was built without them, it
    refuses CUDA params with an error that says so, and changes nothing."""
    if not _pygd_cuda_usable():
        param = torch.nn.Parameter(torch.randn(8, device="cuda"))
        before = param.detach().clone()
        with pytest.raises((TypeError, NotImplementedError, RuntimeError), match="(?i)cuda"):
            getattr(pygd_torch, name)([param], **HEAVY[name])
        assert torch.equal(param.detach(), before)
        return
    steps = 5

    def script(opt, params):
        for t in range(1, steps + 1):
            for i, p in enumerate(params):
                p.grad = grad_for(p, t, i).to(p.device)
            opt.step()

    fused = {} if name == "RMSprop" else {"fused": True}
    params = [torch.nn.Parameter(p.detach().cuda()) for p in make_params()]
    got, want = run_pair(name, HEAVY[name], script, params=params, torch_kwargs=fused)
    for i, (g, w) in enumerate(zip(got[1], want[1])):
        dtype = numpy(w.cpu()).dtype
        assert_close([numpy(g.cpu())], [numpy(w.cpu())], dtype, steps, f"{name} param {i}", sources=2)
        got_state, want_state = got[0].state[g], want[0].state[w]
        assert got_state.keys() == want_state.keys()
        for k, v in want_state.items():
            if k == "step":
                assert float(got_state[k]) == float(v)
            else:
                assert_close([numpy(got_state[k].cpu())], [numpy(v.cpu())], dtype, steps,
                             f"{name} param {i} {k}", sources=2)


@pytest.mark.parametrize("name", NAMES)
def test_the_profiler_sees_the_step_as_torch_names_it(name):
    """torch's hook runner opens an "Optimizer.step#<class>.step" range; pygd.torch's opens it
    whenever a profiler runs (and skips its cost otherwise)."""
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    set_grads(params, 1)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        opt.step()
    assert f"Optimizer.step#{name}.step" in {event.name for event in prof.events()}
