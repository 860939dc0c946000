"""`python -m jtorch.cli ...`: the `jtorch` command (how `jtorch train --nproc-per-node` starts
its ranks)."""

import sys

from jtorch.cli import main

sys.exit(main())
