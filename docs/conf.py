"""Sphinx configuration of pygd's documentation site.

    pip install ".[docs]"                                  # pygd itself, with its extension
    sphinx-build -W --keep-going -b html docs <outdir>     # what .ci/run builds, warning-free

The pages are the repository's own Markdown (README.md, docs/*.md, through MyST), and the API
reference is autodoc's, from the docstrings of the pygd that is installed (pygd.torch and
pygd.numba need their extras).
"""

import importlib.machinery
import os
import re
import sys
from pathlib import Path

# `python -m sphinx` run from the checkout puts it first on sys.path, where a fresh clone has no
# compiled extension (pip builds it into the installed copy): where pygd is installed from a
# wheel, that copy is documented. An editable install or an in-place build is the checkout itself.
_ROOT = Path(__file__).resolve().parent.parent
_elsewhere = [p for p in sys.path if Path(os.path.abspath(p or ".")).resolve() != _ROOT]
if importlib.machinery.PathFinder.find_spec("pygd", _elsewhere) is not None:
    sys.path[:] = _elsewhere

import pygd  # noqa: E402

project = "pygd"
author = "the pygd authors"
copyright = "the pygd authors"
release = version = pygd.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]

# Headings become anchors (#threads, #cuda) as GitHub makes them, so the README's links between its
# sections work on the site too.
myst_heading_anchors = 3
# The design notes name files of the repository (csrc/..., pygd/...) by path, as text, and link
# each other by file name, which MyST turns into links between the pages.

# Docstrings quote names and code in single backticks: shown as code.
default_role = "code"
autodoc_member_order = "bysource"
# The signatures show the defaults; the types are the stubs' and annotations', for type checkers.
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "alabaster"
html_title = f"pygd {release}"

# The README is two pages here: guide.md (up to its Performance section) and benchmarks.md (from
# there). A link between its sections (`](#threads)`) is then to the page that holds the heading.
README_SPLIT = "## Performance"
_README_PAGES = {"guide": 0, "benchmarks": 1}


def _slug(heading):
    """A heading's anchor, as GitHub and myst_heading_anchors make it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _readme_links(app, relative_path, parent_docname, content):
    if Path(relative_path).name != "README.md" or parent_docname not in _README_PAGES:
        return
    text = content[0]
    parts = text.split(f"\n{README_SPLIT}\n", 1)
    parts[1:] = [f"{README_SPLIT}\n{parts[1]}"] if len(parts) == 2 else []
    where = {_slug(h): page for page, k in _README_PAGES.items()
             for h in re.findall(r"^#+ (.*)$", parts[k] if k < len(parts) else "", flags=re.M)}
    here = _README_PAGES[parent_docname]

    def link(match):
        page = where.get(match.group(1))
        if page is None or _README_PAGES[page] == here:
            return match.group(0)
        return f"]({page}.md#{match.group(1)})"
    content[0] = re.sub(r"\]\(#([\w-]+)\)", link, text)


# pygd's docstrings are plain text, not reStructuredText: names and code in backticks, examples
# indented. Shown as written: indented blocks as literal blocks, and the characters that mean markup
# to reStructuredText outside backticks (a*b, |x|, a name's trailing _ as in adam_) as themselves.
_MARKUP = re.compile(r"([*|\\])|(?<=\w)_(?!\w)")


def _escaped(text):
    parts = text.split("`")
    # Between backticks (odd parts): code, shown as it is.
    return "`".join(p if k % 2 else _MARKUP.sub(lambda m: "\\" + m.group(0), p)
                    for k, p in enumerate(parts))


def _as_written(lines):
    out, literal = [], False
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if line.strip() and indent >= 4 and not literal:
            literal = True
            out += ["", "::", ""]
        elif line.strip() and indent < 4:
            literal = False
        out.append(line if literal else _escaped(line))
    return out


def _plain_docstrings(app, what, name, obj, options, lines):
    if not name.startswith("pygd"):
        return
    if lines and lines[0].startswith("pygd's drop-in for :class:"):
        # pygd.torch's classes: pygd's paragraph, then torch's own documentation, which is written
        # for torch's site (its labels and link targets); the page shows pygd's part and links there.
        end = lines.index("") if "" in lines else len(lines)
        lines[:] = lines[:end]
        return
    lines[:] = _as_written(lines)


def setup(app):
    app.connect("include-read", _readme_links)
    app.connect("autodoc-process-docstring", _plain_docstrings)
