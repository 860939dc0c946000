"""Datasets as torchvision.datasets defines them, read from local files (no downloads).

`ImageFolder`/`DatasetFolder` read a class-per-folder tree, `CSVImageDataset` a CSV of
(filename, label) rows, `MNIST`/`FashionMNIST` torchvision's raw IDX files, `CIFAR10`/`CIFAR100`
the python pickle batches, and `Digits` the 8x8 handwritten digits bundled with jtorch.
Every dataset returns `(sample, target)`; `transform` receives the sample (a PIL image, or for
`Digits` a float32 array) and `target_transform` the target, as in torchvision.

Digits data: `digits.csv.gz` is the copy of the UCI ML hand-written digits test set
(E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine Learning
Repository, 1998, https://doi.org/10.24432/C50P49), licensed CC BY 4.0, as bundled by scikit-learn
(sklearn/datasets/data/digits.csv.gz): 1,797 rows of 64 pixel values in 0..16 and the label.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from jtorch.utils.data.dataset import Dataset

__all__ = [
    "IMG_EXTENSIONS",
    "VisionDataset",
    "DatasetFolder",
    "ImageFolder",
    "CSVImageDataset",
    "MNIST",
    "FashionMNIST",
    "CIFAR10",
    "CIFAR100",
    "Digits",
    "pil_loader",
    "default_loader",
    "find_classes",
    "make_dataset",
]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _no_download(name: str) -> None:
    raise RuntimeError(
        f"{name}: download=True is not supported: jtorch cannot download datasets (no network "
        "access is assumed). Put the files in place yourself and pass download=False."
    )


class VisionDataset(Dataset):
    """Base class: stores `root`, `transform` and `target_transform`."""

    _repr_indent = 4

    def __init__(
        self,
        root: str | Path | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        self.root = os.path.expanduser(root) if isinstance(root, (str, Path)) else root
        self.transform = transform
        self.target_transform = target_transform

    def _apply(self, sample: Any, target: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = "Dataset " + self.__class__.__name__
        body = [f"Number of datapoints: {self.__len__()}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += [line for line in self.extra_repr().splitlines() if line]
        if self.transform is not None:
            body += [f"Transform: {self.transform!r}"]
        if self.target_transform is not None:
            body += [f"Target transform: {self.target_transform!r}"]
        return "\n".join([head] + [" " * self._repr_indent + line for line in body])


# ----------------------------------------------------------------------------- folders
def pil_loader(path: str) -> Image.Image:
    """Open an image file as an RGB PIL image."""
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


default_loader = pil_loader


def find_classes(directory: str | Path) -> tuple[list[str], dict[str, int]]:
    """The sorted class folder names in `directory` and their indices."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Couldn't find the dataset folder {os.fspath(directory)!r}.")
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {os.fspath(directory)}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(
    directory: str | Path,
    class_to_idx: dict[str, int] | None = None,
    extensions: str | tuple[str, ...] | None = None,
    is_valid_file: Callable[[str], bool] | None = None,
    allow_empty: bool = False,
) -> list[tuple[str, int]]:
    """(path, class index) for every valid file under each class folder, in torchvision's order."""
    directory = os.path.expanduser(directory)
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError(
            "Both extensions and is_valid_file cannot be None or not None at the same time"
        )
    if extensions is not None:
        exts = extensions if isinstance(extensions, str) else tuple(extensions)

        def is_valid_file(x: str) -> bool:
            return x.lower().endswith(exts)

    instances, available = [], set()
    for target_class in sorted(class_to_idx):
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):  # type: ignore[misc]
                    instances.append((path, class_to_idx[target_class]))
                    available.add(target_class)
    empty = set(class_to_idx) - available
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            ext_text = extensions if isinstance(extensions, str) else ", ".join(extensions)
            msg += f"Supported extensions are: {ext_text}"
        raise FileNotFoundError(msg)
    return instances


class DatasetFolder(VisionDataset):
    """Samples `root/<class>/**/<file>` with `loader(path)`; classes are the sorted folder names.

    Attributes as torchvision: `classes`, `class_to_idx`, `samples` [(path, index)], `targets`.
    """

    def __init__(
        self,
        root: str | Path,
        loader: Callable[[str], Any],
        extensions: tuple[str, ...] | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx, extensions, is_valid_file, allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(
        directory: str | Path,
        class_to_idx: dict[str, int],
        extensions: tuple[str, ...] | None = None,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> list[tuple[str, int]]:
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        return find_classes(directory)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)

    def __len__(self) -> int:
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """`DatasetFolder` of images (IMG_EXTENSIONS) opened as RGB PIL images."""

    def __init__(
        self,
        root: str | Path,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        loader: Callable[[str], Any] = default_loader,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> None:
        super().__init__(
            root,
            loader,
            IMG_EXTENSIONS if is_valid_file is None else None,
            transform=transform,
            target_transform=target_transform,
            is_valid_file=is_valid_file,
            allow_empty=allow_empty,
        )
        self.imgs = self.samples


class CSVImageDataset(VisionDataset):
    """Images listed in a CSV file: a header row, then `filename,label` rows (the seed's MyDataset).

    The image is `loader(os.path.join(img_dir, filename))` (an RGB PIL image by default); the label
    is an int when it parses as one, else the string. Read with the csv module (no pandas).
    """

    def __init__(
        self,
        annotations_file: str | Path,
        img_dir: str | Path,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        *,
        loader: Callable[[str], Any] = default_loader,
    ) -> None:
        super().__init__(None, transform, target_transform)
        if not os.path.isfile(annotations_file):
            raise FileNotFoundError(
                f"CSVImageDataset: annotations file {os.fspath(annotations_file)!r} not found"
            )
        with open(annotations_file, newline="") as f:
            rows = [r for r in csv.reader(f) if r]
        if not rows:
            raise ValueError(f"CSVImageDataset: {os.fspath(annotations_file)!r} is empty")
        self.header = rows[0]
        self.img_labels = [(r[0], _parse_label(r[1]) if len(r) > 1 else None) for r in rows[1:]]
        self.img_dir = os.fspath(img_dir)
        self.loader = loader

    def __len__(self) -> int:
        return len(self.img_labels)

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        name, label = self.img_labels[idx]
        return self._apply(self.loader(os.path.join(self.img_dir, name)), label)


def _parse_label(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


# ----------------------------------------------------------------------------- MNIST
_IDX_DTYPES = {8: np.uint8, 9: np.int8, 11: ">i2", 12: ">i4", 13: ">f4", 14: ">f8"}


def _read_idx(path: str) -> np.ndarray:
    """An IDX file (big-endian header: 0, 0, dtype code, ndim, then the dims) as an array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number {data[:4]!r})")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">i4", count=ndim, offset=4).astype(np.int64)
    arr = np.frombuffer(data, dtype=_IDX_DTYPES[data[2]], offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path!r}: header says shape {tuple(dims)}, found {arr.size} values")
    return arr.reshape(tuple(dims)).astype(np.dtype(_IDX_DTYPES[data[2]]).newbyteorder("="))


class MNIST(VisionDataset):
    """MNIST from torchvision's raw layout: root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-
    ubyte (each file may also be gzipped, '.gz'). Items: (PIL 'L' image 28x28, int label)."""

    classes = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]  # fmt: skip

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        if download:
            _no_download(type(self).__name__)
        self.train = train
        prefix = "train" if train else "t10k"
        images = self._find(f"{prefix}-images-idx3-ubyte")
        labels = self._find(f"{prefix}-labels-idx1-ubyte")
        self.data = _read_idx(images).astype(np.uint8)
        self.targets = _read_idx(labels).astype(np.int64)
        if self.data.ndim != 3 or len(self.data) != len(self.targets):
            raise ValueError(
                f"{type(self).__name__}: images {images!r} have shape {self.data.shape} but labels "
                f"{labels!r} have shape {self.targets.shape} (expected (N, H, W) and (N,))"
            )

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    def _find(self, name: str) -> str:
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        prefix = "train" if self.train else "t10k"
        wanted = ", ".join(f"{prefix}-{k}-ubyte[.gz]" for k in ("images-idx3", "labels-idx1"))
        raise RuntimeError(
            f"{type(self).__name__} not found: missing {os.path.join(self.raw_folder, name)}[.gz]. "
            f"Put the IDX files ({wanted}) in {self.raw_folder}/ "
            "(jtorch cannot download them)."
        )

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        img = Image.fromarray(self.data[index])
        return self._apply(img, int(self.targets[index]))

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Fashion-MNIST in MNIST's format under root/FashionMNIST/raw/."""

    classes = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]  # fmt: skip


# ----------------------------------------------------------------------------- CIFAR
@functools.cache
def _numpy_globals() -> dict[tuple[str, str], Any]:
    """The globals a numpy-array pickle (CIFAR's batches) may name, as sealed stand-ins for
    jtorch's one restricted unpickler: each call builds a fresh object (dtypes are copied, so a
    BUILD opcode can never reach numpy's shared dtype singletons)."""
    from jtorch.checkpoint._unpickler import Sealed, SealedFunction

    try:
        from numpy._core import multiarray as _ma
        from numpy._core import numeric as _num
    except ImportError:  # numpy < 2
        from numpy.core import multiarray as _ma  # type: ignore[no-redef]
        from numpy.core import numeric as _num  # type: ignore[no-redef]

    ndarray = Sealed()

    def encode(text: str, encoding: str = "latin1") -> bytes:
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise pickle.UnpicklingError(f"refusing _codecs.encode as {encoding!r}")
        return text.encode("latin1")

    def dtype(spec: Any, align: bool = False, copy: bool = False) -> np.dtype:
        if not isinstance(spec, str):
            raise pickle.UnpicklingError(f"refusing numpy.dtype({spec!r})")
        return np.dtype(spec, bool(align), True)

    def reconstruct(cls: Any, shape: Any, typecode: Any) -> np.ndarray:
        if cls is not ndarray:
            raise pickle.UnpicklingError("refusing numpy _reconstruct of a non-ndarray class")
        return _ma._reconstruct(np.ndarray, shape, typecode)

    def scalar(dtype: Any, data: Any = None) -> Any:
        if not isinstance(dtype, np.dtype) or not isinstance(data, (bytes, type(None))):
            raise pickle.UnpicklingError("refusing numpy scalar of non-dtype or non-bytes")
        return _ma.scalar(dtype, data)

    allowed: dict[tuple[str, str], Any] = {
        ("_codecs", "encode"): SealedFunction(encode, "_codecs.encode"),
        ("numpy", "ndarray"): ndarray,
        ("numpy", "dtype"): SealedFunction(dtype, "numpy.dtype"),
    }
    for pkg in ("numpy.core", "numpy._core"):
        allowed[f"{pkg}.multiarray", "_reconstruct"] = SealedFunction(reconstruct, "_reconstruct")
        allowed[f"{pkg}.multiarray", "scalar"] = SealedFunction(scalar, "scalar")
        if hasattr(_num, "_frombuffer"):
            allowed[f"{pkg}.numeric", "_frombuffer"] = SealedFunction(_num._frombuffer, "fb")
    return allowed


def _load_pickle(path: str) -> Any:
    from jtorch.checkpoint._unpickler import unpickle

    with open(path, "rb") as f:
        data = io.BytesIO(f.read())
    what = "a builtin container or numpy array (dataset pickles hold only data)"
    return unpickle(data, _numpy_globals(), path, what, encoding="latin1")


def _get(d: dict, key: str) -> Any:
    if key in d:
        return d[key]
    bkey = key.encode()
    if bkey in d:
        return d[bkey]
    raise KeyError(key)


class CIFAR10(VisionDataset):
    """CIFAR-10 from the python batches in root/cifar-10-batches-py/ (data_batch_1..5,
    test_batch, batches.meta). Items: (PIL RGB image 32x32, int label)."""

    base_folder = "cifar-10-batches-py"
    train_list = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
    test_list = ["test_batch"]
    meta = {"filename": "batches.meta", "key": "label_names"}
    labels_key = "labels"

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        if download:
            _no_download(type(self).__name__)
        self.train = train
        folder = os.path.join(self.root, self.base_folder)
        names = self.train_list if train else self.test_list
        needed = [*names, self.meta["filename"]]
        missing = [n for n in needed if not os.path.isfile(os.path.join(folder, n))]
        if missing:
            raise RuntimeError(
                f"{type(self).__name__} not found: missing {', '.join(missing)} in {folder}/. "
                f"Put the python-version batches ({', '.join(needed)}) there "
                "(jtorch cannot download them)."
            )
        data, targets = [], []
        for name in names:
            entry = _load_pickle(os.path.join(folder, name))
            data.append(np.asarray(_get(entry, "data"), dtype=np.uint8))
            targets.extend(int(t) for t in _get(entry, self.labels_key))
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, H, W, C)
        self.targets = targets
        meta = _load_pickle(os.path.join(folder, self.meta["filename"]))
        names_ = _get(meta, self.meta["key"])
        self.classes = [n.decode() if isinstance(n, bytes) else n for n in names_]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        return self._apply(Image.fromarray(self.data[index]), self.targets[index])

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100 (fine labels) from root/cifar-100-python/ (train, test, meta)."""

    base_folder = "cifar-100-python"
    train_list = ["train"]
    test_list = ["test"]
    meta = {"filename": "meta", "key": "fine_label_names"}
    labels_key = "fine_labels"


# ----------------------------------------------------------------------------- Digits
_DIGITS_FILE = os.path.join(os.path.dirname(__file__), "digits.csv.gz")
_DIGITS_SPLIT_SEED = 0
_DIGITS_TEST_FRACTION = 0.2


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    raw = np.loadtxt(_DIGITS_FILE, delimiter=",", dtype=np.float64)
    return raw[:, :64].reshape(-1, 1, 8, 8), raw[:, 64].astype(np.int64)


def _digits_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified 80/20: per class (0..9), numpy default_rng(0) permutes the class's indices and
    the first round(0.2 * count) go to test; each split is then sorted by original index."""
    rng = np.random.default_rng(_DIGITS_SPLIT_SEED)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(_DIGITS_TEST_FRACTION * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


class Digits(VisionDataset):
    """The 1,797 8x8 handwritten digits bundled with jtorch (scikit-learn's copy of UCI's set).

    Split: a fixed stratified 80/20 split (1,438 train, 359 test; see `_digits_split`).
    Items: (float32 array (1, 8, 8) = pixel / 16 in [0, 1], int label 0..9); `transform` receives
    that array (use array transforms such as Normalize, Resize, or ToPILImage first for PIL ones).
    `root` is accepted for signature compatibility and ignored; there is nothing to download.
    """

    classes = [str(i) for i in range(10)]

    def __init__(
        self,
        root: str | Path | None = None,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        images, labels = _digits_arrays()
        train_idx, test_idx = _digits_split(labels)
        idx = train_idx if train else test_idx
        self.train = train
        self.indices = idx
        self.data = (images[idx] / 16.0).astype(np.float32)  # a copy: the cache stays intact
        self.targets = labels[idx]

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        return self._apply(self.data[index], int(self.targets[index]))

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"
