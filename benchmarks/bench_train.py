"""Train and eval steps: jtorch (one compiled step) against PyTorch eager and torch.compile.

Cases (all on the CPU, torch with 2 threads; targets are jtorch's speed over each reference):
- mlp: MLP 784-256-10, batch 128, Adam(lr=1e-3)
- lenet: LeNet-5 (1×32×32), batch 128, SGD(0.01, momentum=0.9)
- resnet18: ResNet-18 CIFAR stem (3×32×32), batch 64, SGD(0.1, 0.9)
- lstm_lm, gru_lm: word-language-model, 2 layers of 200, bptt 35, batch 20, 10k vocabulary,
  SGD(lr=20) with clip_grad_norm 0.25
- transformer_lm: 2-layer TransformerEncoder LM (d_model 200, 2 heads, causal mask), Adam
- lstmcell_loop: two LSTMCells (51) stepped in a 50-step Python loop, batch 97, Adam
- lstmcell_scan: the same, jtorch's side looping with `jax.lax.scan` (torch's keeps its loop)
- mha: MultiheadAttention block, batch 32, sequence 128, d 256, 4 heads, Adam
- eval_mlp, eval_lenet, eval_resnet18: forward only, eval mode

Both sides start from the same weights and see the same batches. Each torch reference runs in its
own process (as a PyTorch user's program would: none of jtorch's process settings, no JAX
threads): `eager`, and `compile` (torch.compile of the model, inductor, and of the optimizer
step). Rounds alternate between the processes, only one running at a time; the best round of
each is kept (many short rounds: on a shared machine the best of 20 short rounds varies far less
between runs than the best of a few long ones); a ratio is reference time / jtorch time (> 1
means jtorch is faster). "first s" is the first step's wall time, trace and compile included
(jtorch.jit vs torch.compile). The page faults per jtorch step are the fewest over the rounds
(JTORCH_MALLOC_TUNING=0 shows what glibc's default malloc costs).

Run: python benchmarks/bench_train.py [--cases mlp,lenet,...] [--refs eager,compile]
[--steps N] [--rounds 20] [--no-donate] [--cache DIR]   (steps per round default to each
case's own; --refs '' times jtorch alone)
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing as mp
import resource
import time
from typing import Any, NamedTuple

import jax
import numpy as np

VOCAB, BPTT = 10_000, 35


def _torch_models(torch):
    tnn = torch.nn
    tF = torch.nn.functional

    class LeNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(1, 6, 5)
            self.conv2 = tnn.Conv2d(6, 16, 5)
            self.fc1 = tnn.Linear(400, 120)
            self.fc2 = tnn.Linear(120, 84)
            self.fc3 = tnn.Linear(84, 10)

        def forward(self, x):
            x = tF.max_pool2d(tF.relu(self.conv1(x)), 2)
            x = tF.max_pool2d(tF.relu(self.conv2(x)), 2)
            x = x.flatten(1)
            return self.fc3(tF.relu(self.fc2(tF.relu(self.fc1(x)))))

    class Block(tnn.Module):
        def __init__(self, inplanes, planes, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = tnn.Sequential(
                    tnn.Conv2d(inplanes, planes, 1, stride, bias=False), tnn.BatchNorm2d(planes)
                )

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class ResNet18(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.relu = tnn.ReLU(inplace=True)
            self.maxpool = tnn.Identity()
            widths, inplanes = [64, 128, 256, 512], 64
            for i, w in enumerate(widths):
                stride = 1 if i == 0 else 2
                setattr(
                    self,
                    f"layer{i + 1}",
                    tnn.Sequential(Block(inplanes, w, stride), Block(w, w, 1)),
                )
                inplanes = w
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(512, 10)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    mlp = lambda: tnn.Sequential(tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 10))  # noqa: E731
    return {"mlp": mlp, "lenet": LeNet, "resnet18": ResNet18}


def _jtorch_models():
    from jtorch import nn
    from jtorch.vision import models

    return {
        "mlp": lambda: nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)),
        "lenet": lambda: models.lenet(10, 1),
        "resnet18": lambda: models.resnet18(10, 3, cifar_stem=True),
    }


def _sequence_models(nn, tensor):
    """The recurrent and attention families, written once for torch and jtorch: `nn` and
    `tensor` come from either library, so both sides share module names and weights."""

    class RNNLM(nn.Module):
        """pytorch/examples word_language_model: embedding, 2-layer LSTM/GRU, linear decoder."""

        def __init__(self, kind):
            super().__init__()
            self.encoder = nn.Embedding(VOCAB, 200)
            self.rnn = getattr(nn, kind)(200, 200, 2)
            self.decoder = nn.Linear(200, VOCAB)

        def forward(self, tokens):  # (S, B) -> (S, B, vocab)
            out, _ = self.rnn(self.encoder(tokens))
            return self.decoder(out)

    class TransformerLM(nn.Module):
        """word_language_model's TransformerModel: 2 encoder layers, d_model 200, 2 heads, a
        causal mask, dropout 0."""

        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(VOCAB, 200)
            layer = nn.TransformerEncoderLayer(200, 2, 200, dropout=0.0)
            self.transformer = nn.TransformerEncoder(layer, 2)
            self.decoder = nn.Linear(200, VOCAB)
            position = np.arange(BPTT)[:, None]
            div = np.exp(np.arange(0, 200, 2) * (-np.log(10000.0) / 200))
            pe = np.zeros((BPTT, 1, 200), np.float32)
            pe[:, 0, 0::2], pe[:, 0, 1::2] = np.sin(position * div), np.cos(position * div)
            self.register_buffer("pe", tensor(pe), persistent=False)
            causal = np.triu(np.full((BPTT, BPTT), -np.inf, np.float32), 1)
            self.register_buffer("causal_mask", tensor(causal), persistent=False)

        def forward(self, tokens):
            x = self.encoder(tokens) * float(np.sqrt(200)) + self.pe
            return self.decoder(self.transformer(x, self.causal_mask))

    class SequencePredictor(nn.Module):
        """pytorch/examples time_sequence_prediction: two LSTMCells stepped in a Python loop
        over time; `zeros` is the (B, 51) initial state."""

        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, 51)
            self.lstm2 = nn.LSTMCell(51, 51)
            self.linear = nn.Linear(51, 1)

        def forward(self, series, zeros):  # (B, T) -> (B, T)
            h1 = c1 = h2 = c2 = zeros
            outputs = []
            for t in range(series.shape[1]):
                h1, c1 = self.lstm1(series[:, t : t + 1], (h1, c1))
                h2, c2 = self.lstm2(h1, (h2, c2))
                outputs.append(self.linear(h2)[:, 0])
            return outputs

    class ScannedSequencePredictor(SequencePredictor):
        """The same model with its time loop as `jax.lax.scan` (jtorch's fast form: one traced
        cell instead of 50); torch's side of this case keeps the Python loop it has."""

        def forward(self, series, zeros):
            def step(state, x_t):
                h1, c1, h2, c2 = state
                h1, c1 = self.lstm1(x_t[:, None], (h1, c1))
                h2, c2 = self.lstm2(h1, (h2, c2))
                return (h1, c1, h2, c2), self.linear(h2)[:, 0]

            return jax.lax.scan(step, (zeros,) * 4, series.T)[1]  # (T, B): one row per step

    class AttentionBlock(nn.Module):
        """One self-attention block: MultiheadAttention (batch_first) and a linear projection."""

        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(256, 4, batch_first=True)
            self.proj = nn.Linear(256, 256)

        def forward(self, x):
            out, _ = self.attn(x, x, x, need_weights=False)
            return self.proj(out)

    return {
        "lstm_lm": lambda: RNNLM("LSTM"),
        "gru_lm": lambda: RNNLM("GRU"),
        "transformer_lm": TransformerLM,
        "lstmcell_loop": SequencePredictor,
        "lstmcell_scan": (
            ScannedSequencePredictor if nn.__name__.startswith("jtorch") else SequencePredictor
        ),
        "mha": AttentionBlock,
    }


def _loss(kind, F, out, target):
    """The case's loss on either library (`F` is its nn.functional)."""
    if kind == "ce":
        return F.cross_entropy(out, target)
    if kind == "lm":
        return F.cross_entropy(out.reshape(-1, VOCAB), target)
    if kind == "steps_mse":  # one output per time step
        return sum(F.mse_loss(o, target[:, t]) for t, o in enumerate(out)) / len(out)
    return F.mse_loss(out, target)


class Case(NamedTuple):
    model: str
    inputs: tuple[tuple[tuple[int, ...], str], ...]  # (shape, kind) of each model input
    target: tuple[tuple[int, ...], str] | None  # None: an eval case (forward only)
    loss: str = "ce"
    optimizer: tuple[str, dict] | None = None
    steps: int = 10
    clip: float | None = None


_ADAM = ("Adam", dict(lr=1e-3))
_LM = dict(inputs=(((BPTT, 20), "tokens"),), target=((BPTT * 20,), "tokens"), loss="lm")
CASES = {
    "mlp": Case("mlp", (((128, 784), "normal"),), ((128,), "classes"), optimizer=_ADAM, steps=100),
    "lenet": Case(
        "lenet", (((128, 1, 32, 32), "normal"),), ((128,), "classes"),
        optimizer=("SGD", dict(lr=0.01, momentum=0.9)), steps=20,
    ),
    "resnet18": Case(
        "resnet18", (((64, 3, 32, 32), "normal"),), ((64,), "classes"),
        optimizer=("SGD", dict(lr=0.1, momentum=0.9)), steps=2,
    ),
    "lstm_lm": Case("lstm_lm", **_LM, optimizer=("SGD", dict(lr=20.0)), steps=5, clip=0.25),
    "gru_lm": Case("gru_lm", **_LM, optimizer=("SGD", dict(lr=20.0)), steps=5, clip=0.25),
    "transformer_lm": Case("transformer_lm", **_LM, optimizer=_ADAM, steps=5),
    "lstmcell_loop": Case(
        "lstmcell_loop", (((97, 50), "normal"), ((97, 51), "zeros")), ((97, 50), "normal"),
        loss="steps_mse", optimizer=("Adam", dict(lr=1e-2)), steps=5,
    ),
    "lstmcell_scan": Case(
        "lstmcell_scan", (((97, 50), "normal"), ((97, 51), "zeros")), ((97, 50), "normal"),
        loss="steps_mse", optimizer=("Adam", dict(lr=1e-2)), steps=5,
    ),
    "mha": Case(
        "mha", (((32, 128, 256), "normal"),), ((32, 128, 256), "normal"), loss="mse",
        optimizer=_ADAM, steps=5,
    ),
    "eval_mlp": Case("mlp", (((128, 784), "normal"),), None, steps=100),
    "eval_lenet": Case("lenet", (((128, 1, 32, 32), "normal"),), None, steps=20),
    "eval_resnet18": Case("resnet18", (((64, 3, 32, 32), "normal"),), None, steps=5),
}  # fmt: skip


def _array(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    if kind == "tokens":
        return rng.integers(0, VOCAB, shape).astype(np.int64)
    if kind == "classes":
        return rng.integers(0, 10, shape).astype(np.int64)
    if kind == "zeros":
        return np.zeros(shape, np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def _batch(case: Case) -> tuple[tuple[np.ndarray, ...], np.ndarray | None]:
    rng = np.random.default_rng(0)
    inputs = tuple(_array(rng, shape, kind) for shape, kind in case.inputs)
    return inputs, None if case.target is None else _array(rng, *case.target)


def _torch_model(torch, name: str) -> Any:
    builders = {**_torch_models(torch), **_sequence_models(torch.nn, torch.tensor)}
    return builders[name]()


def _jtorch_model(name: str) -> Any:
    import jtorch

    builders = {**_jtorch_models(), **_sequence_models(jtorch.nn, jtorch.tensor)}
    return builders[name]()


def _torch_worker(conn, name: str, state: dict, inputs, target, threads: int, compiled: bool):
    """One torch reference in its own process, as a PyTorch user runs it: glibc's default malloc,
    no JAX threads; eager, or with the model and the optimizer step under torch.compile. Sends
    the first step's seconds, then answers each requested round with its seconds per step."""
    import torch

    torch.set_num_threads(threads)
    case = CASES[name]
    model = _torch_model(torch, case.model)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    model.train(case.target is not None)
    forward = torch.compile(model) if compiled else model
    tx = tuple(torch.from_numpy(a) for a in inputs)
    if case.target is None:

        def step():
            with torch.no_grad():
                return forward(*tx)

    else:
        opt_name, opt_kwargs = case.optimizer
        opt = getattr(torch.optim, opt_name)(model.parameters(), **opt_kwargs)
        opt_step = torch.compile(opt.step, fullgraph=False) if compiled else opt.step
        ty = torch.from_numpy(target)
        tF = torch.nn.functional

        def step():
            opt.zero_grad()
            loss = _loss(case.loss, tF, forward(*tx), ty)
            loss.backward()
            if case.clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), case.clip)
            opt_step()
            return loss

    t0 = time.perf_counter()
    step()
    conn.send(time.perf_counter() - t0)
    while (steps := conn.recv()) is not None:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        conn.send((time.perf_counter() - t0) / steps)


def _jtorch_step(case: Case, model: Any, donate: bool):
    """jtorch's compiled step for `case`, called as step(inputs, target)."""
    import jtorch
    import jtorch.nn.functional as F
    from jtorch import nn, optim
    from jtorch.nn.utils import clip_grad_norm_
    from jtorch.train import stateful_train_step

    if case.target is None:
        forward = jtorch.jit(lambda m, inputs: m(*inputs))
        return lambda inputs, target: forward(model, inputs)
    opt_name, opt_kwargs = case.optimizer
    opt = getattr(optim, opt_name)(model.parameters(), **opt_kwargs)
    if case.loss == "ce" and case.clip is None:  # the image cases, as `fit` runs them
        step = stateful_train_step(nn.CrossEntropyLoss(), donate=donate)
        return lambda inputs, target: step(model, opt, (inputs[0], target))

    @functools.partial(jtorch.jit, donate=donate)
    def train(model, opt, inputs, target):
        loss_fn = lambda m: _loss(case.loss, F, m(*inputs), target)  # noqa: E731
        loss, grads = jtorch.value_and_grad(loss_fn)(model)
        if case.clip is not None:
            clip_grad_norm_(grads, case.clip)
        opt.step(grads)
        return loss

    return lambda inputs, target: train(model, opt, inputs, target)


def bench_case(
    name: str, steps: int | None, rounds: int, threads: int, refs: list[str], donate: bool = True
) -> dict[str, float]:
    import jtorch

    case = CASES[name]
    steps = steps or case.steps
    inputs, target = _batch(case)

    jtorch.manual_seed(0)
    model = _jtorch_model(case.model).train(case.target is not None)
    state = {k: np.array(v) for k, v in model.state_dict().items()}
    step = _jtorch_step(case, model, donate)
    as_jax = lambda a: jax.numpy.asarray(a.astype(np.int32) if a.dtype == np.int64 else a)  # noqa: E731
    jx = tuple(as_jax(a) for a in inputs)
    jy = None if target is None else as_jax(target)

    def run_jtorch():
        out = None
        for _ in range(steps):
            out = step(jx, jy)
        jax.block_until_ready(out)

    workers = {}
    for ref in refs:
        conn, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(
            target=_torch_worker,
            args=(child, name, state, inputs, target, threads, ref == "compile"),
            daemon=True,
        )
        proc.start()
        workers[ref] = (conn, proc)
    result: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        jax.block_until_ready(step(jx, jy))
        result["jtorch_first_s"] = time.perf_counter() - t0
        for ref, (conn, _) in workers.items():
            result[f"{ref}_first_s"] = conn.recv()
            conn.send(steps)  # warm-up round
            conn.recv()
        best = {"jtorch": float("inf"), **{ref: float("inf") for ref in refs}}
        faults = float("inf")
        for _ in range(rounds):
            faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            run_jtorch()
            best["jtorch"] = min(best["jtorch"], (time.perf_counter() - t0) / steps)
            faults1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            faults = min(faults, (faults1 - faults0) / steps)
            for ref, (conn, _) in workers.items():
                conn.send(steps)
                best[ref] = min(best[ref], conn.recv())
    finally:
        for conn, proc in workers.values():
            conn.send(None)
            proc.join()
    result.update({f"{k}_ms": v * 1e3 for k, v in best.items()})
    result["faults"] = faults
    return result


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--refs", default="eager,compile", help="torch references to run")
    parser.add_argument("--steps", type=int, default=None, help="steps per round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument(
        "--no-donate", action="store_true", help="jtorch step without buffer donation"
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="jtorch's persistent compilation cache in DIR (run twice: cold, then warm first step)",
    )
    args = parser.parse_args(argv)
    if args.cache:
        import jtorch

        jtorch.enable_compilation_cache(args.cache)
    refs = [r for r in args.refs.split(",") if r]
    if any(r not in ("eager", "compile") for r in refs):
        parser.error(f"--refs: expected eager and/or compile, got {args.refs!r}")

    header = f"{'case':<15}{'jtorch ms':>10}"
    for ref in refs:
        header += f"{ref + ' ms':>12}{ref + '/jt':>12}"
    header += f"{'jt first s':>12}" + "".join(f"{r + ' first s':>16}" for r in refs)
    print(header + f"{'faults/step':>13}")
    results = {}
    for name in args.cases.split(","):
        r = bench_case(name, args.steps, args.rounds, args.threads, refs, not args.no_donate)
        results[name] = r
        line = f"{name:<15}{r['jtorch_ms']:>10.2f}"
        for ref in refs:
            line += f"{r[ref + '_ms']:>12.2f}{r[ref + '_ms'] / r['jtorch_ms']:>12.2f}"
        line += f"{r['jtorch_first_s']:>12.2f}"
        line += "".join(f"{r[ref + '_first_s']:>16.2f}" for ref in refs)
        print(line + f"{r['faults']:>13.0f}", flush=True)
    return results


if __name__ == "__main__":
    main()
