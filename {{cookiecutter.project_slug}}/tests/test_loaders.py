"""The in-memory tensor loaders: whole-batch slicing and reproducible per-epoch shuffling."""

from __future__ import annotations

import pytest
import torch

from {{ cookiecutter.package_name }}.loaders import EpochShuffle, TensorBatches, tensor_loader


def test_batches_are_slices_of_the_tensors() -> None:
    data = TensorBatches(torch.arange(10).view(10, 1), torch.arange(10) * 10)
    inputs, targets = next(iter(tensor_loader(data, batch_size=4)))
    assert inputs.tolist() == [[0], [1], [2], [3]] and targets.tolist() == [0, 10, 20, 30]
    assert sum(len(batch[1]) for batch in tensor_loader(data, batch_size=4)) == 10


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="3 inputs but 2 targets"):
        TensorBatches(torch.zeros(3), torch.zeros(2))


def test_shuffle_changes_per_epoch_and_repeats_per_seed() -> None:
    sampler = EpochShuffle(100, seed=7)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(first) == list(range(100))
    assert first != second
    sampler.set_epoch(0)
    assert list(sampler) == first
    assert list(EpochShuffle(100, seed=8)) != first


def test_shuffled_loader_follows_the_global_seed() -> None:
    data = TensorBatches(torch.arange(50), torch.arange(50))
    torch.manual_seed(3)
    first = torch.cat([batch[0] for batch in tensor_loader(data, batch_size=8, shuffle=True)])
    torch.manual_seed(3)
    again = torch.cat([batch[0] for batch in tensor_loader(data, batch_size=8, shuffle=True)])
    assert torch.equal(first, again) and sorted(first.tolist()) == list(range(50))
    assert not torch.equal(first, torch.arange(50))
