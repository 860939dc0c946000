"""Transforms and ImageFolder against torchvision on random images (exact for PIL paths).

torchvision cannot be installed beside torch 2.13, so this module skips itself unless run in an
environment that has torchvision (e.g. a separate venv with torch 2.14 + torchvision 0.29).
Random transforms are compared by fixing the random parameters (get_params) and applying
torchvision's deterministic functional with the same parameters.
"""

import numpy as np
import pytest
from PIL import Image

from jtorch.vision import datasets as J_D
from jtorch.vision import transforms as J

torch = pytest.importorskip("torch")
tv = pytest.importorskip("torchvision")
TV = tv.transforms
TVF = tv.transforms.functional


def _img(seed, h=None, w=None, mode="RGB"):
    rng = np.random.default_rng(seed)
    h = h or int(rng.integers(5, 40))
    w = w or int(rng.integers(5, 40))
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)


def _np(x):
    if isinstance(x, Image.Image):
        return np.asarray(x)
    if isinstance(x, torch.Tensor):
        return x.numpy()
    return np.asarray(x)


DETERMINISTIC = [
    ("ToTensor", lambda m: m.ToTensor()),
    ("PILToTensor", lambda m: m.PILToTensor()),
    ("Resize-int", lambda m: m.Resize(11)),
    ("Resize-hw", lambda m: m.Resize((9, 23))),
    ("Resize-max", lambda m: m.Resize(8, max_size=12)),
    ("Resize-nearest", lambda m: m.Resize(10, interpolation=m.InterpolationMode.NEAREST)),
    ("Resize-bicubic", lambda m: m.Resize(10, interpolation=m.InterpolationMode.BICUBIC)),
    ("CenterCrop", lambda m: m.CenterCrop(7)),
    ("CenterCrop-big", lambda m: m.CenterCrop((45, 9))),
    ("Grayscale1", lambda m: m.Grayscale()),
    ("Grayscale3", lambda m: m.Grayscale(3)),
    ("Pad-reflect", lambda m: m.Pad((2, 3), padding_mode="reflect")),
    ("Pad-fill", lambda m: m.Pad(3, fill=(10, 20, 30))),
    ("Pad-edge4", lambda m: m.Pad((1, 2, 3, 4), padding_mode="edge")),
    ("Flip-h", lambda m: m.RandomHorizontalFlip(1.0)),
    ("Flip-v", lambda m: m.RandomVerticalFlip(1.0)),
    ("Seed-pipeline", lambda m: m.Compose([m.ToPILImage(), m.Resize(28), m.ToTensor()])),
]


@pytest.mark.parametrize("name,make", DETERMINISTIC, ids=[c[0] for c in DETERMINISTIC])
@pytest.mark.parametrize("seed", range(4))
def test_deterministic_transforms_equal_torchvision_on_pil(name, make, seed):
    img = _img(seed)
    src = np.asarray(img) if name == "Seed-pipeline" else img  # ToPILImage: ndarray is HWC
    ours, ref = make(J)(src), make(TV)(src)
    np.testing.assert_array_equal(_np(ours), _np(ref))  # exact (same Pillow ops)


@pytest.mark.parametrize("seed", range(4))
def test_to_pil_image_and_normalize_equal_torchvision(seed):
    rng = np.random.default_rng(seed)
    chw = rng.random((3, 6, 7)).astype(np.float32)
    ours = J.ToPILImage()(chw)  # numpy CHW accepted by jtorch
    ref = TV.ToPILImage()(torch.tensor(chw))
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))
    hw1 = rng.integers(0, 256, (5, 4, 1), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(J.ToPILImage()(hw1)), np.asarray(TV.ToPILImage()(hw1)))
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    np.testing.assert_allclose(
        J.Normalize(mean, std)(chw), TV.Normalize(mean, std)(torch.tensor(chw)).numpy(), rtol=1e-6
    )


@pytest.mark.parametrize("seed", range(4))
def test_resize_on_arrays_close_to_torchvision_tensor_path(seed):
    x = np.random.default_rng(seed).random((3, 20, 30)).astype(np.float32)
    ours = J.Resize(12)(x)
    ref = TV.Resize(12, antialias=True)(torch.tensor(x)).numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=2e-3)  # Pillow 'F' vs torch's antialias kernel


@pytest.mark.parametrize("seed", range(6))
def test_random_crops_with_fixed_params_equal_torchvision(seed):
    img = _img(seed, 30, 40)
    import random

    random.seed(seed)
    i, j, h, w = J.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
    random.seed(seed)
    ours = J.RandomResizedCrop(16)(img)
    ref = TVF.resized_crop(img, i, j, h, w, [16, 16], TV.InterpolationMode.BILINEAR)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))
    random.seed(seed)
    padded = J.Pad(4)(img)
    i, j, h, w = J.RandomCrop.get_params(padded, (24, 24))
    random.seed(seed)
    ours = J.RandomCrop(24, padding=4)(img)
    ref = TVF.crop(TVF.pad(img, 4), i, j, h, w)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))
    ours = J.RandomCrop((35, 45), pad_if_needed=True, fill=7)(img)
    assert ours.size == TV.RandomCrop((35, 45), pad_if_needed=True, fill=7)(img).size


@pytest.mark.parametrize("seed", range(6))
def test_color_jitter_with_fixed_params_equals_torchvision(seed):
    img = _img(seed)
    import random

    cj = J.ColorJitter(0.5, 0.5, 0.5, 0.2, generator=random.Random(seed))
    assert (cj.brightness, cj.hue) == tuple(
        getattr(TV.ColorJitter(0.5, 0.5, 0.5, 0.2), k) for k in ("brightness", "hue")
    )
    order, b, c, s, h = J.ColorJitter.get_params(
        cj.brightness, cj.contrast, cj.saturation, cj.hue, generator=random.Random(seed)
    )
    ours = J.ColorJitter.apply(img, order, b, c, s, h)
    ref = img
    for k in order:
        ref = [TVF.adjust_brightness, TVF.adjust_contrast, TVF.adjust_saturation, TVF.adjust_hue][
            k
        ](ref, [b, c, s, h][k])
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))


def test_image_folder_equals_torchvision(tmp_path):
    for cls, n in [("b", 2), ("a", 3), ("c", 1)]:
        (tmp_path / cls / "sub").mkdir(parents=True)
        for k in range(n):
            _img(k).save(tmp_path / cls / f"{k}.png")
        _img(9).save(tmp_path / cls / "sub" / "z.jpg")
    (tmp_path / "a" / "skip.txt").write_text("x")
    ours = J_D.ImageFolder(str(tmp_path), transform=J.ToTensor())
    ref = tv.datasets.ImageFolder(str(tmp_path), transform=TV.ToTensor())
    assert ours.classes == ref.classes and ours.class_to_idx == ref.class_to_idx
    assert ours.samples == ref.samples and ours.targets == ref.targets
    for i in range(len(ref)):
        np.testing.assert_array_equal(ours[i][0], ref[i][0].numpy())
        assert ours[i][1] == ref[i][1]
