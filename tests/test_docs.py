"""The documentation site (docs/conf.py) builds without a warning, as .ci/run builds it.

Needs the `docs` extra (sphinx, myst-parser), and torch and numba for the pages of pygd.torch and
pygd.numba; skipped without them.
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")

pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(DOCS, "conf.py")),
                                reason="no docs/ above the tests")


def test_the_site_builds_without_warnings(tmp_path):
    for module in ("sphinx", "myst_parser", "torch", "numba"):
        pytest.importorskip(module, reason=f"{module} is not installed (the docs need it)")
    built = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                            "-d", str(tmp_path / "doctrees"), DOCS, str(tmp_path / "html")],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-5000:] + built.stderr[-5000:]
    for page in ("index", "guide", "benchmarks", "architecture", "roofline", "api/pygd", "api/optim"):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page
    api = (tmp_path / "html" / "api" / "pygd.html").read_text(encoding="utf-8")
    assert 'id="pygd.adam_"' in api, "the functional steps are missing from the API reference"
