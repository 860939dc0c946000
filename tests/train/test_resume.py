"""Bit-exact resume: a run checkpointed at step k and resumed in a fresh process ends with the same
parameters as an uninterrupted run (Adam, StepLR, Dropout(0.5), global draws inside the step)."""

import runpy
import subprocess
import sys

import numpy as np

SCRIPT = '''
import sys

import jax.numpy as jnp
import numpy as np

import jtorch
import jtorch.nn.functional as F
from jtorch import nn, optim
from jtorch.checkpoint import CheckpointManager
from jtorch.train import fit
from jtorch.utils.data import DataLoader, TensorDataset

STEPS, K = 6, 3


def build():
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    return model, optimizer, optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)


@jtorch.jit
def train_step(model, optimizer, x, y):
    def loss_fn(m):
        noisy = x + 0.1 * jtorch.randn_like(x)  # the global generator inside the step
        return F.cross_entropy(m(noisy), y)

    loss, grads = jtorch.value_and_grad(loss_fn)(model)
    optimizer.step(grads)
    return loss


def train(model, optimizer, scheduler, start, stop):
    for _ in range(start, stop):
        x = jtorch.randn(8, 5)  # and outside it
        train_step(model, optimizer, x, (x[:, 0] > 0).astype(jnp.int32))
        scheduler.step()


def loader():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 5)).astype(np.float32)
    data = TensorDataset(x, (x[:, 0] > 0).astype(np.int32))
    return DataLoader(data, batch_size=16, shuffle=True)


def run_fit(model, optimizer, scheduler, epochs, directory, resume):
    manager = CheckpointManager(directory)
    fit(model, optimizer, nn.CrossEntropyLoss(), loader(), epochs=epochs, scheduler=scheduler,
        checkpoint=manager, resume=resume, progress=False)
    manager.close()


def params(model):
    return {k: np.asarray(v) for k, v in model.state_dict().items()}


def phase(name, directory):
    """Run one phase and return the final parameters."""
    model, optimizer, scheduler = build()
    if name == "uninterrupted":
        train(model, optimizer, scheduler, 0, STEPS)
    elif name == "first":
        train(model, optimizer, scheduler, 0, K)
        with CheckpointManager(directory + "/manual") as manager:
            manager.save(K, model, optimizer, extra={"scheduler": scheduler.state_dict()})
    elif name == "resume":
        with CheckpointManager(directory + "/manual") as manager:
            restored = manager.restore("latest", model=model, optimizer=optimizer)
        scheduler.load_state_dict(restored["extra"]["scheduler"])
        train(model, optimizer, scheduler, K, STEPS)
    elif name == "fit_uninterrupted":
        run_fit(model, optimizer, scheduler, 2, directory + "/fit_full", resume=False)
    elif name == "fit_first":
        run_fit(model, optimizer, scheduler, 1, directory + "/fit", resume=False)
    elif name == "fit_resume":
        run_fit(model, optimizer, scheduler, 2, directory + "/fit", resume=True)
    return params(model)


if __name__ == "__main__":
    directory = sys.argv[1]
    for name in sys.argv[2:]:
        np.savez(f"{directory}/{name}.npz", **phase(name, directory))
    print(jtorch.func.functional_call.__name__)  # `import jtorch` alone provides jtorch.func
'''


def test_resume_in_a_fresh_process_is_bit_identical(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    phase = runpy.run_path(str(script))["phase"]
    expected = {
        "resume": phase("uninterrupted", str(tmp_path)),
        "fit_resume": phase("fit_uninterrupted", str(tmp_path)),
    }
    for name in ("first", "fit_first"):
        phase(name, str(tmp_path))
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), "resume", "fit_resume"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("functional_call")
    for name, want in expected.items():
        got = np.load(tmp_path / f"{name}.npz")
        assert sorted(got.files) == sorted(want)
        for key, value in want.items():
            np.testing.assert_array_equal(got[key], value, err_msg=f"{name}: {key}")
