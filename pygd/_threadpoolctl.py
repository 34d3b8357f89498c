"""pygd's pool as threadpoolctl sees it: `threadpool_info()` lists it (user_api "openmp", as its
count follows OpenMP's limit; internal_api "pygd") and `threadpool_limits` sets its count.

threadpoolctl finds a library among those loaded by its file name and an exported symbol
(pygd_num_threads in pygd._native). To undo a limit it sets back the count it read before it;
pygd keeps the setting each limit replaced, so that undoing one restores the setting itself: no
count when none was set (the environment decides again), the user's set_num_threads count when
there was one.
"""

from __future__ import annotations

import sys
import types
from typing import Optional

from . import runtime
from ._version import __version__

# One entry per limit in force, innermost last: the setting it replaced.
_replaced: list[Optional[tuple[int, str]]] = []


def _limit(n: int) -> None:
    """threadpoolctl's set_num_threads(n): a new limit, or the undoing of the innermost one."""
    setting = runtime._count_setting()
    if _replaced and _undoing() and setting and setting[1] == "threadpoolctl":
        runtime._restore_count_setting(_replaced.pop())
        return
    _replaced.append(setting)
    runtime._set_count(max(1, min(int(n), runtime.MAX_THREADS)), "threadpoolctl")


def _undoing(depth: int = 6) -> bool:
    """Whether threadpoolctl calls to undo a limit (its restore_original_limits is a caller): it
    then passes the count it read before, which may have come from OpenMP's limit, since it limits
    the OpenMP runtimes too and in no fixed order; that count must not become a setting."""
    frame: Optional[types.FrameType] = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return False
        if (frame.f_code.co_name == "restore_original_limits"
                and frame.f_globals.get("__name__") == "threadpoolctl"):
            return True
        frame = frame.f_back
    return False


def register() -> None:
    """Registers the controller with threadpoolctl where it is installed and the extension built."""
    if runtime._native is None:
        return
    try:
        import threadpoolctl
    except ImportError:
        return
    if not hasattr(threadpoolctl, "register"):  # threadpoolctl < 3.5
        return

    # threadpoolctl has no type information: its base class is Any to mypy.
    class PygdController(threadpoolctl.LibController):  # type: ignore[misc]
        user_api = "openmp"
        internal_api = "pygd"
        filename_prefixes = ("_native",)
        check_symbols = ("pygd_num_threads",)

        def get_num_threads(self) -> int:
            return runtime.get_num_threads()

        def set_num_threads(self, num_threads: int) -> None:
            _limit(num_threads)

        def get_version(self) -> str:
            return __version__

    threadpoolctl.register(PygdController)
