"""Seed 002 §3: reading data — a custom Dataset over a CSV of image files (the seed's MyDataset),
the same with `jtorch.vision.datasets.CSVImageDataset` and `ImageFolder`, a DataLoader with
`batch_size`, `num_workers`, `shuffle` and `drop_last`, one batch through `next(iter(loader))`,
and the seed's transform `Compose([ToPILImage(), Resize(28), ToTensor()])`.

Run: python examples/dataset_dataloader.py [--num-images N] [--batch-size B] [--num-workers W]
     [--out DIR] [--smoke]

The images are Digits samples written as PNG files with a `labels.csv` into DIR (default: a new
temporary directory); the first image of a batch is drawn to DIR/first_image.png.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile

import numpy as np
from PIL import Image

import jtorch
from jtorch.utils.data import DataLoader, Dataset
from jtorch.vision import datasets, transforms


def read_image(path: str) -> np.ndarray:
    """The file's pixels as a (C, H, W) uint8 array, like torchvision.io.read_image."""
    arr = np.asarray(Image.open(path))
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


class MyDataset(Dataset):
    def __init__(self, annotations_file, img_dir, transform=None, target_transform=None):
        """
        Args:
            annotations_file (string): Path to the csv file with annotations.
            img_dir (string): Directory with all the images.
            transform (callable, optional): Optional transform to be applied on a sample.
            target_transform (callable, optional): Optional transform to be applied on the target.
        """
        with open(annotations_file, newline="") as f:
            self.img_labels = list(csv.reader(f))[1:]  # skip the header row
        self.img_dir = img_dir
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.img_labels)

    def __getitem__(self, idx):
        img_path = os.path.join(self.img_dir, self.img_labels[idx][0])
        image = read_image(img_path)
        label = int(self.img_labels[idx][1])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def write_images(root: str, n: int) -> tuple[str, str, str]:
    """n Digits images as 8×8 grayscale PNGs: flat in images/ with labels.csv, and again as
    folder/<label>/ for ImageFolder. Returns (csv path, image dir, folder root)."""
    digits = datasets.Digits(train=False)
    img_dir, folder = os.path.join(root, "images"), os.path.join(root, "folder")
    os.makedirs(img_dir, exist_ok=True)
    csv_path = os.path.join(root, "labels.csv")
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "label"])
        for i in range(n):
            image, label = digits[i]
            pixels = (np.asarray(image)[0] * 255).round().astype(np.uint8)
            name = f"digit_{i:04d}.png"
            Image.fromarray(pixels, mode="L").save(os.path.join(img_dir, name))
            os.makedirs(os.path.join(folder, str(label)), exist_ok=True)
            Image.fromarray(pixels, mode="L").save(os.path.join(folder, str(label), name))
            writer.writerow([name, label])
    return csv_path, img_dir, folder


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="directory for the images and the plot")
    parser.add_argument("--smoke", action="store_true", help="40 images, no worker processes")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="dataset_dataloader_")
    num_images = 40 if args.smoke else args.num_images
    num_workers = 0 if args.smoke else args.num_workers
    jtorch.manual_seed(args.seed)

    csv_path, img_dir, folder = write_images(out, num_images)

    # 3.3 the transform: array -> PIL -> resized to 28 -> float (C, H, W) in [0, 1]
    image_size = 28
    data_transform = transforms.Compose(
        [transforms.ToPILImage(), transforms.Resize(image_size), transforms.ToTensor()]
    )

    # 3.1 a hand-written Dataset, the library's CSV dataset, and ImageFolder
    train_data = MyDataset(csv_path, img_dir, transform=data_transform)
    val_data = datasets.CSVImageDataset(
        csv_path, img_dir, transform=data_transform, loader=read_image
    )
    folder_data = datasets.ImageFolder(
        folder, transform=transforms.Compose([transforms.Grayscale(), transforms.ToTensor()])
    )
    print(f"MyDataset: {len(train_data)} images; ImageFolder classes: {folder_data.classes}")

    # 3.2 DataLoader
    train_loader = DataLoader(
        train_data,
        batch_size=args.batch_size,
        num_workers=num_workers,
        shuffle=True,
        drop_last=True,
    )
    val_loader = DataLoader(
        val_data, batch_size=args.batch_size, num_workers=num_workers, shuffle=False
    )
    images, labels = next(iter(val_loader))
    print(images.shape)
    train_batches = [labels_batch for _, labels_batch in train_loader]
    val_batch_sizes = [len(b) for _, b in val_loader]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot = os.path.join(out, "first_image.png")
    plt.figure()
    plt.imshow(np.asarray(images[0]).transpose(1, 2, 0)[:, :, 0], cmap="gray")
    plt.savefig(plot)
    plt.close()

    return {
        "batch_shape": tuple(images.shape),
        "batch_labels": np.asarray(labels),
        "first_item": train_data[0],
        "csv_first_item": val_data[0],
        "folder_first_item": folder_data[0],
        "folder_classes": folder_data.classes,
        "train_batch_count": len(train_batches),
        "train_labels_seen": np.sort(np.concatenate([np.asarray(b) for b in train_batches])),
        "val_batch_sizes": val_batch_sizes,
        "num_images": num_images,
        "batch_size": args.batch_size,
        "plot": plot,
        "dir": out,
    }


if __name__ == "__main__":
    main()
