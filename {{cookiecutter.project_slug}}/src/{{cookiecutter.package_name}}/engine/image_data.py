"""In-memory image data: uint8 tensors split once, then normalised and augmented per batch on the device."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader

from .loaders import TensorBatches, hold_on_device, tensor_loader
from .speed import channels_last_on_gpu

Normalize = Literal["standard", "symmetric"]


def random_shift(images: Tensor, pixels: int) -> Tensor:
    """Translate every image by its own random offset of up to `pixels` in each direction, padding with 0
    (a random crop of the zero-padded image)."""
    n, channels, height, width = images.shape
    padded = F.pad(images, (pixels, pixels, pixels, pixels))
    offsets = torch.randint(0, 2 * pixels + 1, (2, n), device=images.device)
    rows = (offsets[0, :, None] + torch.arange(height, device=images.device))[:, None, :, None]
    cols = (offsets[1, :, None] + torch.arange(width, device=images.device))[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(channels, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_flip(images: Tensor) -> Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(len(images), device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def stratified_split(labels: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices (kept, held out), holding out `fraction` of every class, chosen reproducibly from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    kept, held = [], []
    for label in labels.unique():
        index = torch.nonzero(labels == label).flatten()
        index = index[torch.randperm(len(index), generator=generator)]
        count = round(len(index) * fraction)
        held.append(index[:count])
        kept.append(index[count:])
    return torch.cat(kept).sort().values, torch.cat(held).sort().values


def to_model_input(
    images: Tensor,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    pixel_max: float = 255.0,
    normalize: Normalize = "standard",
    shift: int = 0,
    flip: bool = False,
) -> Tensor:
    """A uint8 batch (N, C, H, W) as model input, computed on its own device: augmented (a random shift
    of up to `shift` pixels, a random left-right flip if `flip`), scaled to [0, 1] and normalised.

    Scaling and normalising are one multiply and one subtract, in place: several times faster than
    the same arithmetic written out, which allocates a new tensor at each step. On a GPU the batch
    comes back in channels_last layout, as the convolutions there want it.
    """
    images = images.to(torch.float32, copy=True)
    if shift > 0:
        images = random_shift(images, shift)
    if flip:
        images = random_flip(images)
    images = channels_last_on_gpu(images)
    if normalize == "symmetric":
        return images.mul_(2 / pixel_max).sub_(1)
    mean_ = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    std_ = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return images.mul_(1 / (pixel_max * std_)).sub_(mean_ / std_)


class ImageDataModule(LightningDataModule):
    """Base of the image data modules. A subclass loads its splits as uint8 images (N, C, H, W) with
    integer labels in `load`, and sets `num_classes`, `input_shape`, and the per-channel `mean` and
    `std` of its pixels scaled to [0, 1]. Its hyper-parameters must include `batch_size`,
    `num_workers`, `shift`, `flip` and `normalize`.

    Batches leave the loader as uint8 and are turned into model input on the device they were moved
    to (`on_after_batch_transfer`): scaled, augmented when training (a random shift of up to `shift`
    pixels, a left-right flip if `flip`), then normalised: zero mean and unit variance per channel
    ("standard") or [-1, 1] ("symmetric", the range of a generator that ends in tanh).
    """

    num_classes: int
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pixel_max = 255.0

    def __init__(self) -> None:
        super().__init__()
        self.splits: dict[str, TensorBatches] = {}

    @property
    def class_names(self) -> list[str]:
        """A name per label, for predictions."""
        return [str(label) for label in range(self.num_classes)]

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """The "train", "val" and "test" splits as (uint8 images, labels)."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        """Load and split the images once (onto the GPU if training on one and they fit); later calls reuse them."""
        if not self.splits:
            self.splits = {name: TensorBatches(images, labels) for name, (images, labels) in self.load().items()}
        self.splits = hold_on_device(self.splits, self.trainer, self.hparams.num_workers)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Scale, augment (training only) and normalise a batch on whatever device it now is.

        A bare tensor is already model input (Lightning passes `example_input_array` through here).
        """
        if isinstance(batch, Tensor):
            return batch
        images, labels = batch
        hp = self.hparams
        training = self.trainer is not None and self.trainer.training
        augment = {"shift": hp.shift, "flip": hp.flip} if training else {}
        return to_model_input(images, self.mean, self.std, self.pixel_max, hp.normalize, **augment), labels

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        hp = self.hparams
        return tensor_loader(
            self.splits[split], hp.batch_size, shuffle=shuffle, num_workers=hp.num_workers, trainer=self.trainer
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")
