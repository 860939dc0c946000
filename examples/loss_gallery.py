"""Seed 002 §6: every loss function example of the seed, run on the seed's inputs (random ones drawn
from jtorch's global RNG where the seed draws them from torch's), printed as in the seed, with the
gradient that the seed's `output.backward()` would leave on each input that requires grad.

Run: python examples/loss_gallery.py [--smoke] [--seed N]

`main` returns, per loss, the class name, its options, the inputs, the loss value and the input
gradients, so a test can rerun each case in torch and compare.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import jtorch
from jtorch import nn


def _cases() -> list[tuple[str, str, dict, tuple, tuple[int, ...], object]]:
    """(title, loss class name, options, inputs, indices of inputs that require grad, wrap).

    `wrap` is applied to the first input before the loss (BCELoss takes sigmoid probabilities).
    """
    cases = []
    # 6.1 BCELoss on sigmoid outputs
    inp = jtorch.randn(3)
    target = jnp.floor(jtorch.rand(3) * 2)  # torch.empty(3).random_(2): 0. or 1.
    cases.append(("BCELoss", "BCELoss", {}, (inp, target), (0,), "sigmoid"))
    # 6.2 CrossEntropyLoss
    inp = jtorch.randn(3, 5)
    target = jtorch.randint(0, 5, (3,))
    cases.append(("CrossEntropyLoss", "CrossEntropyLoss", {}, (inp, target), (0,), None))
    # 6.3 L1Loss, 6.4 MSELoss, 6.5 SmoothL1Loss
    for name in ("L1Loss", "MSELoss", "SmoothL1Loss"):
        cases.append((name, name, {}, (jtorch.randn(3, 5), jtorch.randn(3, 5)), (0,), None))
    # 6.6 PoissonNLLLoss
    cases.append(
        (
            "PoissonNLLLoss",
            "PoissonNLLLoss",
            {},
            (jtorch.randn(5, 2), jtorch.randn(5, 2)),
            (0,),
            None,
        )
    )
    # 6.7 KLDivLoss (the seed passes probabilities where log-probabilities are expected)
    inputs = jnp.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    target = jnp.array([[0.9, 0.05, 0.05], [0.1, 0.7, 0.2]], dtype=jnp.float32)
    cases.append(("KLDivLoss", "KLDivLoss", {}, (inputs, target), (), None))
    # 6.8 MarginRankingLoss
    input1, input2 = jtorch.randn(3), jtorch.randn(3)
    target = jnp.sign(jtorch.randn(3))
    cases.append(
        ("MarginRankingLoss", "MarginRankingLoss", {}, (input1, input2, target), (0, 1), None)
    )
    # 6.9 MultiLabelMarginLoss: labels 3 and 0, nothing after the -1
    x = jnp.array([[0.9, 0.2, 0.4, 0.8]], dtype=jnp.float32)
    y = jnp.array([[3, 0, -1, 1]])
    cases.append(("MultiLabelMarginLoss", "MultiLabelMarginLoss", {}, (x, y), (), None))
    # 6.10 SoftMarginLoss: two samples, two neurons, a label per neuron
    inputs = jnp.array([[0.3, 0.7], [0.5, 0.5]])
    target = jnp.array([[-1, 1], [1, -1]], dtype=jnp.float32)
    cases.append(("SoftMarginLoss", "SoftMarginLoss", {}, (inputs, target), (), None))
    # 6.11 MultiMarginLoss
    target = jnp.array([0, 1])
    cases.append(("MultiMarginLoss", "MultiMarginLoss", {}, (inputs, target), (), None))
    # 6.12 TripletMarginLoss
    triplet = (jtorch.randn(100, 128), jtorch.randn(100, 128), jtorch.randn(100, 128))
    cases.append(
        (
            "TripletMarginLoss",
            "TripletMarginLoss",
            {"margin": 1.0, "p": 2},
            triplet,
            (0, 1, 2),
            None,
        )
    )
    # 6.13 HingeEmbeddingLoss
    inputs = jnp.array([[1.0, 0.8, 0.5]])
    target = jnp.array([[1, 1, -1]])
    cases.append(("HingEmbeddingLoss", "HingeEmbeddingLoss", {}, (inputs, target), (), None))
    # 6.14 CosineEmbeddingLoss
    inputs_1 = jnp.array([[0.3, 0.5, 0.7], [0.3, 0.5, 0.7]])
    inputs_2 = jnp.array([[0.1, 0.3, 0.5], [0.1, 0.3, 0.5]])
    target = jnp.array([1, -1], dtype=jnp.float32)
    cases.append(
        ("CosineEmbeddingLoss", "CosineEmbeddingLoss", {}, (inputs_1, inputs_2, target), (), None)
    )
    # 6.15 CTCLoss, padded targets (T, N, C, S, S_min as in the seed)
    T, C, N, S, S_min = 50, 20, 16, 30, 10
    inp = jax.nn.log_softmax(jtorch.randn(T, N, C), axis=2)
    target = jtorch.randint(1, C, (N, S))
    input_lengths = jtorch.full((N,), T, dtype=jnp.int32)
    target_lengths = jtorch.randint(S_min, S, (N,))
    args = (inp, target, input_lengths, target_lengths)
    cases.append(("CTCLoss (padded)", "CTCLoss", {}, args, (0,), None))
    # 6.15 CTCLoss, un-padded targets concatenated into one 1-D array
    inp = jax.nn.log_softmax(jtorch.randn(T, N, C), axis=2)
    input_lengths = jtorch.full((N,), T, dtype=jnp.int32)
    target_lengths = jtorch.randint(1, T, (N,))
    target = jtorch.randint(1, C, (int(target_lengths.sum()),))
    args = (inp, target, input_lengths, target_lengths)
    cases.append(("CTCLoss", "CTCLoss", {}, args, (0,), None))
    return cases


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="same run (it is already fast)")
    parser.add_argument("--out", default=None, help="unused; accepted like the other examples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    jtorch.manual_seed(args.seed)

    results: dict[str, dict] = {}
    for title, cls_name, options, inputs, grad_idx, wrap in _cases():
        loss = getattr(nn, cls_name)(**options)

        def compute(*diff, inputs=inputs, grad_idx=grad_idx, wrap=wrap, loss=loss):
            full = list(inputs)
            for i, v in zip(grad_idx, diff):
                full[i] = v
            if wrap == "sigmoid":
                full[0] = jax.nn.sigmoid(full[0])
            return loss(*full)

        diff = tuple(inputs[i] for i in grad_idx)
        if grad_idx:  # output.backward(): the gradient w.r.t. each input that requires grad
            output, grads = jax.value_and_grad(compute, argnums=tuple(range(len(diff))))(*diff)
        else:
            output, grads = compute(), ()
        print(f"{title}损失函数的计算结果为", output)
        results[title] = {
            "loss": cls_name,
            "options": options,
            "inputs": tuple(np.asarray(v) for v in inputs),
            "grad_idx": grad_idx,
            "wrap": wrap,
            "output": float(output),
            "grads": tuple(np.asarray(g) for g in grads),
        }
    return results


if __name__ == "__main__":
    main()
