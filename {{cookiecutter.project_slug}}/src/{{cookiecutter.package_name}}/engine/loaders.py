"""Fast loading of data held in memory as tensors: one index operation per batch, no per-sample work.

Under several processes (DDP, FSDP, torchrun, SLURM) the samplers here deal the data out by rank
themselves; Lightning leaves a `DistributedSampler` in place instead of wrapping it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .speed import fits_on_device


class DataError(ValueError):
    """Data that cannot be used as it is: missing, unreadable or inconsistent. The message says what to do."""


def check_settings(batch_size: int, num_workers: int, **fractions: float) -> None:
    """Refuse, with DataError, a batch size below 1, a negative worker count, or shares held out
    (`val_fraction=0.1, test_fraction=0.2`) outside (0, 1) or summing to 1 or more."""
    if batch_size < 1:
        raise DataError(f"data.batch_size {batch_size}: a batch holds at least 1 sample; give a positive size")
    if num_workers < 0:
        raise DataError(f"data.num_workers {num_workers}: give 0 (load in the training process) or more workers")
    for name, value in fractions.items():
        if not 0 < value < 1:
            raise DataError(f"data.{name} {value}: a share of the data, between 0 and 1 (e.g. 0.1)")
    if len(fractions) > 1 and sum(fractions.values()) >= 1:
        given = " + ".join(f"data.{name} {value}" for name, value in fractions.items())
        raise DataError(f"{given} hold out all the data: their sum must stay below 1, leaving some to train on")


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
    """`splits` moved once to the GPU the trainer trains on (each process its own), when they fit and the
    loader has no worker processes (which cannot share GPU memory): batches are then sliced on the GPU,
    with no copy per step."""
    device = trainer.strategy.root_device if trainer is not None else None
    if device is None or num_workers > 0 or any(split.inputs.device == device for split in splits.values()):
        return splits
    if not fits_on_device([t for split in splits.values() for t in (split.inputs, split.targets)], device):
        return splits
    return {name: split.to(device) for name, split in splits.items()}


def keep_batch(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Collate function for `TensorBatches`: the batch is already stacked."""
    return batch


class EpochShuffle(DistributedSampler):
    """This process's share of a random order drawn from `seed` and the epoch number.

    Every epoch the whole dataset is permuted from (seed, epoch) and dealt out in turn: rank r takes
    positions r, r + W, r + 2W, ... of W processes. Within an epoch the processes see distinct samples
    and together every sample once; the order changes every epoch and is the same in every run with
    that seed, which is what makes a resumed run exact. The deal also keeps batches aligned: with
    batch size b, global batch k (positions kWb to (k+1)Wb) is the same set of samples a single process
    with batch size Wb sees as its batch k. The shares of W processes differ by at most one sample;
    in the rare case where that would give some processes one batch more (N mod Wb below W), the
    short shares are topped up with samples from the start of the order, as DistributedSampler does.

    Resuming mid-epoch: `resume_at(epoch, start)` leaves out the first `start` samples of this
    process's share in that epoch (the batches trained on before the checkpoint); its length stays
    that of the whole share, as Lightning counts batches from the checkpoint on.
    """

    def __init__(self, size: int, seed: int, batch_size: int = 1, num_replicas: int = 1, rank: int = 0) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not one of the {num_replicas} processes")
        # DistributedSampler's own attributes, set here without its process-group lookups.
        self.num_replicas, self.rank, self.seed, self.epoch = num_replicas, rank, seed, 0
        self.shuffle, self.drop_last = True, False
        self.size, self.batch_size = size, batch_size
        self.num_samples = self.share_size()
        self.total_size = self.num_samples * num_replicas
        self.resume_epoch, self.start = None, 0

    def share_size(self) -> int:
        """Samples per process: equal batch counts on every process, each sample once where that allows."""
        largest = math.ceil(self.size / self.num_replicas)
        smallest = self.size // self.num_replicas
        if math.ceil(largest / self.batch_size) != math.ceil(smallest / self.batch_size):
            return largest  # the short shares are topped up
        return largest if self.rank < self.size % self.num_replicas or smallest == largest else smallest

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def resume_at(self, epoch: int, start: int) -> None:
        """Begin `epoch` at sample `start` of this process's share."""
        self.resume_epoch, self.start = epoch, start

    def order(self) -> list[int]:
        """This process's whole share of the current epoch, in order."""
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        permutation = torch.randperm(self.size, generator=generator)
        if self.num_samples * self.num_replicas > self.size:  # top up, only where batch counts would differ
            permutation = torch.cat([permutation, permutation[: self.num_samples * self.num_replicas - self.size]])
        return permutation[self.rank :: self.num_replicas][: self.num_samples].tolist()

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        skip = self.start if self.epoch == self.resume_epoch else 0
        return iter(self.order()[skip:])


class Shard(DistributedSampler):
    """This process's share of an evaluation split, in order and never padded: rank r takes samples
    r, r + W, ... so each sample is evaluated once in all (a DistributedSampler would repeat samples
    to even the shares out, which skews the metrics)."""

    def __init__(self, size: int, num_replicas: int = 1, rank: int = 0) -> None:
        self.num_replicas, self.rank, self.seed, self.epoch = num_replicas, rank, 0, 0
        self.shuffle, self.drop_last = False, False
        self.size = size
        self.num_samples = len(range(rank, size, num_replicas))
        self.total_size = size

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.size, self.num_replicas))


class EpochLoader(DataLoader):
    """A DataLoader over an `EpochShuffle` that Lightning can resume mid-epoch.

    Lightning saves `state_dict()` in every checkpoint and, resuming from one written within an epoch
    (the checkpoint a SLURM requeue signal makes), calls `load_state_dict()` before iterating: the
    loader then leaves out the batches this process had trained on, so the resumed epoch goes on with
    exactly the batches that were left.
    """

    sampler: EpochShuffle

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches_done = 0

    def __iter__(self) -> Iterator[Any]:
        skipped = self.sampler.start if self.sampler.epoch == self.sampler.resume_epoch else 0
        self.batches_done = skipped // (self.batch_size or 1)
        for batch in super().__iter__():
            self.batches_done += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Where this process is in the epoch: batches handed out so far (Lightning does not fetch
        ahead from a loader whose length it knows)."""
        sampler = self.sampler
        return {
            "epoch": sampler.epoch,
            "batches_done": self.batches_done,
            "batch_size": self.batch_size,
            "processes": sampler.num_replicas,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume the saved epoch after the batches it had done."""
        here = (self.batch_size, self.sampler.num_replicas)
        if (state["batch_size"], state["processes"]) != here and state["batches_done"]:
            raise DataError(
                f"the checkpoint was written in the middle of epoch {state['epoch']} by {state['processes']}"
                f" process(es) at batch size {state['batch_size']}; this run has {here[1]} at {here[0]}: resume"
                " it with the same trainer.devices, trainer.num_nodes and data.batch_size, or from a checkpoint"
                " written at the end of an epoch"
            )
        self.sampler.resume_at(state["epoch"], state["batches_done"] * state["batch_size"])


def tensor_loader(
    data: TensorBatches, batch_size: int, *, shuffle: bool = False, num_workers: int = 0, trainer: Any = None
) -> DataLoader:
    """A DataLoader over `data` for this process: its share of a per-epoch shuffle drawn from the global
    seed (`seed_everything`) when `shuffle`, else its share of the split in order. `trainer` tells the
    process's rank and the number of processes (none: all of the data for one process).

    The loader draws its workers' seeds from a generator of its own, not from torch's global one, so
    that starting an epoch consumes no global random numbers: a resumed run draws the same ones as an
    uninterrupted run.
    """
    seed = torch.initial_seed()
    # Every process is a data-parallel one here, FSDP's included (the models use no tensor parallelism).
    ranks = {"num_replicas": trainer.world_size, "rank": trainer.global_rank} if trainer is not None else {}
    options: dict[str, Any] = {
        "batch_size": batch_size,
        "num_workers": num_workers,
        "collate_fn": keep_batch,
        "persistent_workers": num_workers > 0,
        "generator": torch.Generator().manual_seed(seed % 2**63),
    }
    if shuffle:
        return EpochLoader(data, sampler=EpochShuffle(len(data), seed, batch_size, **ranks), **options)
    return DataLoader(data, sampler=Shard(len(data), **ranks), **options)
