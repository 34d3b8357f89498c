"""pygd's CUDA kernels against torch.optim's fused and foreach steps on one GPU, beside a
device-to-device copy measured in the same run (the bandwidth reference).

    python benchmarks/gpu_step.py [--optimizers adam,adamw,sgd] [--sizes 1M,64M,2000x4096]
                                  [--runs 200] [--json PATH]

Workloads: one tensor of 1M or 64M float32 elements, or 2000 tensors of 4096. Optimizers:
Adam, AdamW (weight decay 0.01) and SGD with momentum 0.9. pygd is called as pygd.torch calls it,
through the pointer-level entry (pygd._backends.cuda.launch: addresses gathered once, as an
optimizer keeps them), with the step count on the host.

Method: every contender has its own copies of the same random params and grads, and is warmed up
(which fills its states); then the contenders run interleaved, one step each per round, each step
timed by CUDA events on the current stream; the median of --runs rounds is reported. GB/s counts
the bytes an ideal fused update moves (fp32: Adam/AdamW 28, SGD-momentum 20 per param: each state
read and written once, the grad read once); "% copy" is that against the bandwidth of a
device-to-device copy (torch's copy_ of 1 GiB: 2 GiB moved), timed in the same rounds.

Exits with a message (status 0) where there is no GPU, no torch with CUDA, or no pygd._cuda.
"""

import argparse
import json
import statistics
import sys

import pygd

BYTES_PER_PARAM = {"adam": 28, "adamw": 28, "sgd": 20}
NAMES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD-mom"}
COPY_BYTES = 1 << 30


def parse_size(text):
    """'1M' -> [1M]; '2000x4096' -> [4096] * 2000."""
    count, _, size = text.partition("x") if "x" in text else ("1", "", text)
    scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1].upper(), 1)
    return [int(size.rstrip("KMkm")) * scale] * int(count)


def torch_optimizer(torch, name, params, **impl):
    if name == "sgd":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, **impl)
    cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    return cls(params, lr=1e-3, weight_decay=0.01 if name == "adamw" else 0.0, **impl)


def pygd_step(torch, name, params, grads):
    """A step function over `params` by pygd._cuda, and its state tensors."""
    from pygd._backends import cuda

    states = [[torch.zeros_like(p) for p in params] for _ in range(1 if name == "sgd" else 2)]
    sizes = [p.numel() for p in params]
    addresses = [[t.data_ptr() for t in ts] for ts in (params, grads, *states)]
    if name == "sgd":
        optimizer, streams = "sgd", (addresses[0], addresses[1], addresses[2])
        hparams = (1e-3, 0.9, 0.0, 0.0, False, False)
    else:
        optimizer, streams = "adam", (*addresses, None)
        hparams = (1e-3, 0.9, 0.999, 1e-8, 0.01 if name == "adamw" else 0.0, False, False, name == "adamw")
    device = params[0].device.index
    step = [0]

    def run():
        step[0] += 1
        cuda.launch(optimizer, "float32", sizes, streams, step[0], 0, hparams, 0, 0,
                    torch.cuda.current_stream().cuda_stream, device)
    return run


def contenders(torch, name, sizes):
    """{contender: step function}, each over its own copy of the same params and grads."""
    g = torch.Generator(device="cuda").manual_seed(0)
    base = [torch.randn(n, device="cuda", generator=g) for n in sizes]
    grads = [torch.randn(n, device="cuda", generator=g) for n in sizes]
    steps = {}
    params = [p.clone() for p in base]
    steps["pygd"] = pygd_step(torch, name, params, grads)
    for impl in ("fused", "foreach"):
        ps = [torch.nn.Parameter(p.clone()) for p in base]
        for p, gr in zip(ps, grads):
            p.grad = gr
        steps[f"torch-{impl}"] = torch_optimizer(torch, name, ps, **{impl: True}).step
    return steps


def time_rounds(torch, steps, runs):
    """{name: [ms per run]}, the steps interleaved, each timed by CUDA events."""
    samples = {k: [] for k in steps}
    for fn in steps.values():  # warm-up: fills the states, compiles, allocates
        for _ in range(3):
            fn()
    torch.cuda.synchronize()
    for _ in range(runs):
        for k, fn in steps.items():
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            samples[k].append(start.elapsed_time(end))
    return samples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizers", default="adam,adamw,sgd")
    parser.add_argument("--sizes", default="1M,64M,2000x4096")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    try:
        import torch
    except ImportError:
        print("gpu_step: torch is not installed; nothing to compare against")
        return 0
    info = pygd.info()
    if not torch.cuda.is_available() or not info["cuda_devices"]:
        print(f"gpu_step: no usable GPU (torch.cuda: {torch.cuda.is_available()}, "
              f"pygd: {info['cuda_devices']} devices, {info['cuda_error']}); nothing to measure")
        return 0

    src = torch.empty(COPY_BYTES // 4, device="cuda")
    dst = torch.empty_like(src)
    results = []
    print(f"# {torch.cuda.get_device_name()}; torch {torch.__version__}; pygd {pygd.__version__}")
    print(f"# median of {args.runs} interleaved runs, CUDA events; % copy: GB/s / D2D copy GB/s (same rounds)")
    header = f"{'optimizer':9}  {'size':10}  {'contender':13}  {'ms':>8}  {'GB/s':>7}  {'% copy':>6}  {'vs fused':>8}"
    print(header + "\n" + "-" * len(header))
    for size in args.sizes.split(","):
        for name in args.optimizers.split(","):
            sizes = parse_size(size)
            steps = contenders(torch, name, sizes)
            steps["copy"] = lambda: dst.copy_(src)
            samples = time_rounds(torch, steps, args.runs)
            copy_gbps = 2 * COPY_BYTES / statistics.median(samples.pop("copy")) / 1e6
            fused_ms = statistics.median(samples["torch-fused"])
            traffic = BYTES_PER_PARAM[name] * sum(sizes)
            for contender, ms in samples.items():
                median = statistics.median(ms)
                gbps = traffic / median / 1e6
                row = {"optimizer": name, "size": size, "contender": contender, "ms": median,
                       "gbps": gbps, "copy_gbps": copy_gbps, "fraction_of_copy": gbps / copy_gbps,
                       "speedup_vs_torch_fused": fused_ms / median, "samples_ms": ms}
                results.append(row)
                print(f"{NAMES[name]:9}  {size:10}  {contender:13}  {median:8.3f}  {gbps:7.0f}  "
                      f"{100 * row['fraction_of_copy']:5.0f}%  {row['speedup_vs_torch_fused']:7.2f}x")
            print(f"{'':9}  {'':10}  {'(D2D copy)':13}  {'':8}  {copy_gbps:7.0f}")
            del steps
            torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "pygd": info,
                       "runs": args.runs, "results": results}, f, indent=1)
        print(f"# wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
