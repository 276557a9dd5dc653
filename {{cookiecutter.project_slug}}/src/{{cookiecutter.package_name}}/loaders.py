"""Fast loading of data held in memory as tensors: one index operation per batch, no per-sample work."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler


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
        index = torch.as_tensor(indices)
        return self.inputs[index], self.targets[index]


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
    """A DataLoader over `data`; shuffled per epoch from the global seed (`seed_everything`) when asked."""
    return DataLoader(
        data,
        batch_size=batch_size,
        sampler=EpochShuffle(len(data), torch.initial_seed()) if shuffle else None,
        num_workers=num_workers,
        collate_fn=keep_batch,
        persistent_workers=num_workers > 0,
    )
