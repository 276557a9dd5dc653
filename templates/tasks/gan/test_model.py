"""The GAN: shapes, the two-optimizer training step, the sample grid, and learning."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import quick_trainer

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}
from {{ cookiecutter.package_name }}.model import GAN, mmd
from {{ cookiecutter.package_name }}.nets import Discriminator, Generator


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 30, 26)])
def test_networks_fit_any_image_shape(shape: tuple[int, int, int]) -> None:
    images = Generator(latent_dim=4, image_shape=shape, width=8).eval()(torch.randn(3, 4))
    assert images.shape == (3, *shape)
    assert images.min() >= -1 and images.max() <= 1
    assert Discriminator(shape, width=8)(images).shape == (3,)


def test_mmd_is_zero_for_equal_sets_and_grows_with_the_gap() -> None:
    real = torch.randn(64, 1, 8, 8)
    assert mmd(real, real).item() == pytest.approx(0.0, abs=1e-6)
    assert mmd(real, real + 0.1).item() < mmd(real, real + 1.0).item()


def test_both_networks_learn_and_every_step_counts(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    model = GAN(datamodule.input_shape, latent_dim=8, width=8, d_steps=2, num_images=16)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = quick_trainer(max_epochs=1, limit_train_batches=4, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    changed = {name.split(".")[0] for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"generator", "discriminator"}
    assert trainer.global_step == 4 + 4 // 2  # a discriminator step every batch, a generator step every 2nd
    grid = tmp_path / "samples" / "epoch000.png"  # no TensorBoard logger: the sample grid is a PNG
    assert grid.is_file()


def test_generated_images_move_towards_the_data(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GAN(datamodule.input_shape)
    trainer = quick_trainer(max_epochs=6, default_root_dir=tmp_path)
    untrained = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/mmd"]
    trainer.fit(model, datamodule=datamodule)
    trained = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/mmd"]
    assert trained < 0.5 * untrained
