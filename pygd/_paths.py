"""Where the C ABI's files are: libpygd (pygd/lib/libpygd.so) and its header (pygd/include/pygd.h).

A wheel installs both next to the extension module (pygd/); an editable install has them where its
CMake build installs the extension (build/<wheel tag>/install/platlib/pygd/), the header also in
the source tree (csrc/capi/). Both are found from the extension module's own directory, then
from this package's.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Optional

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
LIBRARY_NAME = {"darwin": "libpygd.dylib", "win32": "pygd.dll"}.get(sys.platform, "libpygd.so")


def _roots() -> list[str]:
    """The directories that may hold lib/ and include/: the extension's, then the package's."""
    roots = []
    try:
        spec = importlib.util.find_spec("pygd._native")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        roots.append(os.path.dirname(os.path.abspath(spec.origin)))
    if _PACKAGE not in roots:
        roots.append(_PACKAGE)
    return roots


def _find(relative: str) -> Optional[str]:
    for root in _roots():
        path = os.path.join(root, relative)
        if os.path.exists(path):
            return path
    return None


def get_library() -> str:
    """The path of libpygd, the C ABI's shared library (link with -L its directory, -lpygd).

    Raises FileNotFoundError where this pygd was built without one (no C++ compiler at install)."""
    path = _find(os.path.join("lib", LIBRARY_NAME))
    if path is None:
        raise FileNotFoundError(f"this pygd has no {LIBRARY_NAME} (it was installed without a C++ "
                                f"compiler, so without its native code); looked in "
                                f"{', '.join(os.path.join(r, 'lib') for r in _roots())}")
    return path


def get_include() -> str:
    """The directory holding pygd.h, the C ABI's header (compile with -I it)."""
    path = _find(os.path.join("include", "pygd.h"))
    if path is None:
        source = os.path.join(os.path.dirname(_PACKAGE), "csrc", "capi", "pygd.h")
        if os.path.exists(source):  # a source checkout, before any build
            path = source
        else:
            raise FileNotFoundError("this pygd has no pygd.h (it was installed without a C++ compiler)")
    return os.path.dirname(path)


def cflags() -> str:
    """The compiler flags of a C program using pygd.h."""
    return f"-I{get_include()}"


def libs() -> str:
    """The linker flags of a program linking libpygd: its directory (also as the run path)."""
    directory = os.path.dirname(get_library())
    return f"-L{directory} -Wl,-rpath,{directory} -lpygd"


def pkg_config() -> str:
    """A pkg-config file (pygd.pc) for this installation."""
    from ._version import __version__

    return (f"includedir={get_include()}\nlibdir={os.path.dirname(get_library())}\n\n"
            f"Name: pygd\nDescription: pygd's C ABI: fused gradient-descent steps (libpygd)\n"
            f"Version: {__version__}\nCflags: -I${{includedir}}\n"
            f"Libs: -L${{libdir}} -Wl,-rpath,${{libdir}} -lpygd\n")
