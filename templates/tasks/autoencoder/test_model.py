"""The autoencoder: shapes, the reconstruction grid, and learning."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import {% if cookiecutter.optimizers == "2" %}parameter_ids, {% endif %}quick_trainer
from PIL import Image

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}
from {{ cookiecutter.package_name }}.model import AutoEncoder


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 30, 26)])
def test_forward_embeds_and_reconstruct_keeps_the_shape(shape: tuple[int, int, int]) -> None:
    model = AutoEncoder(input_shape=shape, latent_dim=5, width=8).eval()
    images = torch.randn(3, *shape)
    assert model(images).shape == (3, 5)
    assert model.reconstruct(images).shape == (3, *shape)


def test_reconstructs_better_than_the_mean_image(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    model = AutoEncoder(datamodule.input_shape, latent_dim=16, width=16, num_images=6)
    trainer = quick_trainer(max_epochs=5, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    error = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/loss"]

    def normalised(split: str) -> torch.Tensor:
        data = datamodule.splits[split]
        return datamodule.on_after_batch_transfer((data.inputs, data.targets), 0)[0]

    mean_image = normalised("train").mean(dim=0, keepdim=True)
    baseline = torch.nn.functional.mse_loss(mean_image.expand_as(normalised("test")), normalised("test")).item()
    assert error < 0.8 * baseline

    # Without a TensorBoard logger, each validation epoch writes its grid as a PNG: inputs over reconstructions.
    grids = sorted((tmp_path / "reconstructions").glob("epoch*.png"))
    assert [p.name for p in grids] == [f"epoch{epoch:03d}.png" for epoch in range(5)]
    _, height, width = datamodule.input_shape
    assert Image.open(grids[-1]).size == (6 * (width + 1) + 1, 2 * (height + 1) + 1)
{%- if cookiecutter.optimizers == "2" %}


def test_encoder_and_decoder_have_their_own_optimizer(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    model = AutoEncoder(datamodule.input_shape, width=8, lr=1e-3, decoder_lr=4e-3, scheduler="none")
    trainer = quick_trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    encoder, decoder = trainer.optimizers
    assert [group["lr"] for group in encoder.param_groups] == [1e-3]
    assert [group["lr"] for group in decoder.param_groups] == [4e-3]
    assert parameter_ids(decoder) == {id(p) for p in model.decoder.parameters()}
    assert trainer.global_step == 2 * 3
{%- endif %}
