"""Scripts from pytorch/examples ported into examples/, each run beside its torch original.

The original is the example's own source with its `jtorch` imports turned back into `torch`
(`import jtorch as torch` -> `import torch`, `jtorch.nn` -> `torch.nn`, ...), so both sides run
the same model code; the torch side takes the original's step (`zero_grad`, forward, `backward`,
`step`), the jtorch side the port's compiled `train_step`. Same initial weights (torch's
state_dict loaded into the port), same batches, several steps: losses compared every step and
every parameter and buffer at the end, at the tolerance each test states (float32 compounding
over the steps).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_TORCH_IMPORTS = [
    (r"^import jtorch as torch$", "import torch"),
    (r"^import jtorch\.(nn|optim)(\S*) as (\w+)$", r"import torch.\1\2 as \3"),
    (r"^from jtorch\.(nn|optim)(\S*) import ", r"from torch.\1\2 import "),
    (r"^from jtorch import (nn|optim)$", r"from torch import \1"),
]


def _port(name: str) -> types.ModuleType:
    """examples/<name>.py as imported (registered as `examples_<name>`)."""
    module_name = f"examples_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def _original(name: str) -> types.ModuleType:
    """The same source with torch's imports: the original script's model code on real torch."""
    source = (EXAMPLES / f"{name}.py").read_text()
    for pattern, repl in _TORCH_IMPORTS:
        source = re.sub(pattern, repl, source, flags=re.M)
    assert "import torch\n" in source, f"{name}: no `import jtorch as torch` line to turn back"
    module = types.ModuleType(f"torch_original_{name}")
    exec(compile(source, f"<torch original of {name}>", "exec"), module.__dict__)
    return module


def _same_weights(model_t, model_j):
    missing, unexpected = model_j.load_state_dict(model_t.state_dict())
    assert not missing and not unexpected


def _t(x):
    return torch.from_numpy(np.array(x))


def _compare_state(model_t, model_j, rtol, atol):
    sd_t, sd_j = model_t.state_dict(), model_j.state_dict()
    assert list(sd_t) == list(sd_j)
    for key, value in sd_t.items():
        np.testing.assert_allclose(
            np.asarray(sd_j[key]), value.detach().numpy(), rtol, atol, err_msg=key
        )


def _digits_batches(port, n_batches, batch_size, transform=None):
    data = port.datasets.Digits(train=True, transform=transform)
    loader = port.torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    return [batch for _, batch in zip(range(n_batches), loader)]


def test_mnist_matches_torch():
    """mnist/main.py: Net + Adadelta(lr=1) + StepLR(gamma=0.7), 4 steps of 16 Digits images at
    28x28, dropout p set to 0 on both sides (its masks come from different generators).
    Tolerance: losses rtol 1e-4; parameters rtol 1e-3, atol 1e-5 (Adadelta's step is lr=1)."""
    port, orig = _port("mnist"), _original("mnist")
    torch.manual_seed(0)
    model_t, model_j = orig.Net(), port.Net()
    _same_weights(model_t, model_j)
    for m in (model_t, model_j):
        m.dropout1.p = m.dropout2.p = 0.0
        m.train()
    opt_t = orig.optim.Adadelta(model_t.parameters(), lr=1.0)
    opt_j = port.optim.Adadelta(model_j.parameters(), lr=1.0)
    sched_t, sched_j = orig.StepLR(opt_t, step_size=1, gamma=0.7), port.StepLR(opt_j, 1, 0.7)
    transform = port.transforms.Compose(
        [port.transforms.Resize(28), port.transforms.Normalize((0.1307,), (0.3081,))]
    )
    for i, (data, target) in enumerate(_digits_batches(port, 4, 16, transform)):
        opt_t.zero_grad()  # the original's step
        output = model_t(_t(data))
        loss_t = orig.F.nll_loss(output, _t(target).long())
        loss_t.backward()
        opt_t.step()
        loss_j = port.train_step(model_j, opt_j, data, target)
        np.testing.assert_allclose(float(loss_j), loss_t.item(), rtol=1e-4, err_msg=f"step {i}")
        if i == 1:
            sched_t.step()
            sched_j.step()
    _compare_state(model_t, model_j, 1e-3, 1e-5)
    model_t.eval()
    model_j.eval()
    x = _digits_batches(port, 1, 8, transform)[0][0]
    with torch.no_grad():
        np.testing.assert_allclose(
            np.asarray(model_j(x)), model_t(_t(x)).numpy(), rtol=1e-3, atol=1e-4
        )


def test_ported_examples_change_only_imports_and_the_step():
    """Each port's docstring states how many lines it changed beyond imports and the step."""
    for path in sorted(EXAMPLES.glob("*.py")):
        text = path.read_text()
        if "ported to jtorch" in text.split('"""')[1]:
            assert re.search(r"Lines changed beyond imports and the step: \d+", text), path.name
            assert re.search(r"^import jtorch as torch$", text, re.M), path.name


def test_regression_matches_torch():
    """regression/main.py: make_features/f on the same random x, then 20 steps of smooth-L1 with
    the original's manual update `param.data.add_(-0.1 * param.grad)` vs the port's SGD(lr=0.1).
    Tolerance: features and targets rtol 1e-5; losses and parameters rtol 1e-4, atol 1e-5."""
    port, orig = _port("regression"), _original("regression")
    orig.W_target = torch.randn(4, 1) * 5
    orig.b_target = torch.randn(1) * 5
    port.W_target = port.torch.tensor(orig.W_target.numpy())
    port.b_target = port.torch.tensor(orig.b_target.numpy())
    fc_t, fc_j = torch.nn.Linear(orig.W_target.size(0), 1), port.torch.nn.Linear(4, 1)
    _same_weights(fc_t, fc_j)
    optimizer = port.torch.optim.SGD(fc_j.parameters(), lr=0.1)
    for i in range(20):
        r = np.random.default_rng(i).standard_normal(32).astype(np.float32)
        batch_x = orig.make_features(_t(r))
        batch_y = orig.f(batch_x)
        x_j = port.make_features(port.torch.tensor(r))
        y_j = port.f(x_j)
        np.testing.assert_allclose(np.asarray(x_j), batch_x.numpy(), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(y_j), batch_y.numpy(), rtol=1e-5)
        fc_t.zero_grad()  # the original's step
        output = orig.F.smooth_l1_loss(fc_t(batch_x), batch_y)
        output.backward()
        for param in fc_t.parameters():
            param.data.add_(-0.1 * param.grad)
        loss_j = port.train_step(fc_j, optimizer, x_j, y_j)
        np.testing.assert_allclose(float(loss_j), output.item(), rtol=1e-4, err_msg=f"step {i}")
    _compare_state(fc_t, fc_j, 1e-4, 1e-5)
    assert port.poly_desc(fc_j.weight.view(-1), fc_j.bias) == orig.poly_desc(
        fc_t.weight.view(-1), fc_t.bias
    )


def test_mnist_rnn_matches_torch():
    """mnist_rnn/main.py: LSTM + BatchNorm1d (training mode: batch statistics and running
    averages) + Adadelta(lr=1), 3 steps of 16 Digits images at 28x28, dropout p set to 0.
    Tolerance: losses rtol 1e-4; parameters and BatchNorm buffers rtol 1e-3, atol 1e-5."""
    port, orig = _port("mnist_rnn"), _original("mnist_rnn")
    torch.manual_seed(0)
    model_t, model_j = orig.Net(), port.Net()
    _same_weights(model_t, model_j)
    for m in (model_t, model_j):
        m.dropout1.p = m.dropout2.p = 0.0
        m.train()
    opt_t = orig.optim.Adadelta(model_t.parameters(), lr=1.0)
    opt_j = port.optim.Adadelta(model_j.parameters(), lr=1.0)
    transform = port.transforms.Compose(
        [port.transforms.Resize(28), port.transforms.Normalize((0.1307,), (0.3081,))]
    )
    for i, (data, target) in enumerate(_digits_batches(port, 3, 16, transform)):
        opt_t.zero_grad()  # the original's step
        output = model_t(_t(data))
        loss_t = orig.F.nll_loss(output, _t(target).long())
        loss_t.backward()
        opt_t.step()
        loss_j = port.train_step(model_j, opt_j, data, target)
        np.testing.assert_allclose(float(loss_j), loss_t.item(), rtol=1e-4, err_msg=f"step {i}")
    _compare_state(model_t, model_j, 1e-3, 1e-5)


def test_super_resolution_matches_torch():
    """super_resolution: the sub-pixel CNN (upscale 2) + Adam(lr=0.01) + MSE, 3 steps of 8 Digits
    pairs from the port's get_training_set. Tolerance: losses rtol 1e-4; parameters rtol 1e-3,
    atol 1e-5."""
    port, orig = _port("super_resolution"), _original("super_resolution")
    torch.manual_seed(0)
    model_t, model_j = orig.Net(upscale_factor=2), port.Net(upscale_factor=2)
    _same_weights(model_t, model_j)
    criterion_t, criterion_j = orig.nn.MSELoss(), port.nn.MSELoss()
    opt_t = orig.optim.Adam(model_t.parameters(), lr=0.01)
    opt_j = port.optim.Adam(model_j.parameters(), lr=0.01)
    loader = port.DataLoader(dataset=port.get_training_set(2), batch_size=8, shuffle=False)
    for i, (input, target) in zip(range(3), loader):
        assert input.shape == (8, 1, 8, 8) and target.shape == (8, 1, 16, 16)
        opt_t.zero_grad()  # the original's step
        loss_t = criterion_t(model_t(_t(input)), _t(target))
        loss_t.backward()
        opt_t.step()
        loss_j = port.train_step(model_j, opt_j, criterion_j, input, target)
        np.testing.assert_allclose(float(loss_j), loss_t.item(), rtol=1e-4, err_msg=f"step {i}")
    _compare_state(model_t, model_j, 1e-3, 1e-5)


def test_word_language_model_matches_torch(monkeypatch):
    """word_language_model: the 2-layer LSTM RNNModel (emsize=nhid=16) on the synthetic corpus,
    batchify/get_batch/repackage_hidden from the script, 4 steps of truncated BPTT (bptt 6, batch
    4) with clip_grad_norm_(0.25) and the original's manual update `p.data.add_(p.grad,
    alpha=-lr)` (lr 20) vs the port's SGD; dropout 0. Tolerance: losses rtol 1e-4; parameters
    and the carried hidden state rtol 1e-3, atol 1e-5."""
    argv = ["word_language_model.py", "--emsize", "16", "--nhid", "16", "--bptt", "6"]
    argv += ["--batch_size", "4", "--dropout", "0", "--lr", "20", "--clip", "0.25"]
    monkeypatch.setattr(sys, "argv", argv)
    port, orig = _port("word_language_model"), _original("word_language_model")
    np.testing.assert_array_equal(np.asarray(port.train_data), orig.train_data.numpy())
    model_t, model_j = orig.model, port.model
    _same_weights(model_t, model_j)
    model_t.train()
    model_j.train()
    hidden_t, hidden_j = model_t.init_hidden(4), model_j.init_hidden(4)
    for batch, i in enumerate(range(0, 4 * 6, 6)):
        data, targets = orig.get_batch(orig.train_data, i)
        model_t.zero_grad()  # the original's step
        hidden_t = orig.repackage_hidden(hidden_t)
        output, hidden_t = model_t(data, hidden_t)
        loss = orig.criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model_t.parameters(), 0.25)
        for p in model_t.parameters():
            p.data.add_(p.grad, alpha=-20)
        data_j, targets_j = port.get_batch(port.train_data, i)
        hidden_j = port.repackage_hidden(hidden_j)
        loss_j, hidden_j = port.train_step(model_j, port.optimizer, data_j, targets_j, hidden_j)
        np.testing.assert_allclose(float(loss_j), loss.item(), rtol=1e-4, err_msg=f"batch {batch}")
    _compare_state(model_t, model_j, 1e-3, 1e-5)
    for h_t, h_j in zip(hidden_t, hidden_j):
        np.testing.assert_allclose(np.asarray(h_j), h_t.detach().numpy(), rtol=1e-3, atol=1e-5)


def test_gat_matches_torch():
    """gat/main.py: GAT (hidden 8, 2 heads, averaged) + Adam(lr=0.005, weight_decay=5e-4) +
    NLLLoss on a 40-node synthetic graph from the port's load_cora, 4 steps on a training mask,
    dropout 0 (F.dropout in training mode needs a key in jtorch). Also the script's `test()`.
    Tolerance: losses rtol 1e-4; parameters rtol 1e-3, atol 1e-5."""
    port, orig = _port("gat"), _original("gat")
    features, labels, adj_mat = port.load_cora(n_nodes=40, n_features=12, n_classes=3)
    feats_t, labels_t, adj_t = orig.load_cora(n_nodes=40, n_features=12, n_classes=3)
    np.testing.assert_allclose(np.asarray(features), feats_t.numpy(), rtol=1e-6)
    torch.manual_seed(0)
    kwargs = dict(in_features=12, n_hidden=8, n_heads=2, num_classes=3, dropout=0.0)
    model_t, model_j = orig.GAT(**kwargs), port.GAT(**kwargs)
    _same_weights(model_t, model_j)
    opt_t = orig.Adam(model_t.parameters(), lr=0.005, weight_decay=5e-4)
    opt_j = port.Adam(model_j.parameters(), lr=0.005, weight_decay=5e-4)
    criterion_t, criterion_j = orig.nn.NLLLoss(), port.nn.NLLLoss()
    mask = np.arange(10, 40)
    for i in range(4):
        model_t.train()  # the original's step
        opt_t.zero_grad()
        output = model_t(*(feats_t, adj_t))
        loss_t = criterion_t(output[_t(mask)], labels_t[_t(mask)])
        loss_t.backward()
        opt_t.step()
        model_j.train()
        loss_j = port.train_step(
            model_j, opt_j, criterion_j, (features, adj_mat), labels, port.torch.tensor(mask)
        )
        np.testing.assert_allclose(float(loss_j), loss_t.item(), rtol=1e-4, err_msg=f"step {i}")
    _compare_state(model_t, model_j, 1e-3, 1e-5)
    got = port.test(model_j, criterion_j, (features, adj_mat), labels, port.torch.tensor(mask))
    want = orig.test(model_t, criterion_t, (feats_t, adj_t), labels_t, _t(mask))
    np.testing.assert_allclose(got, want, rtol=1e-3)
