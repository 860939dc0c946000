"""LSTM and GRU recurrences: jtorch's hand-written reverse passes against JAX's derivative of the
same scan, and torch.

(a) One 2-layer nn.LSTM / nn.GRU (input 200, hidden 200, sequence 35, batch 20): forward and
    forward+backward of the layer, compiled; torch's module (2 threads) in the same run.
(b) The word-language-model train step of bench_train.py (lstm_lm, gru_lm), jtorch's
    recurrence against the scan, alternating rounds in one process.

"scan" is the path jtorch used before: `lax.scan` over the cell, differentiated by JAX (it is
still the path for projected LSTMs and packed sequences). Ratios are scan time / jtorch time.

Run: python benchmarks/bench_recurrence.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import contextlib
import functools

import jax
import jax.numpy as jnp
import numpy as np
from _timing import best_of

import jtorch
import jtorch.nn.functional as F
from jtorch import nn, optim
from jtorch.nn.functional import recurrent
from jtorch.nn.utils import clip_grad_norm_

L, N, H = 35, 20, 200


def _lstm_by_scan(zx, h0, c0, w_hh, reverse):
    step = recurrent._lstm_step(w_hh, None, None)  # zx already holds b_hh
    ys, (h, c) = recurrent._scan_layer((h0, c0), zx, step, reverse)
    return ys, h, c


def _gru_by_scan(zx, h0, w_hh, b_hh, reverse):
    return recurrent._scan_layer(h0, zx, recurrent._gru_step(w_hh, b_hh), reverse)


@contextlib.contextmanager
def _scanned():
    """Inside: `lstm`/`gru` differentiate the scan instead (for tracing the reference)."""
    saved = recurrent.lstm_recurrence, recurrent.gru_recurrence
    recurrent.lstm_recurrence, recurrent.gru_recurrence = _lstm_by_scan, _gru_by_scan
    try:
        yield
    finally:
        recurrent.lstm_recurrence, recurrent.gru_recurrence = saved


def _traced_now(fn, *args):
    """`fn(*args)` as a thunk, traced and compiled on this first call."""
    jax.block_until_ready(fn(*args))
    return lambda: fn(*args)


def layer(kind: str, rounds: int) -> None:
    import torch

    torch.set_num_threads(2)
    x = np.random.default_rng(0).standard_normal((L, N, H), dtype=np.float32)
    jtorch.manual_seed(0)
    model = getattr(nn, kind)(H, H, 2)
    tmodel = getattr(torch.nn, kind)(H, H, 2)
    tmodel.load_state_dict(
        {k: torch.from_numpy(np.asarray(v)) for k, v in model.state_dict().items()}
    )
    tx = torch.from_numpy(x)

    def torch_backward():
        tmodel.zero_grad()
        tmodel(tx)[0].sum().backward()

    def torch_forward():
        with torch.no_grad():
            return tmodel(tx)

    jx = jnp.asarray(x)
    for what in ("forward", "forward+backward"):
        if what == "forward":
            fn = jtorch.jit(lambda m, x: m(x)[0])
        else:
            fn = jtorch.jit(lambda m, x: jtorch.grad(lambda m: m(x)[0].sum())(m))
        fns = {"jtorch": _traced_now(fn, model, jx)}
        with _scanned():
            scan_fn = jtorch.jit(fn.__wrapped__)
            fns["scan"] = _traced_now(scan_fn, model, jx)
        fns["torch"] = torch_forward if what == "forward" else torch_backward
        best = best_of(fns, rounds, calls=5)
        print(
            f"{kind:<5}{what:<18}"
            + "".join(f"{k} {v * 1e3:7.2f} ms   " for k, v in best.items())
            + f"scan/jtorch {best['scan'] / best['jtorch']:.3f}   "
            + f"torch/jtorch {best['torch'] / best['jtorch']:.3f}",
            flush=True,
        )


def lm_step(case_name: str, rounds: int) -> None:
    import bench_train as bt

    case = bt.CASES[case_name]
    inputs, target = bt._batch(case)
    jx = tuple(jnp.asarray(a.astype(np.int32)) for a in inputs)
    jy = jnp.asarray(target.astype(np.int32))

    def make():
        jtorch.manual_seed(0)
        model = bt._jtorch_model(case.model).train()
        opt = optim.SGD(model.parameters(), lr=20.0)

        @functools.partial(jtorch.jit, donate=True)
        def train(model, opt, inputs, target):
            loss_fn = lambda m: bt._loss(case.loss, F, m(*inputs), target)  # noqa: E731
            loss, grads = jtorch.value_and_grad(loss_fn)(model)
            clip_grad_norm_(grads, case.clip)
            opt.step(grads)
            return loss

        return train, model, opt

    train, model, opt = make()
    fns = {"jtorch": _traced_now(train, model, opt, jx, jy)}
    with _scanned():
        scan_train, scan_model, scan_opt = make()
        fns["scan"] = _traced_now(scan_train, scan_model, scan_opt, jx, jy)
    best = best_of(fns, rounds, calls=5)
    print(
        f"{case_name:<23}"
        + "".join(f"{k} {v * 1e3:7.2f} ms   " for k, v in best.items())
        + f"scan/jtorch {best['scan'] / best['jtorch']:.3f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print("(a) one 2-layer layer, compiled")
    for kind in ("LSTM", "GRU"):
        layer(kind, args.rounds)
    print("(b) word-language-model train step")
    for case_name in ("lstm_lm", "gru_lm"):
        lm_step(case_name, args.rounds)


if __name__ == "__main__":
    main()
