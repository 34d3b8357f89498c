"""pygd.torch under torch.distributed: 2 processes (gloo over loopback) train a small MLP, each on
its half of every batch, with DistributedDataParallel + pygd.torch.AdamW and with
ZeroRedundancyOptimizer(optimizer_class=pygd.torch.AdamW); the result must equal one process
training on the full batches, within rounding.

The 2-rank job runs once per session (the `job` fixture): this file is also the workers' script
(`python test_torch_distributed.py RANK PORT OUTDIR`). Each rank trains every configuration of
CONFIGS in turn and saves its params (and ZeRO's consolidated state_dict) for the tests to compare.
A job not done within JOB_TIMEOUT_S is killed, and the test fails with the workers' logs.

Tolerance. Both runs do the same float32 arithmetic except for the order of one sum: one process
averages the per-sample gradients over the whole batch, the two ranks each over their half, and the
all-reduce then averages the two halves. The gradients thus differ by a few ulps (relative ~1e-7).
Adam's update lr * m_hat / (sqrt(v_hat) + eps) is scale-free in the gradient, so it passes such a
relative change on roughly one to one, and each step moves a param by about lr at most; the forward
pass feeds the params' differences back into the next gradients. Over STEPS steps the params (of
magnitude ~0.1-1) end a few ulps apart: measured, 6e-8 at most (9e-8 with torch.optim.AdamW in both
runs). PARAM_ATOL = 1e-6 allows 10x that, and is 1e-5 of the distance STEPS * lr the params can
travel (the test checks that they did travel, far beyond it). The states are compared per tensor
against its largest element (STATE_RTOL), since an element of a moment that cancels to near zero has
a large relative but tiny absolute difference: measured 2e-7 of the largest. The same bounds cover
pygd.torch against torch.optim, which agree to rounding (docs/update-rules.md). The two ranks of one job
must hold bitwise-equal params (both apply the same reduced gradient with the same optimizer, or
ZeRO broadcasts each shard from its owner).
"""

import datetime
import os
import socket
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # after the skip, as torch may be absent

WORLD_SIZE = 2
STEPS = 10
BATCH = 16                      # split in halves, one per rank
IN_FEATURES, HIDDEN, OUT_FEATURES = 8, 32, 4
SEED = 0
ADAMW = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)
PARAM_ATOL = 1e-6               # absolute; see the module docstring
STATE_RTOL = 1e-5               # of the tensor's largest element; see the module docstring
JOB_TIMEOUT_S = 50              # the whole 2-process job; it takes a few seconds
COLLECTIVE_TIMEOUT_S = 30       # a rank waiting on the other gives up after this

# name: (DistributedDataParallel's options, ZeroRedundancyOptimizer's options or None: no ZeRO).
# The bucket views make grads (DDP) or params (ZeRO) views into shared flat buffers: tensors with a
# storage offset, which pygd.torch must step in place like any other.
CONFIGS = {
    "ddp": ({}, None),
    "ddp-grad-bucket-view": ({"gradient_as_bucket_view": True}, None),
    "zero": ({}, {}),
    "zero-param-bucket-view": ({}, {"parameters_as_bucket_view": True}),
}
ZERO_CONFIGS = [name for name, (_, zero) in CONFIGS.items() if zero is not None]


def make_model():
    """The same initial weights in every process. Smooth activations: no kink for a rounding
    difference to flip a gradient across."""
    torch.manual_seed(SEED)
    return torch.nn.Sequential(torch.nn.Linear(IN_FEATURES, HIDDEN), torch.nn.Tanh(),
                               torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.Tanh(),
                               torch.nn.Linear(HIDDEN, OUT_FEATURES))


def make_batches():
    """STEPS batches of inputs and targets, the same in every process."""
    generator = torch.Generator().manual_seed(SEED + 1)
    inputs = torch.randn(STEPS, BATCH, IN_FEATURES, generator=generator)
    targets = torch.randn(STEPS, BATCH, OUT_FEATURES, generator=generator)
    return inputs, targets


def train(model, optimizer, inputs, targets):
    for x, y in zip(inputs, targets):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


def param_copies(model):
    return [p.detach().clone() for p in model.parameters()]


# --------------------------------------------------------------------------------------- a worker

def run_rank(rank, port, outdir):
    """One rank of the job: every configuration on this rank's half of each batch."""
    from torch.distributed.optim import ZeroRedundancyOptimizer
    from torch.nn.parallel import DistributedDataParallel

    import pygd.torch

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD_SIZE,
                            timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT_S))
    inputs, targets = make_batches()
    half = slice(rank * BATCH // WORLD_SIZE, (rank + 1) * BATCH // WORLD_SIZE)
    results = {}
    for name, (ddp_options, zero_options) in CONFIGS.items():
        model = DistributedDataParallel(make_model(), **ddp_options)
        if zero_options is None:
            optimizer = pygd.torch.AdamW(model.parameters(), **ADAMW)
        else:
            optimizer = ZeroRedundancyOptimizer(model.parameters(),
                                                optimizer_class=pygd.torch.AdamW,
                                                **zero_options, **ADAMW)
        train(model, optimizer, inputs[:, half], targets[:, half])
        results[name] = {"params": param_copies(model.module)}
        if zero_options is not None:
            optimizer.consolidate_state_dict(to=0)  # a collective: every rank takes part
            if rank == 0:
                results[name]["state_dict"] = optimizer.state_dict()
    results.update(run_fsdp2(inputs[:, half], targets[:, half]))
    torch.save(results, os.path.join(outdir, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()


FSDP2 = ("fsdp2-pygd", "fsdp2-torch")


def run_fsdp2(inputs, targets):
    """FSDP2 (fully_shard): each param becomes a DTensor holding this rank's shard. pygd.torch hands
    DTensors to torch's own step (they are tensor subclasses); trained with pygd.torch.AdamW and with
    torch.optim.AdamW, the full params must agree bitwise, and equal one process's."""
    import pygd.torch
    try:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard
    except ImportError:  # pragma: no cover - torch without FSDP2
        return {}
    mesh = init_device_mesh("cpu", (WORLD_SIZE,))
    results = {}
    for name, optimizer_class in zip(FSDP2, (pygd.torch.AdamW, torch.optim.AdamW)):
        model = make_model()
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        optimizer = optimizer_class(model.parameters(), **ADAMW)
        train(model, optimizer, inputs, targets)
        results[name] = {"params": [p.full_tensor().detach().clone() for p in model.parameters()]}
        if name == FSDP2[0]:
            results[name]["routed"] = dict(optimizer.pygd_routes.torch)
    return results


# --------------------------------------------------------------------------------------- the job

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker_env():
    import pygd
    env = dict(os.environ)
    # The workers import the pygd this process imported (a checkout may shadow an installed one).
    root = os.path.dirname(os.path.dirname(os.path.abspath(pygd.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = "1"  # two processes share the cores
    if "lo" in {name for _, name in socket.if_nameindex()}:
        env["GLOO_SOCKET_IFNAME"] = "lo"  # gloo talks over loopback, whatever the host name says
    return env


def _logs(logs):
    return "\n".join(f"--- rank {rank} ---\n{open(path).read()}" for rank, path in enumerate(logs))


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """Runs the 2-rank job; {rank: {config: {"params": [...], "state_dict": ...}}}."""
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with the gloo backend is not available")
    pytest.importorskip("pygd.torch")
    outdir = tmp_path_factory.mktemp("ddp")
    port, env = _free_port(), _worker_env()
    logs = [str(outdir / f"rank{rank}.log") for rank in range(WORLD_SIZE)]
    workers = []
    for rank, log in enumerate(logs):
        with open(log, "w") as f:
            workers.append(subprocess.Popen([sys.executable, __file__, str(rank), str(port),
                                             str(outdir)], stdout=f, stderr=subprocess.STDOUT,
                                            env=env))
    deadline = time.monotonic() + JOB_TIMEOUT_S
    try:
        for worker in workers:
            worker.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail(f"the 2-process job did not finish within {JOB_TIMEOUT_S} s\n{_logs(logs)}")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    failed = [rank for rank, worker in enumerate(workers) if worker.returncode != 0]
    if failed:
        pytest.fail(f"rank(s) {failed} failed\n{_logs(logs)}")
    return {rank: torch.load(outdir / f"rank{rank}.pt") for rank in range(WORLD_SIZE)}


def _one_process(optimizer_class):
    """The params and optimizer of one process training on the full batches."""
    model = make_model()
    optimizer = optimizer_class(model.parameters(), **ADAMW)
    train(model, optimizer, *make_batches())
    return param_copies(model), optimizer


@pytest.fixture(scope="module")
def references():
    """One process on the full batches, with pygd.torch.AdamW and with torch.optim.AdamW."""
    pygd_torch = pytest.importorskip("pygd.torch")
    return {"pygd.torch": _one_process(pygd_torch.AdamW),
            "torch.optim": _one_process(torch.optim.AdamW)}


# --------------------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("config", CONFIGS)
def test_ranks_hold_the_same_params(job, config):
    for p0, p1 in zip(job[0][config]["params"], job[1][config]["params"]):
        assert torch.equal(p0, p1)


@pytest.mark.parametrize("reference", ["pygd.torch", "torch.optim"])
@pytest.mark.parametrize("config", CONFIGS)
def test_two_processes_equal_one(job, references, config, reference):
    initial = param_copies(make_model())
    expected, _ = references[reference]
    for start, got, want in zip(initial, job[0][config]["params"], expected):
        torch.testing.assert_close(got, want, atol=PARAM_ATOL, rtol=0)
        # the training moved the params far beyond the tolerance: the comparison has teeth
        assert (want - start).abs().max() > 1000 * PARAM_ATOL


def test_fsdp2_dtensor_params_step_as_with_torch(job, references):
    """fully_shard over 2 ranks: pygd.torch.AdamW equals torch.optim.AdamW bitwise (torch's own step
    runs the DTensor shards), and both equal one process on the full batches within rounding."""
    if FSDP2[0] not in job[0]:
        pytest.skip("this torch has no FSDP2 (torch.distributed.fsdp.fully_shard)")
    got = job[0][FSDP2[0]]
    assert got["routed"] and all("DTensor" in why for why in got["routed"].values())
    for rank in range(WORLD_SIZE):
        for a, b in zip(job[rank][FSDP2[0]]["params"], job[rank][FSDP2[1]]["params"]):
            assert torch.equal(a, b)
    expected, _ = references["torch.optim"]
    for a, b in zip(got["params"], expected):
        torch.testing.assert_close(a, b, atol=PARAM_ATOL, rtol=0)


@pytest.mark.parametrize("config", ZERO_CONFIGS)
def test_zero_consolidated_state_dict_is_torchs(job, references, config):
    """ZeRO gathers the ranks' pygd.torch.AdamW states into one state_dict: it must have torch's
    layout (param indices, state names, shapes, hyperparameters), hold the one-process state within
    rounding, and load into torch.optim.AdamW."""
    state_dict = job[0][config]["state_dict"]
    _, torch_optimizer = references["torch.optim"]
    expected = torch_optimizer.state_dict()
    assert state_dict.keys() == expected.keys() == {"state", "param_groups"}
    assert state_dict["state"].keys() == expected["state"].keys()
    for index, want in expected["state"].items():
        got = state_dict["state"][index]
        assert got.keys() == want.keys()
        for name, value in want.items():
            assert torch.is_tensor(got[name]) and got[name].dtype == value.dtype
            if name == "step":
                assert got[name].item() == value.item() == STEPS
            else:
                torch.testing.assert_close(got[name], value, rtol=0,
                                           atol=STATE_RTOL * value.abs().max().item())
    assert len(state_dict["param_groups"]) == len(expected["param_groups"]) == 1
    group, want_group = state_dict["param_groups"][0], expected["param_groups"][0]
    assert group.keys() == want_group.keys()
    assert sorted(group["params"]) == sorted(want_group["params"])
    for key, value in ADAMW.items():
        assert group[key] == value

    resumed = torch.optim.AdamW(make_model().parameters(), **ADAMW)
    resumed.load_state_dict(state_dict)
    assert resumed.state_dict()["state"].keys() == expected["state"].keys()


if __name__ == "__main__":
    run_rank(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    # The results are saved and the group destroyed. Leave without the interpreter's teardown:
    # gloo's worker threads can still hold tensors there, and a rank then aborts ("terminate
    # called without an active exception", seen once in a CI run). pygd's own pool threads are
    # detached and never joined at exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
