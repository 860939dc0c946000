"""The `jtorch` command line: `jtorch <group> <command> ...`.

Each command group lives in its own module exposing `register(subparsers)`, which adds its parser
and sets `handler` (a function of the parsed arguments returning an exit status). To add a group,
write `jtorch/cli/<group>.py` with `register` and list it in `_GROUPS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_GROUPS = ("train", "ckpt", "run")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jtorch", description=__doc__.splitlines()[0])
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")
    for name in _GROUPS:
        importlib.import_module(f"jtorch.cli.{name}").register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `jtorch` console script; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: usage errors (2) and --help (0)
        return int(exit_.code or 0)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for commands that start ranks
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0 if args.group is None else 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # every failure is reported in one line, without a traceback
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"jtorch {args.group}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
