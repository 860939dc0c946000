"""The main job's figure: `jtorch train` with its defaults (LeNet on Digits, 30 epochs).

Reports test accuracy, training time and total wall time (data, compile, train, test) for a few
seeds. Target: >= 97% test accuracy in under 60 s on 2 CPU cores.

Run: python benchmarks/bench_main_job.py [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

from jtorch.cli import main as cli


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'seed':>4}{'test acc':>10}{'train s':>9}{'wall s':>8}")
    for seed in args.seeds.split(","):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                status = cli(["train", "--quiet", "--seed", seed, "--output-dir", out])
            wall = time.perf_counter() - started
            if status != 0:
                raise SystemExit(f"jtorch train failed for seed {seed}")
            summary = json.loads((Path(out) / "lenet-digits" / "history.json").read_text())
        row = {
            "seed": int(seed),
            "test_accuracy": summary["test_accuracy"],
            "train_seconds": summary["train_seconds"],
            "wall_seconds": wall,
        }
        rows.append(row)
        print(f"{seed:>4}{row['test_accuracy']:>10.4f}{row['train_seconds']:>9.1f}{wall:>8.1f}")
    return rows


if __name__ == "__main__":
    main()
