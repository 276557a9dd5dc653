"""Batch-level image handling shared by the image data modules: augmentation, splits, normalisation."""

from __future__ import annotations

from types import SimpleNamespace

import lightning as L
import torch

from {{ cookiecutter.package_name }}.engine.image_data import random_flip, random_shift, stratified_split


def test_random_shift_moves_each_pixel_at_most_the_given_distance() -> None:
    images = torch.zeros(64, 1, 8, 8)
    images[:, 0, 4, 4] = 1.0
    shifted = random_shift(images, 1)
    assert shifted.shape == images.shape
    rows, cols = torch.nonzero(shifted[:, 0], as_tuple=True)[1:]
    assert set(rows.tolist()) <= {3, 4, 5} and set(cols.tolist()) <= {3, 4, 5}
    assert len({(r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)}) > 1
    assert torch.equal(shifted.sum(dim=(1, 2, 3)), torch.ones(64))


def test_random_flip_mirrors_about_half_the_images() -> None:
    images = torch.arange(4.0).view(1, 1, 1, 4).repeat(200, 3, 2, 1)
    flipped = random_flip(images)
    mirrored = (flipped == images.flip(-1)).flatten(1).all(dim=1)
    unchanged = (flipped == images).flatten(1).all(dim=1)
    assert bool((mirrored | unchanged).all()) and 60 < int(mirrored.sum()) < 140


def test_stratified_split_holds_out_the_fraction_of_every_class() -> None:
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    kept, held = stratified_split(labels, 0.1, seed=0)
    assert torch.bincount(labels[held]).tolist() == [5, 3, 2]
    assert sorted(kept.tolist() + held.tolist()) == list(range(100))
    assert torch.equal(held, stratified_split(labels, 0.1, seed=0)[1])
    assert not torch.equal(held, stratified_split(labels, 0.1, seed=1)[1])


def test_augmentation_changes_training_batches_only(datamodule: L.LightningDataModule) -> None:
    images, labels = next(iter(datamodule.train_dataloader()))
    plain = datamodule.on_after_batch_transfer((images, labels), 0)[0]
    datamodule.hparams.shift, datamodule.hparams.flip = 2, True
    datamodule.trainer = SimpleNamespace(training=True)
    torch.manual_seed(0)
    augmented = datamodule.on_after_batch_transfer((images, labels), 0)[0]
    assert augmented.shape == plain.shape and not torch.equal(augmented, plain)
    datamodule.trainer.training = False
    assert torch.equal(datamodule.on_after_batch_transfer((images, labels), 0)[0], plain)
