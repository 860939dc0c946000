"""Image transforms as torchvision.transforms defines them, computed with Pillow and numpy.

Images are PIL images or arrays. Arrays are "tensor images" of shape (..., C, H, W) (numpy or
jax), except that `ToPILImage` reads a numpy array as (H, W, C) as torchvision does. Transforms run
inside DataLoader workers, so they return numpy arrays, never jax arrays: `ToTensor()` gives a
float32 numpy array (C, H, W) in [0, 1] and the DataLoader makes jax arrays of whole batches.

Randomness: random transforms draw from Python's `random` module (or the `random.Random` passed
as `generator=`). DataLoader workers seed `random` with `base_seed + worker_id`, `base_seed` drawn
from jtorch's global RNG, so `jtorch.manual_seed(s)` makes worker-side augmentation reproducible;
in the main process seed it with `random.seed(s)`. Each random transform's draw is exposed as a
`get_params` staticmethod (as in torchvision), and the transform applies the deterministic result.
Differs from torchvision: torchvision draws from torch's RNG, so the same seed gives other crops.
"""

from __future__ import annotations

import math
import numbers
import random as _random
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

__all__ = [
    "InterpolationMode",
    "Compose",
    "ToTensor",
    "PILToTensor",
    "ToPILImage",
    "Normalize",
    "Resize",
    "CenterCrop",
    "Pad",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomResizedCrop",
    "ColorJitter",
    "Grayscale",
    "RandomGrayscale",
    "Lambda",
]


class InterpolationMode(Enum):
    """Interpolation modes, spelled as in torchvision."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_MODES = {
    InterpolationMode.NEAREST: Image.Resampling.NEAREST,
    InterpolationMode.NEAREST_EXACT: Image.Resampling.NEAREST,
    InterpolationMode.BILINEAR: Image.Resampling.BILINEAR,
    InterpolationMode.BICUBIC: Image.Resampling.BICUBIC,
    InterpolationMode.BOX: Image.Resampling.BOX,
    InterpolationMode.HAMMING: Image.Resampling.HAMMING,
    InterpolationMode.LANCZOS: Image.Resampling.LANCZOS,
}
_FROM_PIL = {int(v): k for k, v in reversed(list(_PIL_MODES.items()))}


def _interp(mode: Any) -> InterpolationMode:
    if isinstance(mode, InterpolationMode):
        return mode
    if isinstance(mode, int) and mode in _FROM_PIL:
        return _FROM_PIL[mode]
    raise TypeError(
        "Argument interpolation should be a InterpolationMode or a corresponding Pillow integer "
        f"constant, got {mode!r}"
    )


def _rng(generator: Any) -> Any:
    return _random if generator is None else generator


# ----------------------------------------------------------------------------- image helpers
def _is_pil(img: Any) -> bool:
    return isinstance(img, Image.Image)


def _is_jax(img: Any) -> bool:
    return type(img).__module__.startswith("jax")


def _as_chw_array(img: Any, what: str) -> Any:
    if isinstance(img, np.ndarray) or _is_jax(img):
        if img.ndim < 2:
            raise ValueError(
                f"{what}: expected an image array (..., C, H, W), got shape {img.shape}"
            )
        return img
    if hasattr(img, "detach") and hasattr(img, "numpy"):  # torch tensor
        return img.detach().cpu().numpy()
    raise TypeError(f"{what}: img should be a PIL Image or an array, got {type(img).__name__}")


def _get_dimensions(img: Any) -> tuple[int, int, int]:
    """(channels, height, width) of a PIL image or a (..., C, H, W) array."""
    if _is_pil(img):
        return len(img.getbands()), img.height, img.width
    arr = _as_chw_array(img, "get_dimensions")
    c = 1 if arr.ndim == 2 else arr.shape[-3]
    return c, arr.shape[-2], arr.shape[-1]


def _fromarray(arr: np.ndarray, mode: str) -> Image.Image:
    """Image.fromarray(arr, mode) with Pillow's old semantics (read the bytes as `mode`)."""
    arr = np.ascontiguousarray(arr)
    return Image.frombuffer(mode, (arr.shape[1], arr.shape[0]), arr.tobytes(), "raw", mode, 0, 1)


def _crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The region rows [top, top+height), cols [left, left+width); outside the image is zero."""
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    arr = np.asarray(_as_chw_array(img, "crop"))
    h, w = arr.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        pad = [max(-left, 0), max(-top, 0), max(right - w, 0), max(bottom - h, 0)]
        arr = _pad_array(arr, pad, 0, "constant")
        top, left = top + pad[1], left + pad[0]
    return arr[..., top : top + height, left : left + width]


def _hflip(img: Any) -> Any:
    if _is_pil(img):
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(_as_chw_array(img, "hflip"))[..., ::-1].copy()


def _vflip(img: Any) -> Any:
    if _is_pil(img):
        return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return np.asarray(_as_chw_array(img, "vflip"))[..., ::-1, :].copy()


def _parse_padding(padding: Any) -> list[int]:
    if isinstance(padding, numbers.Number):
        return [int(padding)] * 4
    padding = list(padding)
    if len(padding) == 1:
        return [int(padding[0])] * 4
    if len(padding) == 2:
        return [int(padding[0]), int(padding[1])] * 2
    if len(padding) == 4:
        return [int(p) for p in padding]
    raise ValueError(
        f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple"
    )


def _pad_array(arr: np.ndarray, ltrb: list[int], fill: Any, mode: str) -> np.ndarray:
    left, top, right, bottom = ltrb
    widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    if mode != "constant":
        return np.pad(arr, widths, mode=mode)
    if isinstance(fill, (list, tuple)) and arr.ndim >= 3:
        fill = np.asarray(fill, dtype=arr.dtype).reshape(-1, 1, 1)
        out = np.empty(
            arr.shape[:-2] + (arr.shape[-2] + top + bottom, arr.shape[-1] + left + right),
            dtype=arr.dtype,
        )
        out[...] = fill
        out[..., top : top + arr.shape[-2], left : left + arr.shape[-1]] = arr
        return out
    return np.pad(arr, widths, mode="constant", constant_values=fill)


def _pad(img: Any, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> Any:
    """torchvision's F.pad: padding int, (lr, tb) or (l, t, r, b); modes constant/edge/reflect/
    symmetric; PIL images are padded through numpy (same result as ImageOps.expand)."""
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    ltrb = _parse_padding(padding)
    if _is_pil(img):
        if any(p < 0 for p in ltrb):
            crop = [max(-p, 0) for p in ltrb]
            img = img.crop((crop[0], crop[1], img.width - crop[2], img.height - crop[3]))
            ltrb = [max(p, 0) for p in ltrb]
        if padding_mode == "constant":
            bands = len(img.getbands())
            if isinstance(fill, (int, float)) and bands > 1:
                fill = (fill,) * bands
            if isinstance(fill, (list, tuple)):
                fill = tuple(fill) * bands if len(fill) == 1 else tuple(fill)
                if len(fill) != bands:
                    raise ValueError(
                        "The number of elements in 'fill' does not match the number of channels "
                        f"of the image ({len(fill)} != {bands})"
                    )
                fill = tuple(int(x) for x in fill) if img.mode != "F" else fill
            elif img.mode != "F":
                fill = int(fill)
            out = ImageOps.expand(img, border=tuple(ltrb), fill=fill)
            return out
        arr = np.asarray(img)
        hwc = arr.ndim == 3
        arr = np.moveaxis(arr, -1, 0) if hwc else arr
        arr = _pad_array(arr, ltrb, fill, padding_mode)
        return Image.fromarray(np.ascontiguousarray(np.moveaxis(arr, 0, -1) if hwc else arr))
    arr = np.asarray(_as_chw_array(img, "pad"))
    if any(p < 0 for p in ltrb):
        c = [max(-p, 0) for p in ltrb]
        arr = arr[..., c[1] : arr.shape[-2] - c[3], c[0] : arr.shape[-1] - c[2]]
        ltrb = [max(p, 0) for p in ltrb]
    return _pad_array(arr, ltrb, fill, padding_mode)


def _resize_output_size(h: int, w: int, size: Any, max_size: int | None) -> tuple[int, int]:
    if isinstance(size, int):
        size = [size]
    size = list(size)
    if len(size) not in (1, 2):
        raise ValueError(
            "Size must be an int or a 1 or 2 element tuple/list, not a "
            f"{len(size)} element tuple/list"
        )
    if len(size) == 2:
        if max_size is not None:
            raise ValueError(
                "max_size should only be passed if size specifies the length of the smaller "
                "edge, i.e. size should be an int or a sequence of length 1 in torchscript mode."
            )
        return int(size[0]), int(size[1])
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size[0], int(size[0] * long / short)
    if max_size is not None:
        if max_size <= size[0]:
            raise ValueError(
                f"max_size = {max_size} must be strictly greater than the requested size for the "
                f"smaller edge size = {size}"
            )
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return new_h, new_w


def _resize(
    img: Any,
    size: Any,
    interpolation: Any = InterpolationMode.BILINEAR,
    max_size: int | None = None,
) -> Any:
    """torchvision's F.resize: an int resizes the shorter side (aspect kept), (h, w) is exact.

    PIL images use Pillow's resampling (antialiased), as torchvision's PIL path does. Arrays are
    resized channel by channel with Pillow too (mode 'F' for floats), which approximates
    torchvision's antialiased tensor path.
    """
    mode = _interp(interpolation)
    _, h, w = _get_dimensions(img)
    oh, ow = _resize_output_size(h, w, size, max_size)
    if (oh, ow) == (h, w):
        return img
    if _is_pil(img):
        return img.resize((ow, oh), _PIL_MODES[mode])
    arr = np.asarray(_as_chw_array(img, "resize"))
    flat = arr.reshape((-1,) + arr.shape[-2:])
    out = np.empty((flat.shape[0], oh, ow), dtype=arr.dtype)
    for i, ch in enumerate(flat):
        if arr.dtype == np.uint8:
            im = Image.fromarray(ch, mode="L")
            out[i] = np.asarray(im.resize((ow, oh), _PIL_MODES[mode]))
        else:
            im = Image.fromarray(ch.astype(np.float32), mode="F")
            out[i] = np.asarray(im.resize((ow, oh), _PIL_MODES[mode]))
    return out.reshape(arr.shape[:-2] + (oh, ow))


def _setup_size(size: Any, error_msg: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(error_msg)
    return int(size[0]), int(size[1])


def _center_crop(img: Any, output_size: Any) -> Any:
    crop_h, crop_w = _setup_size(output_size, "Please provide only two dimensions (h, w) for size.")
    _, h, w = _get_dimensions(img)
    if crop_w > w or crop_h > h:
        ltrb = [
            (crop_w - w) // 2 if crop_w > w else 0,
            (crop_h - h) // 2 if crop_h > h else 0,
            (crop_w - w + 1) // 2 if crop_w > w else 0,
            (crop_h - h + 1) // 2 if crop_h > h else 0,
        ]
        img = _pad(img, ltrb, fill=0)
        _, h, w = _get_dimensions(img)
        if crop_w == w and crop_h == h:
            return img
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return _crop(img, top, left, crop_h, crop_w)


def _require_pil(img: Any, what: str) -> None:
    if not _is_pil(img):
        raise TypeError(f"{what}: img should be PIL Image. Got {type(img).__name__}")


def _adjust_brightness(img: Any, factor: float) -> Any:
    _require_pil(img, "adjust_brightness")
    return ImageEnhance.Brightness(img).enhance(factor)


def _adjust_contrast(img: Any, factor: float) -> Any:
    _require_pil(img, "adjust_contrast")
    return ImageEnhance.Contrast(img).enhance(factor)


def _adjust_saturation(img: Any, factor: float) -> Any:
    _require_pil(img, "adjust_saturation")
    return ImageEnhance.Color(img).enhance(factor)


def _adjust_hue(img: Any, hue_factor: float) -> Any:
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _require_pil(img, "adjust_hue")
    if img.mode in {"L", "1", "I", "F"}:
        return img
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    np_h += np.int32(hue_factor * 255).astype(np.uint8)  # wraps around, as intended
    h = _fromarray(np_h, "L")
    return Image.merge("HSV", (h, s, v)).convert(img.mode)


def _to_grayscale(img: Any, num_output_channels: int) -> Any:
    _require_pil(img, "to_grayscale")
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    img = img.convert("L")
    if num_output_channels == 3:
        a = np.array(img, dtype=np.uint8)
        img = _fromarray(np.dstack([a, a, a]), "RGB")
    return img


# ----------------------------------------------------------------------------- transforms
class Compose:
    """Apply `transforms` one after another."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{self.__class__.__name__}({body}\n)"


class ToTensor:
    """PIL image or (H, W, C) uint8 array -> (C, H, W) float32 in [0, 1] (other dtypes: as is).

    Differs from torchvision: returns a numpy array (the DataLoader makes jax arrays of batches).
    """

    def __call__(self, pic: Any) -> np.ndarray:
        if isinstance(pic, np.ndarray):
            if pic.ndim not in (2, 3):
                raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
            arr = pic[:, :, None] if pic.ndim == 2 else pic
            arr = np.ascontiguousarray(arr.transpose(2, 0, 1))
            return arr.astype(np.float32) / np.float32(255) if arr.dtype == np.uint8 else arr
        if not _is_pil(pic):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        nptype = {
            "I": np.int32,
            "I;16" if sys.byteorder == "little" else "I;16B": np.int16,
            "F": np.float32,
        }.get(pic.mode, np.uint8)
        arr = np.array(pic, nptype, copy=True)
        if pic.mode == "1":
            arr = 255 * arr
        arr = arr.reshape(pic.height, pic.width, len(pic.getbands())).transpose(2, 0, 1)
        arr = np.ascontiguousarray(arr)
        return arr.astype(np.float32) / np.float32(255) if arr.dtype == np.uint8 else arr

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class PILToTensor:
    """PIL image -> (C, H, W) array of the same dtype (uint8 for 'L'/'RGB'), not rescaled."""

    def __call__(self, pic: Any) -> np.ndarray:
        if not _is_pil(pic):
            raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
        arr = np.array(pic, copy=True)
        arr = arr.reshape(pic.height, pic.width, len(pic.getbands()))
        return np.ascontiguousarray(arr.transpose(2, 0, 1))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class ToPILImage:
    """Array -> PIL image: numpy arrays are read as (H, W, C), jax/torch arrays as (C, H, W).

    Floats are scaled by 255 and truncated to uint8 unless mode='F', as in torchvision.
    Differs from torchvision: a PIL image passes through unchanged, and a 3-D numpy array whose
    last axis has more than 4 entries but whose first has at most 4 is read as (C, H, W)
    (torchvision raises there), so `ToPILImage()(ToTensor()(img))` works on jtorch's numpy output.
    """

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic: Any) -> Image.Image:
        if _is_pil(pic):
            return pic if self.mode is None else pic.convert(self.mode)
        if isinstance(pic, np.ndarray):
            arr = pic
            if arr.ndim == 3 and arr.shape[-1] > 4 and arr.shape[0] <= 4:
                arr = arr.transpose(1, 2, 0)
        elif _is_jax(pic) or (hasattr(pic, "detach") and hasattr(pic, "numpy")):
            arr = np.asarray(_as_chw_array(pic, "ToPILImage"))
            if arr.ndim == 3:
                arr = arr.transpose(1, 2, 0)
        else:
            raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
        mode = self.mode
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(f"pic should be 2/3 dimensional. Got {arr.ndim} dimensions.")
        if arr.shape[-1] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {arr.shape[-1]} channels.")
        if np.issubdtype(arr.dtype, np.floating) and mode != "F":
            arr = (arr * 255).astype(np.uint8)
        channels = arr.shape[2]
        if channels == 1:
            arr = arr[:, :, 0]
            expected = {
                np.dtype(np.uint8): "L",
                np.dtype(np.int16): "I;16",
                np.dtype(np.int32): "I",
                np.dtype(np.float32): "F",
            }.get(arr.dtype)
            if mode is not None and mode != expected:
                raise ValueError(
                    f"Incorrect mode ({mode}) supplied for input type {arr.dtype}. Should be "
                    f"{expected}"
                )
            mode = expected
        else:
            permitted = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}
            if mode is not None and mode not in permitted[channels]:
                raise ValueError(
                    f"Only modes {permitted[channels]} are supported for {channels}-channel inputs"
                )
            if mode is None and arr.dtype == np.uint8:
                mode = permitted[channels][0]
        if mode is None:
            raise TypeError(f"Input type {arr.dtype} is not supported")
        return _fromarray(np.ascontiguousarray(arr), mode)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}()"
            if self.mode is None
            else (f"{self.__class__.__name__}(mode={self.mode})")
        )


class Normalize:
    """(x - mean[c]) / std[c] on a float (..., C, H, W) array; returns the same array type."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor: Any) -> Any:
        arr = _as_chw_array(tensor, "Normalize")
        if not np.issubdtype(np.dtype(arr.dtype), np.floating):
            raise TypeError(f"Input tensor should be a float tensor. Got {arr.dtype}.")
        if arr.ndim < 3:
            raise ValueError(
                "Expected tensor to be a tensor image of size (..., C, H, W). Got "
                f"tensor.size() = {tuple(arr.shape)}"
            )
        mean = np.asarray(self.mean, dtype=arr.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=arr.dtype).reshape(-1, 1, 1)
        if (std == 0).any():
            raise ValueError(
                f"std evaluated to zero after conversion to {arr.dtype}, leading to division by "
                "zero."
            )
        if _is_jax(arr):
            return (arr - mean) / std
        return (np.asarray(arr) - mean) / std

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(mean={self.mean}, std={self.std})"


class Resize:
    """Resize to `size`: an int sets the shorter side (aspect kept), (h, w) sets both.

    PIL images go through Pillow with the given interpolation (bilinear by default, antialiased),
    exactly as torchvision's PIL path. `antialias` is accepted for compatibility.
    """

    def __init__(
        self,
        size: Any,
        interpolation: Any = InterpolationMode.BILINEAR,
        max_size: int | None = None,
        antialias: bool | None = True,
    ) -> None:
        if not isinstance(size, (int, Sequence)):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size = size
        self.max_size = max_size
        self.interpolation = _interp(interpolation)
        self.antialias = antialias

    def __call__(self, img: Any) -> Any:
        return _resize(img, self.size, self.interpolation, self.max_size)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(size={self.size}, interpolation="
            f"{self.interpolation.value}, max_size={self.max_size}, antialias={self.antialias})"
        )


class CenterCrop:
    """The central `size` region (zero-padded first if the image is smaller)."""

    def __init__(self, size: Any) -> None:
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")

    def __call__(self, img: Any) -> Any:
        return _center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(size={self.size})"


class Pad:
    """Pad the borders by `padding` (int, (lr, tb) or (l, t, r, b)) with `padding_mode`."""

    def __init__(self, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> None:
        _parse_padding(padding)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img: Any) -> Any:
        return _pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(padding={self.padding}, fill={self.fill}, "
            f"padding_mode={self.padding_mode})"
        )


class RandomCrop:
    """A random `size` crop, after optional `padding` and `pad_if_needed` padding."""

    def __init__(
        self,
        size: Any,
        padding: Any = None,
        pad_if_needed: bool = False,
        fill: Any = 0,
        padding_mode: str = "constant",
        *,
        generator: Any = None,
    ) -> None:
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = generator

    @staticmethod
    def get_params(
        img: Any, output_size: tuple[int, int], *, generator: Any = None
    ) -> tuple[int, int, int, int]:
        """(top, left, height, width) of a uniformly random crop of `output_size`."""
        _, h, w = _get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(
                f"Required crop size {(th, tw)} is larger than input image size {(h, w)}"
            )
        if w == tw and h == th:
            return 0, 0, h, w
        rng = _rng(generator)
        return rng.randint(0, h - th), rng.randint(0, w - tw), th, tw

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = _pad(img, self.padding, self.fill, self.padding_mode)
        _, h, w = _get_dimensions(img)
        if self.pad_if_needed and w < self.size[1]:
            img = _pad(img, [self.size[1] - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < self.size[0]:
            img = _pad(img, [0, self.size[0] - h], self.fill, self.padding_mode)
        i, j, th, tw = self.get_params(img, self.size, generator=self.generator)
        return _crop(img, i, j, th, tw)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability `p`."""

    def __init__(self, p: float = 0.5, *, generator: Any = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, img: Any) -> Any:
        return _hflip(img) if _rng(self.generator).random() < self.p else img

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class RandomVerticalFlip:
    """Mirror top-bottom with probability `p`."""

    def __init__(self, p: float = 0.5, *, generator: Any = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, img: Any) -> Any:
        return _vflip(img) if _rng(self.generator).random() < self.p else img

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class RandomResizedCrop:
    """A random crop of area fraction in `scale` and aspect ratio in `ratio`, resized to `size`."""

    def __init__(
        self,
        size: Any,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation: Any = InterpolationMode.BILINEAR,
        antialias: bool | None = True,
        *,
        generator: Any = None,
    ) -> None:
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        if not isinstance(scale, Sequence):
            raise TypeError("Scale should be a sequence")
        if not isinstance(ratio, Sequence):
            raise TypeError("Ratio should be a sequence")
        self.scale, self.ratio = scale, ratio
        self.interpolation = _interp(interpolation)
        self.antialias = antialias
        self.generator = generator

    @staticmethod
    def get_params(
        img: Any, scale: Sequence[float], ratio: Sequence[float], *, generator: Any = None
    ) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the random crop (10 tries, then a central crop)."""
        _, height, width = _get_dimensions(img)
        area = height * width
        rng = _rng(generator)
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(scale[0], scale[1])
            aspect_ratio = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect_ratio)))
            h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < w <= width and 0 < h <= height:
                return rng.randint(0, height - h), rng.randint(0, width - w), h, w
        in_ratio = float(width) / float(height)
        if in_ratio < min(ratio):
            w = width
            h = int(round(w / min(ratio)))
        elif in_ratio > max(ratio):
            h = height
            w = int(round(h * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img: Any) -> Any:
        i, j, h, w = self.get_params(img, self.scale, self.ratio, generator=self.generator)
        return _resize(_crop(img, i, j, h, w), self.size, self.interpolation)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(size={self.size}, scale={tuple(self.scale)}, "
            f"ratio={tuple(self.ratio)}, interpolation={self.interpolation.value}, "
            f"antialias={self.antialias})"
        )


def _check_jitter(
    value: Any,
    name: str,
    center: float = 1.0,
    bound: tuple[float, float] = (0, float("inf")),
    clip_first: bool = True,
) -> Any:
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        value = [center - float(value), center + float(value)]
        if clip_first:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, but got {value}.")
    if value[0] == value[1] == center:
        return None
    return tuple(value)


class ColorJitter:
    """Random brightness, contrast, saturation and hue changes, applied in a random order.

    Works on PIL images (Pillow's ImageEnhance and an HSV hue shift, as torchvision's PIL path).
    """

    def __init__(
        self,
        brightness: Any = 0,
        contrast: Any = 0,
        saturation: Any = 0,
        hue: Any = 0,
        *,
        generator: Any = None,
    ) -> None:
        self.brightness = _check_jitter(brightness, "brightness")
        self.contrast = _check_jitter(contrast, "contrast")
        self.saturation = _check_jitter(saturation, "saturation")
        self.hue = _check_jitter(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first=False)
        self.generator = generator

    @staticmethod
    def get_params(
        brightness: Any, contrast: Any, saturation: Any, hue: Any, *, generator: Any = None
    ) -> tuple:
        """(order of the four adjustments, brightness, contrast, saturation, hue factors)."""
        rng = _rng(generator)
        fn_idx = rng.sample(range(4), 4)
        b = None if brightness is None else rng.uniform(brightness[0], brightness[1])
        c = None if contrast is None else rng.uniform(contrast[0], contrast[1])
        s = None if saturation is None else rng.uniform(saturation[0], saturation[1])
        h = None if hue is None else rng.uniform(hue[0], hue[1])
        return fn_idx, b, c, s, h

    @staticmethod
    def apply(img: Any, fn_idx: Sequence[int], b: Any, c: Any, s: Any, h: Any) -> Any:
        """The deterministic adjustments for parameters from `get_params`."""
        for fn_id in fn_idx:
            if fn_id == 0 and b is not None:
                img = _adjust_brightness(img, b)
            elif fn_id == 1 and c is not None:
                img = _adjust_contrast(img, c)
            elif fn_id == 2 and s is not None:
                img = _adjust_saturation(img, s)
            elif fn_id == 3 and h is not None:
                img = _adjust_hue(img, h)
        return img

    def __call__(self, img: Any) -> Any:
        params = self.get_params(
            self.brightness, self.contrast, self.saturation, self.hue, generator=self.generator
        )
        return self.apply(img, *params)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})"
        )


class Grayscale:
    """Convert to grayscale ('L'); with num_output_channels=3 the gray is repeated as RGB."""

    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def __call__(self, img: Any) -> Any:
        return _to_grayscale(img, self.num_output_channels)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(num_output_channels={self.num_output_channels})"


class RandomGrayscale:
    """Grayscale with probability `p`, keeping the number of channels."""

    def __init__(self, p: float = 0.1, *, generator: Any = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, img: Any) -> Any:
        if _rng(self.generator).random() < self.p:
            return _to_grayscale(img, len(img.getbands()))
        return img

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class Lambda:
    """Apply a user function as a transform."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"
