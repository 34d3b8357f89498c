"""Kept so that `python benchmarks/compare.py ...` still works: the comparison now ships with pygd as
`pygd bench` (pygd/bench/), and this forwards its arguments there. See README.md, "Benchmarks".

    python benchmarks/compare.py --quick      is      pygd bench --quick
"""

import sys

from pygd.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
