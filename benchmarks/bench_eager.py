"""Per-call time of a jtorch built-in layer called eagerly (outside `jit`) against torch eager.

nn.LSTM(64, 128, num_layers=2) on (seq 35, batch 8, 64) — a word-language-model evaluation
batch — and nn.Conv2d(16, 32, 3) on (8, 16, 32, 32). jtorch runs each eager call as a cached
compiled program (see jtorch.nn.module); torch runs its eager kernels under `torch.no_grad()`.
Alternating rounds, best round of each. Target: jtorch/torch <= 3.

Run: python benchmarks/bench_eager.py [--calls 20] [--rounds 5]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _timing import best_of

import jtorch

CASES = {
    "LSTM(64, 128, 2 layers), (35, 8, 64)": (
        lambda lib: lib.nn.LSTM(64, 128, num_layers=2),
        (35, 8, 64),
    ),
    "Conv2d(16, 32, 3), (8, 16, 32, 32)": (lambda lib: lib.nn.Conv2d(16, 32, 3), (8, 16, 32, 32)),
}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}")
    ratios = {}
    for name, (build, shape) in CASES.items():
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        jt_layer, jt_x = build(jtorch), jtorch.tensor(x)
        t_layer, t_x = build(torch), torch.from_numpy(x)
        jt_layer.load_state_dict(t_layer.state_dict())

        def run_torch(t_layer=t_layer, t_x=t_x):
            with torch.no_grad():
                return t_layer(t_x)

        def run_jtorch(jt_layer=jt_layer, jt_x=jt_x):
            return jt_layer(jt_x)

        best = best_of({"jtorch": run_jtorch, "torch": run_torch}, args.rounds, args.calls)
        ratios[name] = best["jtorch"] / best["torch"]
        print(
            f"{name}: jtorch eager {best['jtorch'] * 1e3:.2f} ms, torch eager "
            f"{best['torch'] * 1e3:.2f} ms, ratio {ratios[name]:.2f} (target <= 3)"
        )
    return ratios


if __name__ == "__main__":
    main()
