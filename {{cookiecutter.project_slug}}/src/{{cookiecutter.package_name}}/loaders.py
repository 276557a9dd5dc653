"""Fast loading of data held in memory as tensors: one index operation per batch, no per-sample work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from .speed import fits_on_device


class DataError(ValueError):
    """Data that cannot be used as it is: missing, unreadable or inconsistent. The message says what to do."""


class TensorBatches(Dataset):
    """Inputs and targets held as two tensors; a list of indices fetches a whole batch in one slice."""

    def __init__(self, inputs: Tensor, targets: Tensor) -> None:
        if len(inputs) != len(targets):
            raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets: they must pair up")
        self.inputs, self.targets = inputs, targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.inputs[index], self.targets[index]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices, device=self.inputs.device)
        return self.inputs[index], self.targets[index]

    def to(self, device: torch.device) -> TensorBatches:
        """The same data on `device`."""
        return TensorBatches(self.inputs.to(device), self.targets.to(device))


def hold_on_device(splits: dict[str, TensorBatches], trainer: Any, num_workers: int) -> dict[str, TensorBatches]:
    """`splits` moved once to the GPU the trainer trains on, when they fit and the loader has no worker
    processes (which cannot share GPU memory): batches are then sliced on the GPU, with no copy per step."""
    device = trainer.strategy.root_device if trainer is not None else None
    if device is None or num_workers > 0 or any(split.inputs.device == device for split in splits.values()):
        return splits
    if not fits_on_device([t for split in splits.values() for t in (split.inputs, split.targets)], device):
        return splits
    return {name: split.to(device) for name, split in splits.items()}


def keep_batch(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Collate function for `TensorBatches`: the batch is already stacked."""
    return batch


class EpochShuffle(Sampler[int]):
    """A random order drawn from `seed` and the epoch number, so a resumed run sees the same batches."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        return iter(torch.randperm(self.size, generator=generator).tolist())


def tensor_loader(data: TensorBatches, batch_size: int, shuffle: bool = False, num_workers: int = 0) -> DataLoader:
    """A DataLoader over `data`; shuffled per epoch from the global seed (`seed_everything`) when asked.

    The loader draws its workers' seeds from a generator of its own, not from torch's global one, so
    that starting an epoch consumes no global random numbers: a resumed run draws the same ones as an
    uninterrupted run.
    """
    seed = torch.initial_seed()
    return DataLoader(
        data,
        batch_size=batch_size,
        sampler=EpochShuffle(len(data), seed) if shuffle else None,
        num_workers=num_workers,
        collate_fn=keep_batch,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed % 2**63),
    )
