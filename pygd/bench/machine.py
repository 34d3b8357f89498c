"""The machine a run was measured on: CPU, caches, versions, and the load of other processes."""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import time
from typing import Any, Optional

import numpy as np

import pygd

_CACHE_DIR = "/sys/devices/system/cpu/cpu0/cache"
_SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def last_level_cache_bytes() -> Optional[int]:
    """The size of cpu0's largest data or unified cache (Linux sysfs), or None where unknown."""
    sizes = []
    try:
        for index in os.listdir(_CACHE_DIR):
            if not index.startswith("index"):
                continue
            path = os.path.join(_CACHE_DIR, index)
            with open(os.path.join(path, "type")) as f:
                if f.read().strip() == "Instruction":
                    continue
            with open(os.path.join(path, "size")) as f:
                text = f.read().strip()
            sizes.append(int(text[:-1]) * _SIZE_UNITS[text[-1]] if text[-1] in _SIZE_UNITS
                         else int(text))
    except (OSError, ValueError):
        return None
    return max(sizes, default=None)


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cpus() -> Optional[int]:
    """The CPUs this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count()


def load_average() -> Optional[list[float]]:
    """The 1, 5 and 15 minute load averages, or None where the OS keeps none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def busy(loadavg: Optional[list[float]], cpus: Optional[int]) -> bool:
    """Whether a load average says other work holds the CPUs: more than half of them, on average
    over the last minute (this process was not running yet)."""
    return loadavg is not None and loadavg[0] > 0.5 * max(cpus or 1, 1)


def describe() -> dict[str, Any]:
    """The machine as a result document records it: CPU, cores, last-level cache, platform, Python."""
    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": usable_cpus(),
            "llc_bytes": last_level_cache_bytes(), "platform": platform.platform(),
            "python": platform.python_version()}


def _version(distribution: str) -> Optional[str]:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, Optional[str]]:
    """Versions of pygd and of each comparator's library; None for one that is not installed."""
    return {"pygd": pygd.__version__, "numpy": np.__version__, "torch": _version("torch"),
            "numba": _version("numba"), "deepspeed": _version("deepspeed")}


class OtherLoad:
    """The share of the machine's CPUs that something other than this process used (other
    processes, hypervisor steal) between start() and stop(): the noise on a shared machine. A
    multi-threaded step waits at a barrier while another process holds one of its cores, so this
    slows the multi-threaded contenders most. None where /proc/stat cannot be read."""

    @staticmethod
    def _now() -> tuple[float, float, float]:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:9]]
            # busy = everything but idle and iowait
            busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, AttributeError):
            busy = math.nan
        return busy, time.process_time(), time.perf_counter()

    def start(self) -> None:
        """Starts a measurement of the other processes' load."""
        self._before = self._now()

    def stop(self) -> Optional[float]:
        """Ends the measurement: what the other processes did meanwhile."""
        busy, ours, wall = (now - then for now, then in zip(self._now(), self._before))
        if math.isnan(busy):
            return None
        return max(0.0, (busy - ours) / (wall * (os.cpu_count() or 1)))
