"""`python -m pygd ...`: the same as the `pygd` command (see pygd.cli)."""

import sys

from .cli import main

sys.exit(main())
