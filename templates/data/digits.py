"""Data: scikit-learn's bundled digits, kept as tensors and normalised per batch on the model's device."""

from __future__ import annotations

import torch
from torch import Tensor

from .engine.image_data import ImageDataModule, Normalize, stratified_split
from .engine.loaders import check_settings


class DigitsDataModule(ImageDataModule):
    """The 1,797 8x8 handwritten digits shipped with scikit-learn, split stratified and reproducibly.

    Args:
        batch_size: Samples per batch.
        num_workers: Loader worker processes; 0 is fastest for data held in memory.
        val_fraction: Share of all images held out for validation.
        test_fraction: Share of all images held out for the final test.
        split_seed: Seed of the train/val/test split (independent of the training seed).
        shift: Training images are translated by up to this many pixels (0 turns it off).
        flip: Mirror training images left-right at random (wrong for digits; there for symmetric data).
        normalize: "standard" gives pixels zero mean and unit variance; "symmetric" maps them to [-1, 1]
            (the range of a generator that ends in tanh).
    """

    num_classes = 10
    input_shape = (1, 8, 8)
    mean, std = (0.3053,), (0.3760,)  # of the pixels scaled to [0, 1]
    pixel_max = 16.0  # the digits' pixels run from 0 to 16

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.15,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        shift: int = 1,
        flip: bool = False,
        normalize: Normalize = "standard",
    ) -> None:
        super().__init__()
        check_settings(batch_size, num_workers, val_fraction=val_fraction, test_fraction=test_fraction)
        self.save_hyperparameters()

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.uint8).unsqueeze(1)
        labels = torch.as_tensor(digits.target, dtype=torch.long)
        hp = self.hparams
        rest, test = stratified_split(labels, hp.test_fraction, hp.split_seed)
        train, val = stratified_split(labels[rest], hp.val_fraction / (1 - hp.test_fraction), hp.split_seed)
        splits = {"train": rest[train], "val": rest[val], "test": test}
        return {name: (images[index], labels[index]) for name, index in splits.items()}
