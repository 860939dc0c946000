"""A torchrun-like launcher: `jtorch run --nproc-per-node N script.py args...` or
`python -m jtorch.distributed.run --nproc-per-node N script.py args...`.

It starts N local processes of `script.py` (or `-m module`), each with torchrun's environment
(`MASTER_ADDR`, `MASTER_PORT`, `WORLD_SIZE`, `RANK`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`), so
`jtorch.distributed.init_process_group()` in the script joins them into one JAX runtime. SIGINT
and SIGTERM are passed on to every rank. When a rank fails, the launcher says which, stops the
others and exits with that rank's status; it exits 0 when all ranks do.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["add_arguments", "launch", "main"]

_POLL_S = 0.05
_GRACE_S = 10.0  # how long stopped ranks get to exit before they are killed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The launcher's options (torchrun's names, with dashes or underscores)."""
    parser.add_argument(
        "--nproc-per-node", "--nproc_per_node", dest="nproc_per_node", type=int, default=1,
        help="processes to start on this machine (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--master-addr", "--master_addr", dest="master_addr", default="127.0.0.1",
        help="address of rank 0 (default 127.0.0.1)",
    )  # fmt: skip
    parser.add_argument(
        "--master-port", "--master_port", dest="master_port", type=int, default=0,
        help="port of rank 0 (default: a free port)",
    )  # fmt: skip
    parser.add_argument(
        "-m", "--module", action="store_true", help="run the script as a module (python -m)"
    )
    parser.add_argument("script", help="the training script (or module with -m)")
    parser.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")


def _free_port(addr: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((addr, 0))
        return sock.getsockname()[1]


def _stop(procs: Sequence[subprocess.Popen], sig: int = signal.SIGTERM) -> None:
    """Send `sig` to the ranks still running, wait up to the grace period, then kill them."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    deadline = time.monotonic() + _GRACE_S
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def launch(
    script: str,
    script_args: Sequence[str] = (),
    *,
    nproc_per_node: int = 1,
    master_addr: str = "127.0.0.1",
    master_port: int = 0,
    module: bool = False,
) -> int:
    """Run `nproc_per_node` ranks of `script` and return the exit status (the first failure's)."""
    if nproc_per_node < 1:
        raise ValueError(f"jtorch run: `--nproc-per-node` must be >= 1, got {nproc_per_node}")
    port = master_port or _free_port(master_addr)
    command = [sys.executable, *(("-m", script) if module else (script,)), *script_args]
    procs: list[subprocess.Popen] = []
    for rank in range(nproc_per_node):
        env = {
            **os.environ,
            "MASTER_ADDR": master_addr,
            "MASTER_PORT": str(port),
            "WORLD_SIZE": str(nproc_per_node),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(nproc_per_node),
        }
        procs.append(subprocess.Popen(command, env=env))

    received: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        received.append(signum)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            codes = [proc.poll() for proc in procs]
            failed = [(rank, code) for rank, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                rank, code = failed[0]
                if not received:
                    print(
                        f"jtorch run: rank {rank} (pid {procs[rank].pid}) failed with exit code "
                        f"{code}; stopping the other ranks",
                        file=sys.stderr,
                        flush=True,
                    )
                _stop(procs)
                return code if code > 0 else 128 - code
            if all(code == 0 for code in codes):
                return 0
            time.sleep(_POLL_S)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop(procs, signal.SIGKILL)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m jtorch.distributed.run ...`; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m jtorch.distributed.run", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return launch(
        args.script,
        args.script_args,
        nproc_per_node=args.nproc_per_node,
        master_addr=args.master_addr,
        master_port=args.master_port,
        module=args.module,
    )


if __name__ == "__main__":
    sys.exit(main())
