"""One in-place optimizer step: its time, the process's peak memory, its GB/s and its fraction of the
bandwidth probe, for each optimizer x dtype x size x backend (common.py says what each one is)."""

from .common import BACKENDS, DTYPES, OPTIMIZERS, SIZES, Probe, Workload, median_ns

PARAMS = (list(OPTIMIZERS), list(DTYPES), list(SIZES), list(BACKENDS))
PARAM_NAMES = ("optimizer", "dtype", "size", "backend")


class Step:
    """asv times step() itself (time_) and reads the peak RSS of a process that ran it (peakmem_:
    the arrays plus whatever a step allocates; the native kernels allocate nothing)."""
    params, param_names = PARAMS, PARAM_NAMES
    timeout = 120  # setup of the 16M float64 workloads allocates and warms up ~1 GiB

    def setup(self, optimizer, dtype, size, backend):
        self.workload = Workload(optimizer, dtype, size, backend)

    def time_step(self, optimizer, dtype, size, backend):
        self.workload.step()

    def peakmem_step(self, optimizer, dtype, size, backend):
        self.workload.step()


class Bandwidth:
    """GB/s of the ideal fused traffic (docs/roofline.md), and the fraction of the native bandwidth
    probe over the same arrays, timed interleaved with the step so both see the same noise."""
    params, param_names = PARAMS, PARAM_NAMES
    timeout = 120
    rounds = 15  # steps timed per track; the median is reported

    def setup(self, optimizer, dtype, size, backend):
        self.workload = Workload(optimizer, dtype, size, backend)
        self.probe = Probe(self.workload)

    def track_gbps(self, optimizer, dtype, size, backend):
        (step_ns,) = median_ns([self.workload.step], self.rounds)
        return self.workload.bytes_per_step / step_ns

    track_gbps.unit = "GB/s"

    def track_fraction_of_probe(self, optimizer, dtype, size, backend):
        step_ns, probe_ns = median_ns([self.workload.step, self.probe.step], self.rounds)
        return probe_ns / step_ns

    track_fraction_of_probe.unit = "fraction of probe"
