"""pygd.torch against torch.optim: gradient clipping, GradScaler, non-contiguous grads, tensor lr,
thread counts (shared set-up: torch_api.py)."""

import pytest

from torch_api import (
    HEAVY,
    NAMES,
    TORCH_FUSED,
    assert_same_run,
    assert_unchanged,
    grad_for,
    linear_loss,
    make_params,
    pygd_only,
    pygd_torch,
    run_pair,
    snapshot,
    step_counts,
    torch,
    train,
)


@pytest.mark.parametrize("name", NAMES)
def test_clip_grad_norm_before_step(name):
    def script(opt, params):
        norms = []
        for t in range(1, 6):
            opt.zero_grad()
            (4.0 * linear_loss(params, t)).backward()  # grads of norm ~33: clipped to 1
            norms.append(torch.nn.utils.clip_grad_norm_(params, max_norm=1.0))
            opt.step()
        return norms
    (got, gp, got_norms), (want, wp, want_norms) = run_pair(name, HEAVY[name], script)
    assert all(n > 1.0 for n in want_norms)
    assert [float(n) for n in got_norms] == [float(n) for n in want_norms]
    assert_same_run(got, gp, want, wp, 5, name)


def _torch_reference_flags(name):
    """torch's fused implementation, which takes GradScaler's grad_scale/found_inf as pygd does;
    RMSprop has none, so the for-loop one (GradScaler unscales the grads before its step)."""
    return {"fused": True} if name in TORCH_FUSED else {"foreach": False}


AMP_STEPS = 6
INF_STEP = 3


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")], ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize("name", NAMES)
def test_grad_scaler_matches_torch_fused_and_skips_nonfinite_steps(name, bad):
    """GradScaler over 6 steps, a non-finite value planted in one grad at step 3: that step changes
    nothing (params, state, step counts), the scale backs off as torch's does, and after every
    finite step .grad holds the unscaled grads, as after torch's fused step."""
    def script(opt, params):
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
        scales = []
        for t in range(1, AMP_STEPS + 1):
            opt.zero_grad()
            scaler.scale(linear_loss(params, t)).backward()
            if t == INF_STEP:
                params[1].grad[7] = bad
                before = snapshot(opt, params)
            scaler.step(opt)
            if t == INF_STEP:
                assert_unchanged(before, opt, params, f"step {t} with {bad} in a grad")
            else:
                for i, p in enumerate(params):
                    assert torch.equal(p.grad, grad_for(p, t, i)), f"step {t}: .grad {i} is not unscaled"
            scaler.update()
            scales.append(scaler.get_scale())
        return scales

    (got, gp, got_scales), (want, wp, want_scales) = run_pair(
        name, HEAVY[name], script, torch_kwargs=_torch_reference_flags(name))
    assert got_scales == want_scales == [2.0 ** 10, 2.0 ** 11, 2.0 ** 10, 2.0 ** 10, 2.0 ** 11, 2.0 ** 11]
    assert step_counts(got, gp) == [None if name == "SGD" else AMP_STEPS - 1.0] * len(gp)
    assert_same_run(got, gp, want, wp, AMP_STEPS, name)


@pytest.mark.parametrize("name", NAMES)
def test_grad_scaler_unscale_then_clip_then_step(name):
    """The documented recipe: scaler.unscale_(opt), clip, scaler.step(opt) (then GradScaler hands
    the optimizer found_inf but no grad_scale). Step 2 overflows and is skipped."""
    def script(opt, params):
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
        for t in range(1, 6):
            opt.zero_grad()
            scaler.scale(4.0 * linear_loss(params, t)).backward()
            if t == 2:
                params[0].grad[0, 0] = float("inf")
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
            scaler.step(opt)
            scaler.update()
        return scaler.get_scale()

    (got, gp, got_scale), (want, wp, want_scale) = run_pair(
        name, HEAVY[name], script, torch_kwargs=_torch_reference_flags(name))
    assert got_scale == want_scale == 2.0 ** 9
    assert step_counts(got, gp) == [None if name == "SGD" else 4.0] * len(gp)
    assert_same_run(got, gp, want, wp, 5, name)


@pytest.mark.parametrize("name", sorted(TORCH_FUSED))
def test_grad_scaler_overflow_on_the_first_step(name):
    """An overflow on the very first step: the params stay as they were, and the state is what
    torch's fused step leaves (created, with step count 0); the run then goes on as torch's.
    SGD is compared with torch's for-loop SGD instead, whose step GradScaler skips: torch 2.13's
    fused SGD makes its momentum buffers with empty_like, and leaves them uninitialized when the
    first step is skipped. pygd's first real step must take the grad as the buffer (no dampening)."""
    def script(opt, params):
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
        for t in range(1, 5):
            opt.zero_grad()
            scaler.scale(linear_loss(params, t)).backward()
            if t == 1:
                params[2].grad[0, 1, 2] = float("inf")
                before = [p.detach().clone() for p in params]
            scaler.step(opt)
            scaler.update()
            if t == 1:
                assert all(torch.equal(p.detach(), b) for p, b in zip(params, before))
                after_overflow = step_counts(opt, params)
        return after_overflow

    # fused=True on both sides (pygd accepts it and runs its own kernel), so that run against
    # torch.optim this test compares torch's fused step with itself.
    kwargs = dict(lr=0.1, momentum=0.9, dampening=0.3) if name == "SGD" else dict(HEAVY[name], fused=True)
    (got, gp, got_steps), (want, wp, want_steps) = run_pair(name, kwargs, script)
    assert got_steps == want_steps
    assert_same_run(got, gp, want, wp, 4, name)


def _strided_grad(p, t, i):
    """The grad of param i at step t, in a non-contiguous tensor: a transposed matrix, or every
    other element of a longer vector."""
    g = grad_for(p, t, i)
    if p.dim() == 2:
        return g.t().contiguous().t()
    if p.dim() == 1 and p.numel() > 1:
        wide = torch.zeros(2 * p.numel(), dtype=p.dtype)
        wide[::2] = g
        return wide[::2]
    return g


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_grads_are_used_as_they_are(name):
    """torch accepts grads of any strides (e.g. set by hand from a transposed product); so does
    pygd.torch (it copies such a grad), and it leaves the grad as it was."""
    def script(opt, params):
        for t in range(1, 6):
            for i, p in enumerate(params):
                p.grad = _strided_grad(p, t, i)
            assert not params[0].grad.is_contiguous() and not params[1].grad.is_contiguous()
            opt.step()
            for i, p in enumerate(params):
                assert torch.equal(p.grad, grad_for(p, t, i))
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], script)
    assert_same_run(got, gp, want, wp, 5, name)


@pytest.mark.parametrize("name", NAMES)
def test_grad_scaler_unscales_non_contiguous_grads_in_place(name):
    """GradScaler with non-contiguous grads: the unscaled values land in the user's grad tensors.
    Compared with torch's for-loop optimizer (GradScaler unscales its grads in place beforehand):
    torch 2.13's fused CPU kernels treat a strided grad as if it were contiguous (they read and
    write the first numel elements of its storage), so they are no reference here."""
    def script(opt, params):
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
        for t in range(1, 4):
            scale = scaler.scale(torch.ones(()))  # the scale, as scaler.scale(loss) would apply it
            grads = []
            for i, p in enumerate(params):
                p.grad = _strided_grad(p, t, i).mul_(scale)
                grads.append(p.grad)
            scaler.step(opt)
            scaler.update()
            for i, (p, g) in enumerate(zip(params, grads)):
                assert p.grad is g and torch.equal(g, grad_for(p, t, i)), f"step {t}: grad {i} not unscaled"
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], script, torch_kwargs={"foreach": False})
    assert_same_run(got, gp, want, wp, 3, name)


@pytest.mark.parametrize("name", NAMES)
def test_tensor_lr_like_torch(name):
    """torch.optim takes lr as a 0-dim tensor (its for-loop implementation reads it every step)."""
    def script(opt, params):
        train(opt, params, 3)
        opt.param_groups[0]["lr"].mul_(0.5)  # changed in place, as a scheduler on tensor lrs does
        train(opt, params, 3, start=4)
    (got, gp, _), (want, wp, _) = run_pair(  # each optimizer its own lr tensor
        name, HEAVY[name], script, groups=lambda p: [{"params": p, "lr": torch.tensor(HEAVY[name]["lr"])}])
    assert_same_run(got, gp, want, wp, 6, name)


@pygd_only
@pytest.mark.parametrize("name", NAMES)
def test_results_do_not_depend_on_the_thread_count(name, runtime, small_grain):
    """The kernel splits work across threads (a small grain makes these tensors split): results are
    bit-identical for any thread count."""
    results = []
    for threads in (1, 2):
        runtime(threads=threads)
        params = make_params(torch.float32, shapes=((64, 33), (1000,), (7,)))
        opt = getattr(pygd_torch, name)(params, **HEAVY[name])
        train(opt, params, 4)
        results.append([p.detach().clone() for p in params])
    assert all(torch.equal(a, b) for a, b in zip(*results))
