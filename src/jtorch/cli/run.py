"""`jtorch run --nproc-per-node N script.py args...`: torchrun's launcher (see
`jtorch.distributed.run`)."""

from __future__ import annotations

import argparse
from typing import Any


def register(groups: Any) -> None:
    """Add `jtorch run` to the `jtorch` parser."""
    from jtorch.distributed import run as launcher

    parser = groups.add_parser("run", help="start N processes of a training script (torchrun)")
    launcher.add_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from jtorch.distributed.run import launch

    return launch(
        args.script,
        args.script_args,
        nproc_per_node=args.nproc_per_node,
        master_addr=args.master_addr,
        master_port=args.master_port,
        module=args.module,
    )
