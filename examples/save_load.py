"""Seeds 000, 003 §25-26/§32 and 004: every way the seeds save and load a model, with
`jtorch.save` / `jtorch.load`.

1. the state_dict (recommended): save, then `model.load_state_dict(jtorch.load(PATH))`
2. the whole model (structure and parameters): `jtorch.save(model, PATH)`, `jtorch.load(PATH)`
3. a checkpoint dict (epoch, model and optimizer state, loss) to resume training
4. several models and optimizers in one file
5. warm start: load another model's state_dict with `strict=False`
6. `map_location='cpu'` (and 'cuda:0' where there is a GPU)
7. `.pth` files in PyTorch's zip format, readable by `torch.load`
8. model surgery (`add_module`, replacing `classifier[6]`), then a full save and reload

Run: python examples/save_load.py [--out DIR] [--smoke]

A path without a suffix is an Orbax checkpoint directory; `.pth`/`.tar` are torch zip files.
Everything is written under DIR (default: a new temporary directory).
`--smoke` does the surgery on a narrow VGG-shaped model instead of VGG-16 (138M parameters).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

import jtorch
import jtorch.nn.functional as F
from jtorch import nn, optim


class TheModelClass(nn.Module):
    def __init__(self):
        super(TheModelClass, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.reshape(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


class ModelWithNewHead(nn.Module):
    """Same trunk as TheModelClass, a different head: warm-started with strict=False."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.head = nn.Linear(120, 2)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.head(F.relu(self.fc1(x.reshape(-1, 16 * 5 * 5))))


class TinyVGG(nn.Module):
    """VGG's layout (`features`, `avgpool`, a 7-layer `classifier`) at a size for smoke runs."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(8 * 2 * 2, 64),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(64, 64),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.reshape(x.shape[0], -1))


def _same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="directory for every checkpoint written")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="small model for the surgery part")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="save_load_")
    os.makedirs(out, exist_ok=True)
    jtorch.manual_seed(args.seed)
    results: dict = {}
    x = jtorch.randn(4, 3, 32, 32)
    y = jtorch.randint(0, 10, (4,))
    criterion = nn.CrossEntropyLoss()

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: criterion(m(x), y))(model)
        optimizer.step(grads)
        return loss

    model = TheModelClass()
    optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    print("Model's state_dict:")
    for param_tensor in model.state_dict():
        print(param_tensor, "\t", model.state_dict()[param_tensor].shape)
    print("Optimizer's state_dict:")
    for var_name in optimizer.state_dict():
        print(var_name, "\t", optimizer.state_dict()[var_name])
    train_step(model, optimizer, x, y)
    model.eval()
    reference = model(x)
    results["reference_output"] = np.asarray(reference)
    results["state_dict"] = {k: np.asarray(v) for k, v in model.state_dict().items()}

    # 1. state_dict: save, construct, load_state_dict
    path = os.path.join(out, "model_state")
    jtorch.save(model.state_dict(), path)
    restored = TheModelClass()
    restored.load_state_dict(jtorch.load(path))
    restored.eval()
    results["state_dict_roundtrip"] = _same(model.state_dict(), restored.state_dict())
    results["state_dict_output"] = np.asarray(restored(x))
    print("1. state_dict round trip equal:", results["state_dict_roundtrip"])

    # 2. the whole model: no constructor call on load (the class must be importable)
    path = os.path.join(out, "model_full")
    jtorch.save(model, path)
    loaded = jtorch.load(path)
    loaded.eval()
    print(loaded)
    results["full_model_type"] = type(loaded).__name__
    results["full_model_repr"] = (repr(loaded), repr(model))
    results["full_model_output"] = np.asarray(loaded(x))
    print("2. full model round trip equal:", _same(model.state_dict(), loaded.state_dict()))

    # 3. a checkpoint to resume training: train 2 steps, save, resume for 2 more, and compare with
    #    4 uninterrupted steps
    jtorch.manual_seed(args.seed + 1)
    model = TheModelClass()
    start = {k: np.asarray(v) for k, v in model.state_dict().items()}
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    for epoch in range(2):  # noqa: B007 (the last epoch is saved below)
        loss = train_step(model, optimizer, x, y)
    path = os.path.join(out, "checkpoint.tar")
    jtorch.save(
        {
            "epoch": epoch,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "loss": float(loss),
        },
        path,
    )
    for _ in range(2):
        train_step(model, optimizer, x, y)
    uninterrupted = {k: np.asarray(v) for k, v in model.state_dict().items()}

    model = TheModelClass()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    checkpoint = jtorch.load(path)
    model.load_state_dict(checkpoint["model_state_dict"])
    optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    epoch, loss = checkpoint["epoch"], checkpoint["loss"]
    model.train()
    for _ in range(2):
        train_step(model, optimizer, x, y)
    results["resume_epoch_loss"] = (epoch, loss)
    results["resume_equal"] = _same(uninterrupted, model.state_dict())
    results["resume_changed"] = not _same(start, model.state_dict())
    print(
        f"3. resumed after epoch {epoch} (loss {loss:.4f}); same as uninterrupted:",
        results["resume_equal"],
    )

    # 4. several models and optimizers in one file
    modelA, modelB = TheModelClass(), ModelWithNewHead()
    optimizerA = optim.SGD(modelA.parameters(), lr=0.01, momentum=0.9)
    optimizerB = optim.Adam(modelB.parameters(), lr=1e-3)
    train_step(modelA, optimizerA, x, y)  # modelB stays untrained: one compile less
    path = os.path.join(out, "models_ab")
    jtorch.save(
        {
            "modelA_state_dict": modelA.state_dict(),
            "modelB_state_dict": modelB.state_dict(),
            "optimizerA_state_dict": optimizerA.state_dict(),
            "optimizerB_state_dict": optimizerB.state_dict(),
        },
        path,
    )
    checkpoint = jtorch.load(path)
    modelA2, modelB2 = TheModelClass(), ModelWithNewHead()
    optimizerA2 = optim.SGD(modelA2.parameters(), lr=0.01, momentum=0.9)
    optimizerB2 = optim.Adam(modelB2.parameters(), lr=1e-3)
    modelA2.load_state_dict(checkpoint["modelA_state_dict"])
    modelB2.load_state_dict(checkpoint["modelB_state_dict"])
    optimizerA2.load_state_dict(checkpoint["optimizerA_state_dict"])
    optimizerB2.load_state_dict(checkpoint["optimizerB_state_dict"])
    results["multi_equal"] = _same(modelA.state_dict(), modelA2.state_dict()) and _same(
        modelB.state_dict(), modelB2.state_dict()
    )
    state_b, state_b2 = optimizerB.state_dict()["state"], optimizerB2.state_dict()["state"]
    results["multi_optimizer_equal"] = (
        all(_same(state_b[i], state_b2[i]) for i in state_b)
        and optimizerA.state_dict()["param_groups"] == optimizerA2.state_dict()["param_groups"]
    )
    print("4. two models and optimizers round trip equal:", results["multi_equal"])

    # 5. warm start: the shared trunk loads, the rest is reported
    path = os.path.join(out, "modelA_state")
    jtorch.save(modelA.state_dict(), path)
    warm = ModelWithNewHead()
    keys = warm.load_state_dict(jtorch.load(path), strict=False)
    print("5. warm start:", keys)
    results["warm_missing"], results["warm_unexpected"] = list(keys[0]), list(keys[1])
    results["warm_conv1_equal"] = np.array_equal(
        np.asarray(warm.conv1.weight.value), np.asarray(modelA.conv1.weight.value)
    )

    # 6. map_location
    device = jtorch.device("cpu")
    sd = jtorch.load(os.path.join(out, "model_state"), map_location=device)
    restored = TheModelClass()
    restored.load_state_dict(sd)
    results["map_location_platforms"] = {
        d.platform for v in sd.values() for d in jnp.asarray(v).devices()
    }
    if jtorch.cuda.is_available():
        restored = TheModelClass()
        restored.load_state_dict(
            jtorch.load(os.path.join(out, "model_state"), map_location="cuda:0")
        )
        restored.to(jtorch.device("cuda"))
    print("6. map_location='cpu' puts arrays on:", results["map_location_platforms"])

    # 7. .pth in torch's zip format (torch.load reads it; jtorch.load reads torch's files)
    pth = os.path.join(out, "model_state.pth")
    jtorch.save(results["state_dict"], pth)
    back = jtorch.load(pth)
    results["pth_path"] = pth
    results["pth_roundtrip"] = _same(results["state_dict"], back)
    print("7. .pth round trip equal:", results["pth_roundtrip"])

    # 8. surgery on a VGG: add a layer at the end, add one inside classifier, replace classifier[6]
    if args.smoke:
        vgg_true, vgg_false = TinyVGG(), TinyVGG()
    else:
        from jtorch.vision import models

        vgg_true, vgg_false = models.vgg16(), models.vgg16()
    vgg_true.add_module("add_linear", nn.Linear(1000, 10))
    vgg_true.classifier.add_module("add_linear", nn.Linear(1000, 10))
    hidden = vgg_false.classifier[6].in_features
    vgg_false.classifier[6] = nn.Linear(hidden, 10)
    print(vgg_true)
    print(vgg_false)
    path = os.path.join(out, "vgg_method1")
    jtorch.save(vgg_false, path)
    reloaded = jtorch.load(path, map_location=jtorch.device("cpu"))
    vgg_false.eval()
    reloaded.eval()
    size = 32 if args.smoke else 224
    image = jtorch.randn(1, 3, size, size)
    out_before, out_after = vgg_false(image), reloaded(image)
    print(out_after.argmax(1))
    results["surgery_repr"] = (repr(vgg_false), repr(reloaded))
    results["surgery_true_keys"] = list(vgg_true.state_dict())
    results["surgery_output"] = (np.asarray(out_before), np.asarray(out_after))
    path = os.path.join(out, "vgg_method2")
    jtorch.save(vgg_true.state_dict(), path)
    results["surgery_state_equal"] = _same(vgg_true.state_dict(), jtorch.load(path))
    results["devices"] = [str(d) for d in jax.devices()]
    results["out"] = out
    return results


if __name__ == "__main__":
    main()
