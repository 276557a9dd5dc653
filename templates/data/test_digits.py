"""The digits data module: split sizes, stratification, determinism and batches."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT

from {{ cookiecutter.package_name }}.data import DigitsDataModule
from {{ cookiecutter.package_name }}.engine.loaders import DataError


@pytest.fixture(scope="module")
def digits() -> DigitsDataModule:
    data = DigitsDataModule(batch_size=32)
    data.setup()
    return data


def test_split_sizes_cover_all_digits_as_the_readme_says(digits: DigitsDataModule) -> None:
    sizes = {name: len(split) for name, split in digits.splits.items()}
    assert sizes == {"train": 1169, "val": 269, "test": 359}
    assert sum(sizes.values()) == 1797
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"into {sizes['train']:,} train, {sizes['val']:,} validation and {sizes['test']:,} test images" in readme


def test_split_is_stratified(digits: DigitsDataModule) -> None:
    for split in digits.splits.values():
        counts = torch.bincount(split.targets, minlength=10).float()
        assert counts.min() / counts.max() > 0.9, counts


def test_split_is_deterministic_and_disjoint(digits: DigitsDataModule) -> None:
    again = DigitsDataModule()
    again.setup()
    assert torch.equal(again.splits["test"].inputs, digits.splits["test"].inputs)
    train = {tuple(image.flatten().tolist()) for image in digits.splits["train"].inputs}
    test = [tuple(image.flatten().tolist()) for image in digits.splits["test"].inputs]
    # load_digits holds a few exact duplicate images; a leak would be far more than a handful.
    assert sum(image in train for image in test) <= 5


def test_batches_are_normalised_model_input(digits: DigitsDataModule) -> None:
    images, labels = next(iter(digits.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (32, 1, 8, 8)
    images, labels = digits.on_after_batch_transfer((images, labels), 0)
    assert images.dtype == torch.float32 and labels.dtype == torch.long
    everything = digits.on_after_batch_transfer((digits.splits["train"].inputs, labels), 0)[0]
    assert abs(everything.mean().item()) < 0.05
    assert abs(everything.std().item() - 1) < 0.05


def test_symmetric_normalisation_spans_minus_one_to_one() -> None:
    data = DigitsDataModule(normalize="symmetric")
    data.setup()
    images = data.on_after_batch_transfer((data.splits["train"].inputs, data.splits["train"].targets), 0)[0]
    assert images.min().item() == -1.0 and images.max().item() == 1.0


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(DataError, match="data.val_fraction 0.6 \\+ data.test_fraction 0.5 hold out all the data"):
        DigitsDataModule(val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(DataError, match="data.val_fraction 1.5: a share of the data, between 0 and 1"):
        DigitsDataModule(val_fraction=1.5)
    for size in (0, -3):
        with pytest.raises(DataError, match=f"data.batch_size {size}: a batch holds at least 1 sample"):
            DigitsDataModule(batch_size=size)
