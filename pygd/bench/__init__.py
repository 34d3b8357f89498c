"""`pygd bench`: pygd against this machine's memory bandwidth and the optimizers installed here.

    workloads    the optimizers, sizes and dtypes timed, and buffer rotation against the cache
    numpy_steps  each update written the obvious way in NumPy (a comparator)
    contenders   pygd and the comparators: NumPy, torch.optim (loop, foreach, fused), DeepSpeed
    probe        this machine's in-place streaming bandwidth (pygd's native probe)
    timing       warm-up, interleaved rounds, medians and spread
    machine      CPU, caches, versions, the load of other processes
    runner       one run, into the JSON document of results
    results      that document (schema), saving and loading it
    report       the printed table and the progress line
    compare      two runs side by side: regressions and improvements beyond the noise
    plot         the --plot chart
    model_shapes ResNet-50's and GPT-2 small's parameter shapes, from their layer configurations
    torch_contenders  steps on torch tensors (pygd.torch, torch.optim, DeepSpeed) for
                 benchmarks/torch_step.py

The command line is pygd.cli; the asv suite in benchmarks/ tracks the same workloads over commits.
"""
