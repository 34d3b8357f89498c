"""Shared fixtures: every test leaves threads, ISA and grain as it found them."""

import pytest

import pygd
from cases import SMALL_GRAIN
from pygd import _backends

_native = _backends.native._native if _backends.native is not None else None
NATIVE = _native is not None


def pytest_report_header(config):
    return "pygd.info(): " + ", ".join(f"{k}={v!r}" for k, v in pygd.info().items())


@pytest.fixture(autouse=True)
def restore_runtime():
    """Snapshot the process-wide knobs (threads, ISA, grain) and restore them after the test."""
    threads = pygd.runtime._count_setting()
    isa = _native.isa() if NATIVE else None
    grain = _native.grain() if NATIVE else None
    yield
    pygd.runtime._restore_count_setting(threads)
    if NATIVE:
        pygd.set_isa(isa)
        _native.set_grain(grain)


@pytest.fixture
def native():
    """The extension module (skips where it was not built; test_runtime fails loudly instead)."""
    if not NATIVE:
        pytest.skip(f"native extension unavailable: {_backends.native_error}")
    return _native


@pytest.fixture
def small_grain(native):
    """Lets a call of a few hundred elements split across threads."""
    native.set_grain(SMALL_GRAIN)
    return SMALL_GRAIN


@pytest.fixture
def runtime(native):
    """set(isa, threads): run the native kernels at that ISA level and thread count for this test."""
    def set_(isa=None, threads=None):
        if isa is not None:
            pygd.set_isa(isa)
        if threads is not None:
            pygd.set_num_threads(threads)
    return set_
