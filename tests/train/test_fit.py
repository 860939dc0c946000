"""fit: checkpoint saving and resuming, early stopping, callbacks, schedulers."""

import numpy as np

import jtorch
from jtorch import nn, optim
from jtorch.checkpoint import CheckpointManager
from jtorch.train import fit
from jtorch.utils.data import DataLoader, TensorDataset


def loaders(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((96, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    data = TensorDataset(x, y)
    return DataLoader(data, batch_size=32, shuffle=True), DataLoader(data, batch_size=48)


def model_and_optimizer():
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    return model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def test_checkpoints_every_epoch_and_resumes_from_the_latest(tmp_path):
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    manager = CheckpointManager(tmp_path / "ckpt", best_metric="val_loss")
    history = fit(
        model,
        optimizer,
        nn.CrossEntropyLoss(),
        train,
        val,
        epochs=2,
        checkpoint=manager,
        progress=False,
    )
    assert manager.all_steps() == [1, 2] and len(history["train_loss"]) == 2
    saved = {k: np.array(v) for k, v in model.state_dict().items()}
    saved_momentum = np.array(optimizer.state_dict()["state"][0]["momentum_buffer"])

    fresh_model, fresh_optimizer = model_and_optimizer()
    seen = []
    resumed = fit(
        fresh_model,
        fresh_optimizer,
        nn.CrossEntropyLoss(),
        train,
        val,
        epochs=3,
        checkpoint=manager,
        resume=True,
        progress=False,
        callbacks=[lambda epoch, logs: seen.append(epoch)],
    )
    assert seen == [2]  # only the third epoch ran
    assert resumed["train_loss"][:2] == history["train_loss"]
    assert len(resumed["val_loss"]) == 3 and manager.latest_step() == 3
    # the resumed run started from exactly the saved arrays
    restored_model, restored_optimizer = model_and_optimizer()
    manager.restore(2, model=restored_model, optimizer=restored_optimizer)
    for k, v in restored_model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v), saved[k])
    np.testing.assert_array_equal(
        np.asarray(restored_optimizer.state_dict()["state"][0]["momentum_buffer"]), saved_momentum
    )


def test_early_stopping_and_callbacks_stop_training():
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    optimizer.param_groups[0]["lr"] = 0.0  # nothing improves after the first epoch
    history = fit(
        model,
        optimizer,
        nn.CrossEntropyLoss(),
        train,
        val,
        epochs=10,
        early_stopping_patience=2,
        progress=False,
    )
    assert len(history["train_loss"]) == 3
    model, optimizer = model_and_optimizer()
    history = fit(
        model,
        optimizer,
        nn.CrossEntropyLoss(),
        train,
        epochs=10,
        progress=False,
        callbacks=[lambda epoch, logs: epoch == 1],
    )
    assert len(history["train_loss"]) == 2


def test_scheduler_steps_once_per_epoch():
    train, _ = loaders()
    model, optimizer = model_and_optimizer()
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(
        model,
        optimizer,
        nn.CrossEntropyLoss(),
        train,
        epochs=3,
        scheduler=scheduler,
        progress=False,
    )
    np.testing.assert_allclose(history["lr"], [0.1, 0.05, 0.025])
    assert optimizer.param_groups[0]["lr"] == 0.0125


def test_a_distributed_sampler_is_told_each_epoch_resumed_runs_included(tmp_path):
    """As torch's loops call `sampler.set_epoch(epoch)`: each epoch shuffles its own order, and a
    run resumed at epoch 2 sees epoch 2's order, not epoch 0's again."""
    from jtorch.utils.data import DistributedSampler

    class Recording(DistributedSampler):
        def set_epoch(self, epoch):
            epochs.append(epoch)
            super().set_epoch(epoch)

    epochs = []
    train, val = loaders()
    sampler = Recording(train.dataset, num_replicas=1, rank=0, shuffle=True)
    train = DataLoader(train.dataset, batch_size=32, sampler=sampler)
    manager = CheckpointManager(tmp_path / "ckpt")
    model, optimizer = model_and_optimizer()
    loss, options = nn.CrossEntropyLoss(), {"checkpoint": manager, "progress": False}
    fit(model, optimizer, loss, train, val, epochs=2, **options)
    assert epochs == [0, 1]
    model, optimizer = model_and_optimizer()
    fit(model, optimizer, loss, train, val, epochs=3, resume=True, **options)
    assert epochs == [0, 1, 2]
