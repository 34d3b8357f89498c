"""pygd.torch against torch.optim: the step: training, closures, zero_grad, param groups, hooks
(shared set-up: torch_api.py)."""

import pytest

from torch_api import (
    DTYPES,
    HEAVY,
    NAMES,
    assert_same_run,
    assert_unchanged,
    dtype_id,
    linear_loss,
    make_params,
    pygd_torch,
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
    run_pair,
    set_grads,
    snapshot,
    step_counts,
    torch,
    train,
)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("name", NAMES)
def test_training_matches_torch(name, dtype):
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], lambda o, p: train(o, p, 10),
                                           make_params(dtype))
    assert_same_run(got, gp, want, wp, 10, f"{name} {dtype}")


@pytest.mark.parametrize("name", NAMES)
def test_closure_is_called_once_with_grad_enabled_and_its_loss_returned(name):
    def script(opt, params):
        calls, losses = [], []
        for t in (1, 2, 3):
            def closure():
                calls.append(torch.is_grad_enabled())
                opt.zero_grad()
                loss = linear_loss(params, t)
                loss.backward()
                losses.append(loss)
                return loss
            with torch.no_grad():  # the step must turn grad on for the closure, as torch does
                returned = opt.step(closure)
            assert returned is losses[-1]
        return calls
    (got, gp, calls), (want, wp, _) = run_pair(name, HEAVY[name], script)
    assert calls == [True, True, True]
    assert_same_run(got, gp, want, wp, 3, name)


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_zero_grad(name, set_to_none):
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    train(opt, params, 2)
    grads = [p.grad for p in params]
    opt.zero_grad(set_to_none=set_to_none)
    for p, g in zip(params, grads):
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad is g and not p.grad.any()


@pytest.mark.parametrize("name", NAMES)
def test_step_leaves_grads_untouched(name):
    """Without a GradScaler the grads are inputs only (maximize and weight decay must not leak into
    .grad), and they stay the same tensors."""
    kwargs = dict(HEAVY[name], maximize=True)
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **kwargs)
    for t in (1, 2, 3):
        set_grads(params, t)
        grads = [p.grad for p in params]
        copies = [g.clone() for g in grads]
        opt.step()
        for p, g, c in zip(params, grads, copies):
            assert p.grad is g and torch.equal(g, c)


@pytest.mark.parametrize("name", NAMES)
def test_params_and_state_are_updated_in_place(name):
    """The step writes into the tensors' own memory: no param or state tensor is replaced."""
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    train(opt, params, 1)
    ptrs = [(p.data_ptr(), {k: v.data_ptr() for k, v in opt.state[p].items() if k != "step"}) for p in params]
    before = [p.detach().clone() for p in params]
    train(opt, params, 3, start=2)
    assert ptrs == [(p.data_ptr(), {k: v.data_ptr() for k, v in opt.state[p].items() if k != "step"})
                    for p in params]
    assert all(not torch.equal(p.detach(), b) for p, b in zip(params, before))


@pytest.mark.parametrize("name", NAMES)
def test_param_group_added_mid_run_gets_state_and_trains(name):
    extra_kwargs = {"lr": HEAVY[name]["lr"] / 2, "weight_decay": 0.0}

    def script(opt, params):
        first, added = params[:2], params[2:]
        for t in (1, 2, 3):
            set_grads(first, t)
            opt.step()
        opt.add_param_group({"params": added, **extra_kwargs})
        for t in (4, 5, 6):
            set_grads(params, t)
            opt.step()
        return step_counts(opt, params)

    (got, gp, steps), (want, wp, want_steps) = run_pair(name, HEAVY[name], script, groups=lambda p: p[:2])
    assert steps == want_steps == ([None] * 4 if name == "SGD" else [6, 6, 3, 3])
    assert ({k: v for k, v in got.param_groups[1].items() if k != "params"}
            == {k: v for k, v in want.param_groups[1].items() if k != "params"})
    assert_same_run(got, gp, want, wp, 6, name)


@pytest.mark.parametrize("name", NAMES)
def test_params_whose_grad_is_none_are_skipped(name):
    """Param 1 has no grad at steps 3-4: it and its state (step count included) stay as they were,
    while the others advance. Param 3 never has a grad: it keeps the state torch gives it (none;
    Adagrad's from construction: step 0 and the initial accumulator)."""
    def script(opt, params):
        snapshots = {}
        for t in range(1, 7):
            set_grads(params, t)
            params[3].grad = None
            if t in (3, 4):
                params[1].grad = None
            if t == 3:
                snapshots["before"] = snapshot(opt, params[1:2])
            opt.step()
            if t == 4:
                assert_unchanged(snapshots["before"], opt, params[1:2], f"grad-less param after step {t}")
        return step_counts(opt, params)

    (got, gp, steps), (want, wp, want_steps) = run_pair(name, HEAVY[name], script)
    assert steps == want_steps == {"SGD": [None] * 4, "Adagrad": [6, 4, 6, 0]}.get(name, [6, 4, 6, None])
    assert_same_run(got, gp, want, wp, 6, name)
    # What a checkpoint holds: the per-param step counts, as torch's.
    got_sd, want_sd = got.state_dict()["state"], want.state_dict()["state"]
    assert got_sd.keys() == want_sd.keys()
    def counts(sd):  # -1: no count (SGD)
        return [float(s.get("step", -1)) for s in sd.values()]
    assert counts(got_sd) == counts(want_sd)


@pytest.mark.parametrize("name", NAMES)
def test_frozen_params_are_untouched(name):
    """A layer with requires_grad=False, still in the optimizer (a common fine-tuning set-up)."""
    def script(opt, params):
        for t in (1, 2, 3):
            opt.zero_grad()
            linear_loss([p for p in params if p.requires_grad], t).backward()
            opt.step()

    params = make_params()
    params[1].requires_grad_(False)
    frozen = params[1].detach().clone()
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], script, params)
    assert gp[1].grad is None and torch.equal(gp[1].detach(), frozen)
    assert step_counts(got, gp[1:2]) == step_counts(want, wp[1:2]) == [0.0 if name == "Adagrad" else None]
    assert_same_run(got, gp, want, wp, 3, name)


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_with_their_own_hyperparameters(name):
    group_options = {
        "SGD": [dict(lr=0.05, momentum=0.5, dampening=0.2), dict(nesterov=False, weight_decay=0.0)],
        "Adam": [dict(lr=0.02, betas=(0.5, 0.9), amsgrad=False), dict(eps=1e-3, maximize=True)],
        "AdamW": [dict(lr=0.02, weight_decay=0.5), dict(betas=(0.3, 0.5), amsgrad=False)],
        "RMSprop": [dict(lr=0.02, alpha=0.5, centered=False), dict(momentum=0.0, maximize=True)],
        "Adagrad": [dict(lr=0.02, lr_decay=0.5), dict(eps=1e-3, maximize=True)],
        "Adamax": [dict(lr=0.02, betas=(0.5, 0.9)), dict(eps=1e-3, weight_decay=0.0, maximize=True)],
        "RAdam": [dict(lr=0.02, betas=(0.5, 0.8)), dict(weight_decay=0.1, decoupled_weight_decay=True)],
        "Adadelta": [dict(lr=0.5, rho=0.5), dict(eps=1e-3, weight_decay=0.1, maximize=True)],
        "Rprop": [dict(lr=0.02, etas=(0.3, 1.5)), dict(step_sizes=(1e-3, 0.05), maximize=True)],
        "NAdam": [dict(lr=0.02, momentum_decay=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True)],
        "ASGD": [dict(lr=0.02, lambd=0.1, t0=2.0), dict(alpha=0.5, weight_decay=0.1, maximize=True)],
        "Adafactor": [dict(lr=0.02, beta2_decay=-0.6, d=2.0), dict(eps=(1e-20, 1e-2), weight_decay=0.1, maximize=True)],
    }[name]

    def groups(params):
        return [{"params": params[:1]}, {"params": params[1:3], **group_options[0]},
                {"params": params[3:], **group_options[1]}]
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], lambda o, p: train(o, p, 8), groups=groups)
    assert_same_run(got, gp, want, wp, 8, name)


@pytest.mark.parametrize("name", NAMES)
def test_mixed_float32_and_float64_params_in_one_group(name):
    params = make_params(torch.float32)
    for i in (1, 3):
        params[i] = torch.nn.Parameter(params[i].detach().double())
    (got, gp, _), (want, wp, _) = run_pair(name, HEAVY[name], lambda o, p: train(o, p, 6), params)
    assert [p.dtype for p in gp] == [torch.float32, torch.float64, torch.float32, torch.float64]
    assert_same_run(got, gp, want, wp, 6, name)


@pytest.mark.parametrize("name", NAMES)
def test_step_hooks_are_called_around_the_update(name):
    params = make_params()
    opt = getattr(pygd_torch, name)(params, **HEAVY[name])
    set_grads(params, 1)
    initial = params[0].detach().clone()
    events = []

    def hook(kind):
        def record(optimizer, args, kwargs):
            events.append((kind, optimizer is opt, torch.equal(params[0].detach(), initial)))
        return record

    handles = [opt.register_step_pre_hook(hook("pre")), opt.register_step_post_hook(hook("post")),
               register_optimizer_step_pre_hook(hook("global pre")),
               register_optimizer_step_post_hook(hook("global post"))]
    try:
        opt.step()
    finally:
        for h in handles:
            h.remove()
    # "unchanged" is True before the update and False after it.
    assert events == [("global pre", True, True), ("pre", True, True),
                      ("post", True, False), ("global post", True, False)]
    opt.step()
    assert len(events) == 4
