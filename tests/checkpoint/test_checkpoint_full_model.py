"""Full-model saves (torch.save(model)): structure and state come back without constructing the
model, after surgery, in a fresh process; unknown classes give the seed's clear error.
Outputs are compared exactly with the original model's."""

import sys
import textwrap

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn
from jtorch.checkpoint import CheckpointError

MODELS = textwrap.dedent(
    """
    import jax.numpy as jnp
    import jtorch.nn.functional as F
    from jtorch import nn

    class TinyVGG(nn.Module):
        def __init__(self, num_classes=5):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            self.classifier = nn.Sequential(
                nn.Linear(4 * 4 * 4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, num_classes)
            )
            self.act = F.relu
            self.kernel = (3, 3)
            self.register_buffer("scale", jnp.full((1,), 2.0), persistent=False)
            self.register_parameter("unused", None)

        def forward(self, x):
            x = self.features(x).reshape(x.shape[0], -1)
            return self.act(self.classifier(x)) * self.scale
    """
)


@pytest.fixture
def models_module(tmp_path, monkeypatch):
    (tmp_path / "tiny_models.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    import tiny_models

    yield tiny_models
    sys.modules.pop("tiny_models", None)


def test_full_model_after_surgery_reloads_in_a_fresh_process(tmp_path, models_module, python):
    jtorch.manual_seed(0)
    model = models_module.TinyVGG()
    model.classifier[3] = nn.Linear(16, 10)  # seed 003: replace the last layer
    model.classifier.add_module("add_linear", nn.Linear(10, 3))  # and append one
    model.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.asarray(model(jnp.asarray(x))))
    (tmp_path / "repr.txt").write_text(repr(model))
    jtorch.save(model, tmp_path / "model_full")
    from jtorch.vision import models

    jtorch.save(models.lenet(), tmp_path / "lenet_full")

    # in this process
    loaded = jtorch.load(tmp_path / "model_full")
    assert type(loaded) is models_module.TinyVGG and repr(loaded) == repr(model)
    assert list(loaded.state_dict()) == list(model.state_dict())
    assert loaded.act is model.act and loaded.kernel == (3, 3) and loaded.training is False
    assert "scale" not in loaded.state_dict() and float(loaded.scale.value[0]) == 2.0
    np.testing.assert_array_equal(np.asarray(loaded(jnp.asarray(x))), np.load(tmp_path / "y.npy"))

    # in a fresh process that never constructs the model
    code = """
import sys, numpy as np, jax.numpy as jnp, jtorch
import tiny_models  # jtorch.load never imports the module a checkpoint names
model = jtorch.load("model_full", map_location="cpu")
assert repr(model) == open("repr.txt").read(), repr(model)
y = np.asarray(model(jnp.asarray(np.load("x.npy"))))
assert np.array_equal(y, np.load("y.npy")), abs(y - np.load("y.npy")).max()
# jtorch's own classes load without the program importing their module
assert type(jtorch.load("lenet_full")).__name__ == "LeNet"
print("ok")
"""
    done = python(code, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]


def test_class_missing_at_load_time_names_it(tmp_path, python):
    code_save = textwrap.dedent(
        """
        import jtorch
        from jtorch import nn
        class Tudui(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            def forward(self, x):
                return self.fc(x)
        jtorch.save(Tudui(), "tudui_0")
        """
    )
    code_load = textwrap.dedent(
        """
        import jtorch
        from jtorch import nn
        try:
            jtorch.load("tudui_0")
        except jtorch.checkpoint.CheckpointError as err:
            print("ERROR:", err)
        class Tudui(nn.Module):  # the fix the seed gives: define (or import) the class first
            def forward(self, x):
                return self.fc(x)
        model = jtorch.load("tudui_0")
        print("LOADED", type(model).__name__, model.fc.weight.shape)
        """
    )
    done = python(code_save + "\n" + code_load.replace("tudui_0", "tudui_0"), cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    done = python(code_load, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ERROR:" in done.stdout and "Tudui" in done.stdout and "define" in done.stdout
    assert "LOADED Tudui (2, 2)" in done.stdout


def test_shared_modules_and_tied_weights_stay_shared(tmp_path):
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    jtorch.save(model, tmp_path / "tied")
    loaded = jtorch.load(tmp_path / "tied")
    assert loaded[0] is loaded[2]
    # a reloaded model trains under jit
    step = jtorch.jit(lambda m, x: jtorch.value_and_grad(lambda m: jnp.sum(m(x)))(m))
    _, grads = step(loaded, jnp.ones((2, 3)))
    assert set(grads) == {"0.weight", "0.bias"}
    holder = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Linear(2, 2)})
    holder["b"].weight = holder["a"].weight
    jtorch.save(holder, tmp_path / "tied2")
    loaded = jtorch.load(tmp_path / "tied2")
    assert loaded["a"].weight is loaded["b"].weight


def test_full_model_inside_a_checkpoint_dict(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3))
    jtorch.save({"model": model, "epoch": 1}, tmp_path / "ck")
    loaded = jtorch.load(tmp_path / "ck")
    assert loaded["epoch"] == 1 and repr(loaded["model"]) == repr(model)


def test_refuses_non_module_classes(tmp_path):
    import json

    jtorch.save(nn.Linear(2, 2), tmp_path / "m")
    meta_file = next((tmp_path / "m" / "meta").glob("*"))
    text = meta_file.read_text().replace("jtorch.nn.modules.linear:Linear", "subprocess:Popen")
    json.loads(text)
    meta_file.write_text(text)
    with pytest.raises(CheckpointError, match="subprocess.Popen"):
        jtorch.load(tmp_path / "m")


def test_locally_defined_classes_are_refused_on_save(tmp_path):
    class Local(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="inside a function"):
        jtorch.save(Local(), tmp_path / "local")
