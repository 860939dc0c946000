"""A Python loop over time (`for t in range(T): h = cell(x[t], h)`) in a compiled step, and its
fast form: the same cell under `jax.lax.scan`, which traces the cell once instead of T times.

Both forms of pytorch/examples' time_sequence_prediction model (two LSTMCells and a Linear,
stepped over the series) train three compiled SGD steps from torch's weights and must match
torch's Python loop: losses and every parameter at rtol 1e-4, atol 1e-6 (float32; the cell's
matmuls reduce in another order; SGD, not Adam, whose normalised update turns rounding in
near-zero gradients into full-size steps). The two jtorch forms agree to rtol 1e-5.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
from jtorch import nn, optim  # noqa: E402

B, T, H, STEPS = 5, 12, 16, 3


def predictor(lib, scanned=False):
    class Predictor(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = lib.nn.LSTMCell(1, H)
            self.lstm2 = lib.nn.LSTMCell(H, H)
            self.linear = lib.nn.Linear(H, 1)

        def step(self, state, x_t):  # x_t: (B, 1)
            h1, c1, h2, c2 = state
            h1, c1 = self.lstm1(x_t, (h1, c1))
            h2, c2 = self.lstm2(h1, (h2, c2))
            return (h1, c1, h2, c2), self.linear(h2)[:, 0]

        def forward(self, series):  # (B, T) -> (B, T)
            zeros = lib.zeros(series.shape[0], H)
            state = (zeros,) * 4
            if scanned:  # one traced step, looped by XLA: x over time is scan's leading axis
                _, outputs = jax.lax.scan(self.step, state, series.T[:, :, None])
                return outputs.T
            outputs = []
            for t in range(series.shape[1]):
                state, y = self.step(state, series[:, t : t + 1])
                outputs.append(y)
            return lib.stack(outputs, 1)

    return Predictor()


def series():
    rng = np.random.default_rng(0)
    x = np.sin(np.linspace(0, 6, B * (T + 1))).reshape(B, T + 1) + 0.1 * rng.standard_normal(
        (B, T + 1)
    )
    return x[:, :-1].astype(np.float32), x[:, 1:].astype(np.float32)


def torch_run(model):
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = map(torch.from_numpy, series())
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


@jtorch.jit
def train_step(model, opt, x, y):
    loss, grads = jtorch.value_and_grad(lambda m: nn.functional.mse_loss(m(x), y))(model)
    opt.step(grads)
    return loss


def jtorch_run(model):
    opt = optim.SGD(model.parameters(), lr=0.5)
    x, y = map(jnp.asarray, series())
    return np.array([float(train_step(model, opt, x, y)) for _ in range(STEPS)])


@pytest.fixture(scope="module")
def runs():
    torch.manual_seed(0)
    reference = predictor(torch)
    weights = {k: v.clone() for k, v in reference.state_dict().items()}
    out = {"torch": (torch_run(reference), reference.state_dict())}
    for scanned in (False, True):
        model = predictor(jtorch, scanned)
        model.load_state_dict(weights)
        out[scanned] = (jtorch_run(model), model.state_dict())
    return out


@pytest.mark.parametrize("scanned", [False, True], ids=["python_loop", "lax_scan"])
def test_matches_torch_python_loop(runs, scanned):
    want_losses, want_state = runs["torch"]
    losses, state = runs[scanned]
    np.testing.assert_allclose(losses, want_losses, rtol=1e-4, atol=1e-6)
    assert list(state) == list(want_state)
    for key, value in want_state.items():
        np.testing.assert_allclose(
            np.asarray(state[key]), value.numpy(), rtol=1e-4, atol=1e-6, err_msg=key
        )


def test_scan_and_python_loop_agree(runs):
    np.testing.assert_allclose(runs[True][0], runs[False][0], rtol=1e-5)
    for key, value in runs[False][1].items():
        np.testing.assert_allclose(runs[True][1][key], value, rtol=1e-5, atol=1e-7, err_msg=key)


def test_scan_traces_the_cell_once():
    """The loop's program grows with T (one cell per step); scan's holds one cell."""

    def cell_calls(scanned):
        model = predictor(jtorch, scanned)
        x = jnp.zeros((B, T))
        text = jax.jit(lambda m, s: m(s)).lower(model, x).as_text()
        return text.count("stablehlo.logistic")  # sigmoid gates: 3 per LSTMCell call

    assert cell_calls(False) == T * cell_calls(True)
