"""jtorch.vision.transforms: deterministic outputs, fixed random parameters, composition.

Exact torchvision parity runs in tests/parity/test_torchvision_transforms.py (needs torchvision).
"""

import random

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jtorch.vision import transforms as T

torch = pytest.importorskip("torch")


def _img(h=13, w=17, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)


def test_to_tensor_pil_and_ndarray():
    img = _img()
    out = T.ToTensor()(img)
    assert out.dtype == np.float32 and out.shape == (3, 13, 17)
    np.testing.assert_allclose(out, np.asarray(img).transpose(2, 0, 1) / 255.0, rtol=1e-6)
    gray = T.ToTensor()(_img(mode="L"))
    assert gray.shape == (1, 13, 17)
    arr = np.asarray(img)
    np.testing.assert_array_equal(T.ToTensor()(arr), out)
    f = np.ones((4, 5, 2), np.float64)
    assert T.ToTensor()(f).dtype == np.float64 and T.ToTensor()(f).shape == (2, 4, 5)


def test_pil_to_tensor_and_to_pil_image_round_trip():
    img = _img()
    chw = T.PILToTensor()(img)
    assert chw.dtype == np.uint8 and chw.shape == (3, 13, 17)
    np.testing.assert_array_equal(np.asarray(T.ToPILImage()(np.asarray(img))), np.asarray(img))
    back = T.ToPILImage()(T.ToTensor()(img))  # numpy CHW float is read as CHW here
    np.testing.assert_array_equal(np.asarray(back), np.asarray(img))
    back = T.ToPILImage()(jnp.asarray(chw))  # jax arrays are CHW like tensors
    np.testing.assert_array_equal(np.asarray(back), np.asarray(img))
    assert T.ToPILImage()(img) is img
    assert T.ToPILImage()(np.zeros((4, 4), np.float32)).mode == "L"
    with pytest.raises(ValueError, match="> 4 channels"):
        T.ToPILImage()(np.zeros((6, 4, 5), np.uint8))


def test_normalize_matches_formula_numpy_and_jax():
    x = np.random.default_rng(1).random((3, 4, 5)).astype(np.float32)
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    want = (torch.tensor(x) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    np.testing.assert_allclose(T.Normalize(mean, std)(x), want.numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(T.Normalize(mean, std)(jnp.asarray(x))), want.numpy(), rtol=1e-6
    )
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize(mean, std)(np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize(mean, [1, 0, 1])(x)


@pytest.mark.parametrize(
    "size,hw,want",
    [
        (8, (13, 17), (8, 10)),
        (8, (17, 13), (10, 8)),
        ((5, 7), (13, 17), (5, 7)),
        (13, (13, 17), (13, 17)),
    ],
)
def test_resize_output_size_and_pil_bilinear(size, hw, want):
    img = _img(*hw)
    out = T.Resize(size)(img)
    assert (out.height, out.width) == want
    expected = img.resize((want[1], want[0]), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))
    arr = T.Resize(size)(T.ToTensor()(img))
    assert arr.shape == (3, *want)


def test_center_crop_and_padding_when_larger():
    img = _img(10, 12)
    out = T.CenterCrop(6)(img)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img)[2:8, 3:9])
    arr = T.ToTensor()(img)
    np.testing.assert_array_equal(T.CenterCrop((6, 6))(arr), arr[:, 2:8, 3:9])
    big = np.asarray(T.CenterCrop((14, 13))(img))
    assert big.shape == (14, 13, 3) and big[:2].sum() == 0
    np.testing.assert_array_equal(big[2:12, 0:12], np.asarray(img))


def test_random_crop_uses_get_params_and_pads():
    img = _img(10, 12)
    random.seed(0)
    i, j, h, w = T.RandomCrop.get_params(img, (4, 5))
    random.seed(0)
    out = T.RandomCrop((4, 5))(img)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img)[i : i + h, j : j + w])
    padded = T.RandomCrop((14, 16), padding=2)(img)
    assert padded.size == (16, 14)
    need = T.RandomCrop((12, 15), pad_if_needed=True)(img)
    assert need.size == (15, 12)
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(20)(img)
    g1, g2 = random.Random(3), random.Random(3)
    a = T.RandomCrop(5, generator=g1)(img)
    b = T.RandomCrop(5, generator=g2)(img)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_flips_with_probability_one_and_zero():
    img = _img()
    np.testing.assert_array_equal(
        np.asarray(T.RandomHorizontalFlip(1.0)(img)), np.asarray(img)[:, ::-1]
    )
    np.testing.assert_array_equal(np.asarray(T.RandomVerticalFlip(1.0)(img)), np.asarray(img)[::-1])
    assert T.RandomHorizontalFlip(0.0)(img) is img
    arr = T.ToTensor()(img)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(arr), arr[..., ::-1])


def test_random_resized_crop_params_in_range_and_applied():
    img = _img(40, 50)
    for seed in range(20):
        random.seed(seed)
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 <= i <= 40 - h and 0 <= j <= 50 - w and h > 0 and w > 0
    random.seed(5)
    i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
    random.seed(5)
    out = T.RandomResizedCrop(16)(img)
    want = img.crop((j, i, j + w, i + h)).resize((16, 16), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(want))


def test_color_jitter_grayscale_lambda_compose():
    img = _img()
    cj = T.ColorJitter(0.4, 0.4, 0.4, 0.1)
    order, b, c, s, h = T.ColorJitter.get_params(cj.brightness, cj.contrast, cj.saturation, cj.hue)
    assert sorted(order) == [0, 1, 2, 3] and 0.6 <= b <= 1.4 and -0.1 <= h <= 0.1
    same = T.ColorJitter.apply(img, [0, 1, 2, 3], 1.0, 1.0, 1.0, None)
    np.testing.assert_array_equal(np.asarray(same), np.asarray(img))
    assert T.ColorJitter().brightness is None
    g = T.Grayscale()(img)
    assert g.mode == "L" and T.Grayscale(3)(img).mode == "RGB"
    pipeline = T.Compose([T.ToPILImage(), T.Resize(8), T.ToTensor(), T.Lambda(lambda x: x * 2)])
    out = pipeline(np.asarray(img))
    assert out.shape == (3, 8, 10) and out.max() <= 2.0
    assert repr(T.Compose([T.ToTensor()])) == "Compose(\n    ToTensor()\n)"
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)
