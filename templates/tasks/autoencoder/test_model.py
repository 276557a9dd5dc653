"""The autoencoder: shapes, the reconstruction grid, learning, and a network swapped by the config alone."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import build_model, {% if cookiecutter.optimizers == "2" %}parameter_ids, {% endif %}quick_trainer
from PIL import Image
from torch import nn

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}


class TinyAutoEncoder(nn.Module):
    """A second network for the swap test: one hidden layer each way, no convolutions.

    It has no forward of its own: the model calls only its `encoder` and `decoder`.
    """

    def __init__(self, input_shape: tuple[int, int, int] = (1, 8, 8), latent_dim: int = 16, hidden: int = 64) -> None:
        super().__init__()
        pixels = math.prod(input_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(), nn.Linear(hidden, latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, pixels), nn.Unflatten(1, input_shape)
        )


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 30, 26)])
def test_forward_embeds_and_reconstruct_keeps_the_shape(shape: tuple[int, int, int]) -> None:
    data = SimpleNamespace(input_shape=shape)  # the shape reaches the model and its network as the CLI links it
    model = build_model(data, "--model.net.init_args.latent_dim=5", "--model.net.init_args.width=8").eval()
    images = torch.randn(3, *shape)
    assert model(images).shape == (3, 5)
    assert model.reconstruct(images).shape == (3, *shape)


def test_reconstructs_better_than_the_mean_image(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    model = build_model(datamodule, "--model.net.init_args.width=16", "--model.num_images=6")
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


def test_another_network_is_one_config_entry(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    model = build_model(datamodule, "--model.net=test_model.TinyAutoEncoder", "--model.net.init_args.hidden=128")
    assert isinstance(model.net, TinyAutoEncoder) and model.net.encoder[1].out_features == 128
    images = datamodule.on_after_batch_transfer(next(iter(datamodule.test_dataloader())), 0)[0]
    assert model(images).shape == (len(images), 16)  # latent_dim: the config's, kept for the new class
    assert model.reconstruct(images).shape == images.shape  # input_shape linked from the data module

    def test_loss() -> float:
        return quick_trainer().test(model, datamodule=datamodule, verbose=False)[0]["test/loss"]

    untrained = test_loss()
    quick_trainer(max_epochs=3, default_root_dir=tmp_path).fit(model, datamodule=datamodule)
    assert test_loss() < 0.7 * untrained  # it learns to reconstruct


def test_optimizer_and_schedule_come_from_the_config(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
{%- if cookiecutter.optimizers == "1" %}
    model = build_model(
        datamodule,
        "--model.net.init_args.width=8",
        "--model.optimizer=SGD",
        "--model.optimizer.lr=0.05",
        "--model.optimizer.momentum=0.9",
        "--model.scheduler=StepLR",
        "--model.scheduler.step_size=1",
        "--model.scheduler.gamma=0.5",
    )
    trainer = quick_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    (optimizer,) = trainer.optimizers
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["momentum"] == 0.9
    assert optimizer.param_groups[0]["lr"] == 0.05 * 0.5**2  # halved after each of the 2 epochs
{%- else %}
    model = build_model(
        datamodule,
        "--model.net.init_args.width=8",
        "--model.decoder_optimizer=SGD",
        "--model.decoder_optimizer.lr=0.05",
        "--model.decoder_scheduler=StepLR",
        "--model.decoder_scheduler.step_size=1",
        "--model.decoder_scheduler.gamma=0.5",
    )
    trainer = quick_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    encoder, decoder = trainer.optimizers
    assert isinstance(encoder, torch.optim.AdamW) and isinstance(decoder, torch.optim.SGD)
    assert decoder.param_groups[0]["lr"] == 0.05 * 0.5**2  # halved after each of the 2 epochs
{%- endif %}
{%- if cookiecutter.optimizers == "2" %}


def test_encoder_and_decoder_have_their_own_optimizer_and_learning_rate(
    datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path
) -> None:
    model = build_model(
        datamodule,
        "--model.net.init_args.width=8",
        "--model.encoder_optimizer.lr=0.001",
        "--model.decoder_optimizer.lr=0.004",
        "--model.encoder_scheduler=null",
        "--model.decoder_scheduler=null",
    )
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = quick_trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    encoder, decoder = trainer.optimizers
    assert [group["lr"] for group in encoder.param_groups] == [1e-3]
    assert [group["lr"] for group in decoder.param_groups] == [4e-3]
    assert parameter_ids(encoder) == {id(p) for p in model.net.encoder.parameters()}
    assert parameter_ids(decoder) == {id(p) for p in model.net.decoder.parameters()}
    assert trainer.global_step == 2 * 3  # both optimizers step on every batch
    changed = {name.split(".")[1] for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"encoder", "decoder"}
{%- endif %}
