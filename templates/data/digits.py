"""Data: scikit-learn's bundled digits, kept as tensors and normalised per batch on the model's device."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader

from .loaders import TensorBatches, tensor_loader

# Pixel statistics of the digits images scaled to [0, 1] (their raw values are 0..16).
DIGITS_MEAN, DIGITS_STD = 0.3053, 0.3760


def random_shift(images: Tensor, pixels: int) -> Tensor:
    """Translate every image by its own random offset of up to `pixels` in each direction, padding with 0."""
    n, channels, height, width = images.shape
    padded = F.pad(images, (pixels, pixels, pixels, pixels))
    offsets = torch.randint(0, 2 * pixels + 1, (2, n), device=images.device)
    rows = (offsets[0, :, None] + torch.arange(height, device=images.device))[:, None, :, None]
    cols = (offsets[1, :, None] + torch.arange(width, device=images.device))[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(channels, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


class DigitsDataModule(LightningDataModule):
    """The 1,797 8x8 handwritten digits shipped with scikit-learn, split stratified and reproducibly.

    Args:
        batch_size: Samples per batch.
        num_workers: Loader worker processes; 0 is fastest for data held in memory.
        val_fraction: Share of all images held out for validation.
        test_fraction: Share of all images held out for the final test.
        split_seed: Seed of the train/val/test split (independent of the training seed).
        shift: Training images are translated by up to this many pixels (0 turns it off).
        normalize: "standard" gives pixels zero mean and unit variance; "symmetric" maps them to [-1, 1]
            (the range of a generator that ends in tanh).
    """

    num_classes = 10
    input_shape = (1, 8, 8)

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.15,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        shift: int = 1,
        normalize: Literal["standard", "symmetric"] = "standard",
    ) -> None:
        super().__init__()
        if not 0 < val_fraction < 1 or not 0 < test_fraction < 1 or val_fraction + test_fraction >= 1:
            raise ValueError(
                f"val_fraction={val_fraction} and test_fraction={test_fraction} must each lie in (0, 1)"
                " and sum to less than 1"
            )
        self.save_hyperparameters()
        self.splits: dict[str, TensorBatches] = {}

    def setup(self, stage: str | None = None) -> None:
        """Load the digits once and split them; later calls reuse the split."""
        if self.splits:
            return
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.uint8).unsqueeze(1)
        labels = torch.as_tensor(digits.target, dtype=torch.long)
        hp = self.hparams
        rest, test = train_test_split(
            range(len(labels)), test_size=hp.test_fraction, stratify=labels, random_state=hp.split_seed
        )
        val_share = hp.val_fraction / (1 - hp.test_fraction)
        train, val = train_test_split(rest, test_size=val_share, stratify=labels[rest], random_state=hp.split_seed)
        for name, index in (("train", train), ("val", val), ("test", test)):
            index = torch.as_tensor(sorted(index))
            self.splits[name] = TensorBatches(images[index], labels[index])

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Scale raw 0..16 pixels and normalise them, on whatever device the batch now is.

        A bare tensor is already model input (Lightning passes `example_input_array` through here).
        """
        if isinstance(batch, Tensor):
            return batch
        images, labels = batch
        images = images.float()
        if self.trainer is not None and self.trainer.training and self.hparams.shift > 0:
            images = random_shift(images, self.hparams.shift)
        if self.hparams.normalize == "symmetric":
            return images / 8 - 1, labels
        return (images / 16 - DIGITS_MEAN) / DIGITS_STD, labels

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        return tensor_loader(self.splits[split], self.hparams.batch_size, shuffle, self.hparams.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")
