"""Data: your own images in class folders, decoded once, resized, and kept in memory as uint8 tensors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn
from PIL import Image
from torch import Tensor

from .engine.image_data import ImageDataModule, Normalize, stratified_split
from .engine.loaders import DataError, check_settings

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SPLITS = ("train", "val", "test")
# What PIL raises for a file it cannot decode: unreadable, corrupt, not an image, or too large to be safe.
UNREADABLE = (OSError, ValueError, Image.DecompressionBombError)


def class_folders(folder: Path) -> dict[str, list[Path]]:
    """Class name to its image files, for every sub-folder of `folder`; a folder without images is an error."""
    classes = {}
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        images = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in EXTENSIONS)
        if not images:
            raise DataError(f"class folder {class_dir} holds no images ({', '.join(EXTENSIONS)})")
        classes[class_dir.name] = images
    if not classes:
        raise DataError(
            f"image folder {folder} holds no class folders: put the images of each class in"
            f" {folder}/<class name>/, optionally under train/, val/ and test/"
        )
    return classes


def decode(path: Path, size: int, channels: int) -> np.ndarray:
    """One image as uint8 (channels, size, size), converted to grayscale or RGB and resized."""
    with Image.open(path) as image:
        image = image.convert("L" if channels == 1 else "RGB").resize((size, size), Image.Resampling.BILINEAR)
        array = np.array(image, dtype=np.uint8)  # a writable copy, as torch.from_numpy wants
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def image_files(folder: Path) -> list[Path]:
    """Every image file under `folder` and its sub-folders, sorted; links to folders are not followed."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder: give a folder of images")
    paths = [Path(top) / name for top, _, names in os.walk(folder) for name in names]
    images = sorted(path for path in paths if path.suffix.lower() in EXTENSIONS)
    if not images:
        raise DataError(f"no images ({', '.join(EXTENSIONS)}) under {folder}")
    return images


def folder_batches(folder: Path, shape: tuple[int, int, int], batch_size: int = 256) -> Iterator[tuple[list, Tensor]]:
    """(paths, uint8 images) batches of every image under `folder`, decoded and resized to `shape`
    (channels, height, width). A file that cannot be decoded is skipped with a warning that names it."""
    paths = image_files(folder)
    read = 0
    for start in range(0, len(paths), batch_size):
        chunk, images = [], []
        for path in paths[start : start + batch_size]:
            try:
                images.append(torch.from_numpy(decode(path, shape[1], shape[0])))
            except UNREADABLE as error:
                rank_zero_warn(f"skipping unreadable image {path}: {error}")
                continue
            chunk.append(path)
        if images:
            read += len(images)
            yield chunk, torch.stack(images)
    if not read:
        raise DataError(f"none of the {len(paths)} images under {folder} can be read")


class ImageFolderDataModule(ImageDataModule):
    """Your images, one folder per class: `root/<class>/*.png` (also jpg, jpeg, bmp, gif, webp).

    If `root` has `train/` (and optionally `val/`, `test/`) sub-folders, each holding class folders,
    those are the splits. Otherwise, and for a missing `val/` or `test/`, images are held out
    stratified and seeded: `test_fraction` of them for the test split, then `val_fraction` of the
    rest for validation. Class names are the folder names, in sorted order; their index is the label.

    All images are decoded once, converted to `channels` (1: grayscale, 3: RGB), resized to
    `size` x `size` and kept in memory as uint8; the normalisation statistics are measured on the
    training split. A file that cannot be read stops `setup` with its path, unless `skip_bad_images`
    is set: then it is skipped with a warning that names it.

    Args:
        root: The image folder.
        size: Images are resized to size x size pixels.
        channels: 1 (grayscale) or 3 (RGB).
        skip_bad_images: Skip unreadable images with a warning instead of stopping.
        batch_size: Samples per batch.
        num_workers: Loader worker processes; 0 is fastest for data held in memory.
        val_fraction: Share held out for validation (when there is no val/ folder).
        test_fraction: Share held out for testing (when there is no test/ folder).
        split_seed: Seed of the splits (independent of the training seed).
        shift: Training images are translated by up to this many pixels (0 turns it off).
        flip: Mirror training images left-right at random.
        normalize: "standard" gives pixels zero mean and unit variance per channel; "symmetric" maps
            them to [-1, 1] (the range of a generator that ends in tanh).
    """

    def __init__(
        self,
        root: str = "data/images",
        size: int = 32,
        channels: Literal[1, 3] = 3,
        skip_bad_images: bool = False,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        shift: int = 2,
        flip: bool = False,
        normalize: Normalize = "standard",
    ) -> None:
        super().__init__()
        check_settings(batch_size, num_workers, val_fraction=val_fraction, test_fraction=test_fraction)
        self.save_hyperparameters()
        folder = Path(root)
        if not folder.is_dir():
            raise DataError(f"image folder {folder} does not exist: set data.root to a folder of class folders")
        split_dirs = [name for name in SPLITS if (folder / name).is_dir()]
        if split_dirs and "train" not in split_dirs:
            raise DataError(f"image folder {folder} has {', '.join(split_dirs)}/ but no train/ folder")
        self.files = {name: class_folders(folder / name) for name in split_dirs} or {"all": class_folders(folder)}
        self.classes = sorted(next(iter(self.files.values())))
        for name, classes in self.files.items():
            if unknown := sorted(set(classes) - set(self.classes)):
                raise DataError(f"{folder / name} has classes that train/ lacks: {', '.join(unknown)}")
        self.num_classes = len(self.classes)
        self.input_shape = (channels, size, size)

    @property
    def class_names(self) -> list[str]:
        return self.classes

    def state_dict(self) -> dict[str, tuple[float, ...]]:
        """Saved in checkpoints: the normalisation measured on the training images, so a checkpoint can
        be used (predict.py, export.py) without reading them again."""
        return {"mean": self.mean, "std": self.std}

    def load_state_dict(self, state_dict: dict[str, tuple[float, ...]]) -> None:
        self.mean, self.std = tuple(state_dict["mean"]), tuple(state_dict["std"])

    def _read(self, classes: dict[str, list[Path]]) -> tuple[Tensor, Tensor]:
        hp = self.hparams
        images, labels = [], []
        for name, paths in classes.items():
            for path in paths:
                try:
                    images.append(decode(path, hp.size, hp.channels))
                except UNREADABLE as error:
                    if not hp.skip_bad_images:
                        raise DataError(
                            f"cannot read image {path}: {error}; fix or remove it, or set data.skip_bad_images: true"
                        ) from None
                    rank_zero_warn(f"skipping unreadable image {path}: {error}")
                    continue
                labels.append(self.classes.index(name))
        if not images:
            raise DataError(f"no readable images under {self.hparams.root}")
        return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.long)

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        hp = self.hparams
        splits = {name: self._read(classes) for name, classes in self.files.items()}
        if "all" in splits:
            images, labels = splits.pop("all")
            rest, test = stratified_split(labels, hp.test_fraction, hp.split_seed)
            splits["train"], splits["test"] = (images[rest], labels[rest]), (images[test], labels[test])
        for held_out, fraction in (("test", hp.test_fraction), ("val", hp.val_fraction)):
            if held_out not in splits:
                images, labels = splits["train"]
                kept, held = stratified_split(labels, fraction, hp.split_seed)
                splits["train"], splits[held_out] = (images[kept], labels[kept]), (images[held], labels[held])
        self.mean, self.std = channel_statistics(splits["train"][0])
        return splits


def channel_statistics(images: Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 images scaled to [0, 1], a chunk at a time."""
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for start in range(0, len(images), chunk):
        pixels = images[start : start + chunk].double().div(255)
        total += pixels.sum(dim=(0, 2, 3))
        squares += pixels.square().sum(dim=(0, 2, 3))
    count = images[:, 0].numel()
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(1e-6).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())
