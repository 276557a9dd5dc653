"""The in-memory tensor loaders: whole-batch slicing, reproducible per-epoch shuffling, the share of
each process, and resuming in the middle of an epoch."""

from __future__ import annotations

import pytest
import torch

from {{ cookiecutter.package_name }}.engine.loaders import (
    DataError,
    EpochLoader,
    EpochShuffle,
    Shard,
    TensorBatches,
    tensor_loader,
)


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


@pytest.mark.parametrize("processes", [2, 3, 4])
def test_processes_share_each_epoch_without_overlap(processes: int) -> None:
    size, batch = 103, 8
    for epoch in range(3):
        shares = []
        for rank in range(processes):
            sampler = EpochShuffle(size, seed=5, batch_size=batch, num_replicas=processes, rank=rank)
            sampler.set_epoch(epoch)
            shares.append(list(sampler))
            assert len(shares[-1]) == len(sampler)
        assert sorted(sum(shares, [])) == list(range(size))  # every sample once
        assert len({-(-len(share) // batch) for share in shares}) == 1  # the same number of batches each


def test_global_batches_of_two_processes_are_the_batches_of_one() -> None:
    one = list(EpochShuffle(64, seed=1, batch_size=16))
    two = [list(EpochShuffle(64, seed=1, batch_size=8, num_replicas=2, rank=rank)) for rank in (0, 1)]
    for k in range(4):
        assert sorted(two[0][8 * k : 8 * (k + 1)] + two[1][8 * k : 8 * (k + 1)]) == sorted(one[16 * k : 16 * (k + 1)])


def test_shares_are_topped_up_only_where_batch_counts_would_differ() -> None:
    # 17 samples over 2 processes at batch 8: 9 and 8 would make 2 batches and 1; the second gets a 9th.
    shares = [list(EpochShuffle(17, seed=0, batch_size=8, num_replicas=2, rank=rank)) for rank in (0, 1)]
    assert [len(share) for share in shares] == [9, 9]
    assert set(shares[0]) | set(shares[1]) == set(range(17)) and len(set(shares[0]) & set(shares[1])) == 1


def test_evaluation_shards_are_never_padded() -> None:
    shards = [list(Shard(11, num_replicas=3, rank=rank)) for rank in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]


def test_a_loader_resumes_after_the_batches_it_had_done() -> None:
    data = TensorBatches(torch.arange(40), torch.arange(40))

    def loader() -> EpochLoader:
        return tensor_loader(data, batch_size=4, shuffle=True)

    torch.manual_seed(0)
    straight = loader()
    straight.sampler.set_epoch(2)
    batches = [batch[0].tolist() for batch in straight]
    interrupted = loader()
    interrupted.sampler.set_epoch(2)
    iterator = iter(interrupted)
    done = [next(iterator)[0].tolist() for _ in range(3)]
    state = interrupted.state_dict()
    assert state["batches_done"] == 3 and state["epoch"] == 2

    resumed = loader()
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(2)
    assert len(resumed) == len(batches)  # Lightning counts the whole epoch
    assert done + [batch[0].tolist() for batch in resumed] == batches
    resumed.sampler.set_epoch(3)
    assert len(list(resumed)) == len(batches)  # the next epoch is whole again


def test_a_mid_epoch_state_from_another_number_of_processes_is_refused() -> None:
    loader = tensor_loader(TensorBatches(torch.arange(40), torch.arange(40)), batch_size=4, shuffle=True)
    state = {"epoch": 1, "batches_done": 2, "batch_size": 4, "processes": 2}
    with pytest.raises(DataError, match="by 2 process"):
        loader.load_state_dict(state)
