"""Train/eval steps: compiled equals eager, functional equals stateful, accumulation, clipping,
mixed precision, metrics against scikit-learn, and a short fit on Digits."""

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn, optim
from jtorch.train import (
    TrainState,
    batch_metrics,
    classification_report,
    confusion_matrix,
    make_train_step,
    stateful_train_step,
    train_step_body,
)

RTOL = 1e-5  # float32, same maths in a different program order


def mlp(seed=0, dropout=0.0):
    jtorch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def data(n=32, seed=1):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((n, 6)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 3, n), jnp.int32)
    return x, y


def assert_same_params(a, b, rtol=RTOL):
    for (k, u), v in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=rtol, atol=1e-7, err_msg=k)


def test_compiled_step_equals_eager_body():
    criterion = nn.CrossEntropyLoss()
    eager, compiled = mlp(), mlp()
    opt_e = optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    opt_c = optim.SGD(compiled.parameters(), lr=0.1, momentum=0.9)
    step = stateful_train_step(criterion)
    batch = data()
    for _ in range(2):
        m_e = train_step_body(eager, opt_e, batch, loss_fn=criterion)
        m_c = step(compiled, opt_c, batch)
    np.testing.assert_allclose(m_e["loss_sum"], m_c["loss_sum"], rtol=RTOL)
    assert_same_params(eager, compiled)


def test_functional_step_equals_stateful_step():
    criterion = nn.CrossEntropyLoss()
    a, b = mlp(), mlp()
    opt_a = optim.SGD(a.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    opt_b = optim.SGD(b.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    stateful = stateful_train_step(criterion)
    functional = make_train_step(b, opt_b, criterion)
    state = TrainState.create(b, opt_b)
    for seed in range(4):
        batch = data(seed=seed)
        stateful(a, opt_a, batch)
        state, metrics = functional(state, batch)
    assert int(state.step) == 4 and metrics["loss_sum"].shape == ()
    state.apply_to(b, opt_b)
    assert_same_params(a, b, rtol=0)  # the same compiled body: bit-identical


def test_gradient_accumulation_equals_one_large_batch():
    criterion = nn.CrossEntropyLoss()
    whole, accum = mlp(), mlp()
    opt_w = optim.SGD(whole.parameters(), lr=0.1)
    opt_a = optim.SGD(accum.parameters(), lr=0.1)
    batch = data(n=32)
    stateful_train_step(criterion)(whole, opt_w, batch)
    metrics = stateful_train_step(criterion, grad_accum_steps=4)(accum, opt_a, batch)
    assert float(metrics["count"]) == 32
    assert_same_params(whole, accum)
    with pytest.raises(ValueError, match="grad_accum_steps=5 must divide"):
        stateful_train_step(criterion, grad_accum_steps=5)(accum, opt_a, batch)


def test_dropout_is_active_in_train_step_and_off_in_eval():
    model = mlp(dropout=0.5)
    x, _ = data()
    run = jtorch.jit(lambda m, x: m(x))
    model.train()
    assert not np.array_equal(np.asarray(run(model, x)), np.asarray(run(model, x)))
    model.eval()
    np.testing.assert_array_equal(np.asarray(run(model, x)), np.asarray(run(model, x)))


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (3,), (2, 2, 2)]]
    for max_norm, norm_type in [(1.0, 2.0), (0.5, 1.0), (2.0, float("inf")), (100.0, 2.0)]:
        params = [torch.nn.Parameter(torch.zeros(a.shape)) for a in arrays]
        for p, a in zip(params, arrays):
            p.grad = torch.tensor(a)
        t_total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        grads = jtorch.Grads([(str(i), jnp.asarray(a)) for i, a in enumerate(arrays)])
        j_total = nn.utils.clip_grad_norm_(grads, max_norm, norm_type)
        np.testing.assert_allclose(j_total, t_total.numpy(), rtol=1e-6)
        for p, g in zip(params, grads.values()):
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-6, atol=1e-8)
    params = [torch.nn.Parameter(torch.zeros(a.shape)) for a in arrays]
    for p, a in zip(params, arrays):
        p.grad = torch.tensor(a)
    torch.nn.utils.clip_grad_value_(params, 0.3)
    grads = jtorch.Grads([(str(i), jnp.asarray(a)) for i, a in enumerate(arrays)])
    nn.utils.clip_grad_value_(grads, 0.3)
    for p, g in zip(params, grads.values()):
        np.testing.assert_array_equal(g, p.grad.numpy())


def test_clipping_inside_the_step_reports_the_norm():
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    metrics = stateful_train_step(nn.CrossEntropyLoss(), clip_grad_norm=1e-3)(model, opt, data())
    assert float(metrics["grad_norm"]) > 1e-3


def test_bfloat16_compute_keeps_float32_parameters():
    criterion = nn.CrossEntropyLoss()
    f32, bf16 = mlp(), mlp()
    opt32 = optim.SGD(f32.parameters(), lr=0.1)
    opt16 = optim.SGD(bf16.parameters(), lr=0.1)
    batch = data()
    m32 = stateful_train_step(criterion)(f32, opt32, batch)
    m16 = stateful_train_step(criterion, compute_dtype=jnp.bfloat16)(bf16, opt16, batch)
    assert all(p.value.dtype == jnp.float32 for p in bf16.parameters())
    np.testing.assert_allclose(m16["loss_sum"], m32["loss_sum"], rtol=2e-2)  # bf16: 8-bit mantissa
    assert_same_params(f32, bf16, rtol=5e-2)


def test_metrics_match_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 4, 200)
    scores = rng.standard_normal((200, 4)) + np.eye(4)[targets] * 1.5
    preds = scores.argmax(1)
    cm = confusion_matrix(jnp.asarray(preds), jnp.asarray(targets), 4)
    np.testing.assert_array_equal(cm, sklearn_metrics.confusion_matrix(targets, preds))
    names = ["zero", "one", "two", "three"]
    for digits in (2, 4):
        assert classification_report(cm, names, digits=digits) == (
            sklearn_metrics.classification_report(targets, preds, target_names=names, digits=digits)
        )
    m = batch_metrics(jnp.asarray(scores), jnp.asarray(targets), topk=(1, 2))
    assert float(m["top1_correct"]) == (preds == targets).sum()
    top2 = np.argsort(-scores, 1)[:, :2]
    assert float(m["top2_correct"]) == (top2 == targets[:, None]).any(1).sum()


def test_short_fit_on_digits_improves_accuracy(tmp_path):
    from jtorch.train import evaluate, fit
    from jtorch.utils.data import DataLoader
    from jtorch.vision.datasets import Digits

    jtorch.manual_seed(0)
    train = DataLoader(Digits(train=True), batch_size=64, shuffle=True)
    test = DataLoader(Digits(train=False), batch_size=128)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    criterion = nn.CrossEntropyLoss()
    before = evaluate(model, test, criterion)["accuracy"]
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = fit(
        model,
        optimizer,
        criterion,
        train,
        test,
        epochs=3,
        progress=False,
        plot=str(tmp_path / "curves.png"),
    )
    after = evaluate(model, test, criterion, num_classes=10)
    assert len(history["train_loss"]) == 3 and history["train_loss"][-1] < history["train_loss"][0]
    assert after["accuracy"] > max(0.85, before + 0.5)
    assert "weighted avg" in after["report"] and (tmp_path / "curves.png").stat().st_size > 0


def test_global_draws_in_accumulated_micro_batches_are_fresh_per_micro_batch():
    """jtorch.randn inside the forward: each of the k micro-batches (one lax.scan body) gets its
    own key, so the noise added to identical inputs differs between micro-batches."""
    from jtorch.train.step import _accumulated_grads

    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x) + jtorch.randn_like(x)

    def loss_fn(out, y):
        return jnp.mean(out)

    model, batch = Noisy(), (jnp.zeros((4, 3)), jnp.zeros(4, jnp.int32))
    step = stateful_train_step(loss_fn, grad_accum_steps=2, donate=False)
    assert np.isfinite(float(step(model, optim.SGD(model.parameters(), lr=0.1), batch)["loss_sum"]))
    outputs = jtorch.jit(lambda m, b: _accumulated_grads(m, b, loss_fn, 2, None)[1])(model, batch)
    assert outputs.shape == (4, 3) and not np.allclose(outputs[:2], outputs[2:])
