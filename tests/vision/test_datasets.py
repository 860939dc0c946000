"""jtorch.vision.datasets on files the tests write: folders, CSV, MNIST, CIFAR, Digits."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

from jtorch.utils.data import DataLoader
from jtorch.vision import datasets, transforms


def _write_png(path, seed, size=(6, 5)):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def image_tree(tmp_path):
    for cls, n in [("cat", 3), ("dog", 2), ("bird", 1)]:
        d = tmp_path / cls
        d.mkdir()
        for k in range(n):
            _write_png(d / f"{k}.png", hash((cls, k)) % 1000)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    sub = tmp_path / "cat" / "more"
    sub.mkdir()
    _write_png(sub / "x.PNG", 7)
    return tmp_path


def test_image_folder_classes_samples_and_items(image_tree):
    ds = datasets.ImageFolder(str(image_tree))
    assert ds.classes == ["bird", "cat", "dog"]
    assert ds.class_to_idx == {"bird": 0, "cat": 1, "dog": 2}
    rel = [(os.path.relpath(p, image_tree), t) for p, t in ds.samples]
    assert rel == [
        ("bird/0.png", 0), ("cat/0.png", 1), ("cat/1.png", 1), ("cat/2.png", 1),
        ("cat/more/x.PNG", 1), ("dog/0.png", 2), ("dog/1.png", 2),
    ]  # fmt: skip
    assert ds.targets == [0, 1, 1, 1, 1, 2, 2] and ds.imgs == ds.samples and len(ds) == 7
    img, target = ds[0]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and target == 0
    ds = datasets.ImageFolder(
        str(image_tree), transform=transforms.ToTensor(), target_transform=lambda t: t * 10
    )
    x, t = ds[6]
    assert x.shape == (3, 6, 5) and t == 20


def test_dataset_folder_extensions_and_is_valid_file(image_tree):
    ds = datasets.DatasetFolder(
        str(image_tree), loader=lambda p: p, extensions=(".txt",), allow_empty=True
    )
    assert [os.path.basename(p) for p, _ in ds.samples] == ["notes.txt"]
    ds = datasets.ImageFolder(str(image_tree), is_valid_file=lambda p: p.endswith("0.png"))
    assert len(ds) == 3
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes bird, cat"):
        datasets.DatasetFolder(str(image_tree), loader=lambda p: p, extensions=(".txt",))
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        datasets.DatasetFolder(str(image_tree), loader=lambda p: p)
    with pytest.raises(FileNotFoundError, match="Couldn't find"):
        datasets.ImageFolder(str(image_tree / "missing"))


def test_image_folder_through_dataloader_with_workers(image_tree):
    tf = transforms.Compose([transforms.Resize((4, 4)), transforms.ToTensor()])
    ds = datasets.ImageFolder(str(image_tree), transform=tf)
    single = list(DataLoader(ds, batch_size=3))
    multi = list(DataLoader(ds, batch_size=3, num_workers=2))
    assert [b[0].shape for b in single] == [(3, 3, 4, 4), (3, 3, 4, 4), (1, 3, 4, 4)]
    for a, b in zip(single, multi):
        np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))
        np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))


def test_csv_image_dataset_like_seed_my_dataset(tmp_path):
    (tmp_path / "imgs").mkdir()
    for k in range(3):
        _write_png(tmp_path / "imgs" / f"im{k}.png", k)
    (tmp_path / "labels.csv").write_text("file,label\nim0.png,2\nim1.png,0\nim2.png,1\n")
    tf = transforms.Compose([transforms.ToPILImage(), transforms.Resize(3), transforms.ToTensor()])
    ds = datasets.CSVImageDataset(str(tmp_path / "labels.csv"), str(tmp_path / "imgs"), tf)
    assert len(ds) == 3
    x, y = ds[0]
    assert x.shape == (3, 3, 3) and y == 2
    images, labels = next(iter(DataLoader(ds, batch_size=3)))
    assert images.shape == (3, 3, 3, 3) and np.asarray(labels).tolist() == [2, 0, 1]
    with pytest.raises(FileNotFoundError, match="annotations file"):
        datasets.CSVImageDataset(str(tmp_path / "nope.csv"), str(tmp_path))


def _idx_bytes(arr):
    code = {np.uint8: 8, np.int32: 12}[arr.dtype.type]
    head = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}i", *arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("cls,gz", [(datasets.MNIST, False), (datasets.FashionMNIST, True)])
def test_mnist_idx_files(tmp_path, cls, gz):
    raw = tmp_path / cls.__name__ / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    for name, arr in [("t10k-images-idx3-ubyte", imgs), ("t10k-labels-idx1-ubyte", labels)]:
        data = _idx_bytes(arr)
        if gz:
            with gzip.open(raw / (name + ".gz"), "wb") as f:
                f.write(data)
        else:
            (raw / name).write_bytes(data)
    ds = cls(str(tmp_path), train=False)
    assert len(ds) == 5 and ds.data.shape == (5, 28, 28)
    img, target = ds[2]
    assert img.mode == "L" and target == 4
    np.testing.assert_array_equal(np.asarray(img), imgs[2])
    assert len(ds.classes) == 10
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte.*Put the IDX files"):
        cls(str(tmp_path), train=True)
    with pytest.raises(RuntimeError, match="cannot download"):
        cls(str(tmp_path), download=True)


def _write_cifar(folder, files, labels_key, meta_name, meta_key, n=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    written = {}
    for name in files:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, labels_key.encode(): labels}, f, protocol=2)
        written[name] = (data, labels)
    with open(folder / meta_name, "wb") as f:
        pickle.dump({meta_key: [f"c{i}" for i in range(10)]}, f)
    return written


def test_cifar10_and_cifar100_batches(tmp_path):
    files = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
    w = _write_cifar(
        tmp_path / "cifar-10-batches-py",
        files + ["test_batch"],
        "labels",
        "batches.meta",
        "label_names",
    )
    ds = datasets.CIFAR10(str(tmp_path))
    assert len(ds) == 20 and ds.classes[3] == "c3"
    img, t = ds[5]
    data, labels = w["data_batch_2"]
    np.testing.assert_array_equal(np.asarray(img), data[1].reshape(3, 32, 32).transpose(1, 2, 0))
    assert t == labels[1] and img.mode == "RGB"
    assert len(datasets.CIFAR10(str(tmp_path), train=False)) == 4
    _write_cifar(
        tmp_path / "cifar-100-python", ["train", "test"], "fine_labels", "meta", "fine_label_names"
    )
    assert len(datasets.CIFAR100(str(tmp_path), train=False)) == 4
    with pytest.raises(RuntimeError, match=r"missing .*data_batch_1"):
        datasets.CIFAR10(str(tmp_path / "elsewhere"))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_refuses_pickles_with_code(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name in ("train", "meta"):
        with open(folder / name, "wb") as f:
            pickle.dump({"data": _Evil()}, f)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        datasets.CIFAR100(str(tmp_path))


def test_digits_split_and_items():
    train, test = datasets.Digits(), datasets.Digits(train=False)
    assert (len(train), len(test)) == (1438, 359)
    assert not set(train.indices) & set(test.indices)
    assert len(set(train.indices) | set(test.indices)) == 1797
    x, y = train[0]
    assert x.shape == (1, 8, 8) and x.dtype == np.float32 and isinstance(y, int)
    assert 0.0 <= train.data.min() and train.data.max() <= 1.0
    counts = np.bincount(test.targets, minlength=10)
    assert counts.min() >= 35  # stratified: every class about 20 %
    x, y = next(iter(DataLoader(test, batch_size=64, shuffle=True)))
    assert x.shape == (64, 1, 8, 8) and x.dtype == np.float32 and y.shape == (64,)
    norm = datasets.Digits(train=False, transform=transforms.Normalize([0.5], [0.5]))
    np.testing.assert_allclose(norm[0][0], (test[0][0] - 0.5) / 0.5)


def test_digits_equal_scikit_learn_copy():
    sklearn = pytest.importorskip("sklearn.datasets")
    ref = sklearn.load_digits()
    train = datasets.Digits()
    np.testing.assert_array_equal(train.data[:5, 0] * 16, ref.images[train.indices[:5]])
    np.testing.assert_array_equal(train.targets, ref.target[train.indices])
