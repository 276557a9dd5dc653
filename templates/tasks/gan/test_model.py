"""The GAN: shapes, the two-optimizer step, the sample grid, learning, and a generator swapped by the config alone."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import build_model, parameter_ids, quick_trainer
from torch import nn

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}
from {{ cookiecutter.package_name }}.model import mmd
from {{ cookiecutter.package_name }}.nets import Discriminator, Generator

SMALL = ["--model.generator.init_args.width=8", "--model.discriminator.init_args.width=8"]


class TinyGenerator(nn.Module):
    """A second generator for the swap test: a two-layer perceptron from noise to tanh pixels."""

    def __init__(self, image_shape: tuple[int, int, int] = (1, 8, 8), latent_dim: int = 16, hidden: int = 64) -> None:
        super().__init__()
        self.image_shape, self.latent_dim = image_shape, latent_dim
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, math.prod(image_shape)),
            nn.Tanh(),
        )

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.layers(noise).view(-1, *self.image_shape)


def warmup_cosine(key: str) -> list[str]:
    """Flags that give `model.<key>` a warm-up of 1 epoch, then cosine decay to 0.1 x the peak."""
    schedule = "{{ cookiecutter.package_name }}.engine.optim.WarmupCosine"
    return [f"--model.{key}={schedule}", f"--model.{key}.warmup_epochs=1.0", f"--model.{key}.lrf=0.1"]


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 30, 26)])
def test_networks_fit_any_image_shape(shape: tuple[int, int, int]) -> None:
    images = Generator(image_shape=shape, latent_dim=4, width=8).eval()(torch.randn(3, 4))
    assert images.shape == (3, *shape)
    assert images.min() >= -1 and images.max() <= 1
    assert Discriminator(shape, width=8)(images).shape == (3,)


def test_noise_size_comes_from_the_generator() -> None:
    model = build_model(None, *SMALL, "--model.generator.init_args.latent_dim=5", "--model.num_images=6").eval()
    assert model.generator.latent_dim == 5 and model.fixed_noise.shape == (6, 5)
    assert model.noise(3).shape == (3, 5)
    assert model(model.noise(3)).shape == (3, 1, 8, 8)


def test_mmd_is_zero_for_equal_sets_and_grows_with_the_gap() -> None:
    real = torch.randn(64, 1, 8, 8)
    assert mmd(real, real).item() == pytest.approx(0.0, abs=1e-6)
    assert mmd(real, real + 0.1).item() < mmd(real, real + 1.0).item()


def test_both_networks_learn_and_every_step_counts(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    model = build_model(
        datamodule, *SMALL, "--model.generator.init_args.latent_dim=8", "--model.d_steps=2", "--model.num_images=16"
    )
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = quick_trainer(max_epochs=1, limit_train_batches=4, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    changed = {name.split(".")[0] for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"generator", "discriminator"}
    g_optimizer, d_optimizer = trainer.optimizers
    assert parameter_ids(g_optimizer) == {id(p) for p in model.generator.parameters()}
    assert parameter_ids(d_optimizer) == {id(p) for p in model.discriminator.parameters()}
    assert trainer.global_step == 4 + 4 // 2  # a discriminator step every batch, a generator step every 2nd
    grid = tmp_path / "samples" / "epoch000.png"  # no TensorBoard logger: the sample grid is a PNG
    assert grid.is_file()


def test_optimizers_and_schedules_come_from_the_config(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    model = build_model(
        datamodule,
        *SMALL,
        "--model.generator_optimizer.lr=0.001",
        "--model.generator_scheduler=null",
        "--model.discriminator_optimizer=SGD",
        "--model.discriminator_optimizer.lr=0.05",
        "--model.discriminator_scheduler=StepLR",
        "--model.discriminator_scheduler.step_size=1",
        "--model.discriminator_scheduler.gamma=0.5",
    )
    trainer = quick_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    g_optimizer, d_optimizer = trainer.optimizers
    assert isinstance(g_optimizer, torch.optim.Adam) and g_optimizer.param_groups[0]["betas"] == (0.5, 0.999)
    assert g_optimizer.param_groups[0]["lr"] == 1e-3  # no schedule: constant
    assert isinstance(d_optimizer, torch.optim.SGD)
    assert d_optimizer.param_groups[0]["lr"] == 0.05 * 0.5**2  # halved after each of the 2 epochs


def test_generated_images_move_towards_the_data(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    torch.manual_seed(0)
    # Whatever schedule the project was made with (a one-cycle one is slow over 6 epochs): this checks the GAN.
    model = build_model(datamodule, *warmup_cosine("generator_scheduler"), *warmup_cosine("discriminator_scheduler"))
    trainer = quick_trainer(max_epochs=6, default_root_dir=tmp_path)
    untrained = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/mmd"]
    trainer.fit(model, datamodule=datamodule)
    trained = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/mmd"]
    assert trained < 0.5 * untrained


def test_another_generator_is_one_config_entry(datamodule: {{ cookiecutter.__datamodule_class }}, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(
        datamodule, "--model.generator=test_model.TinyGenerator", "--model.generator.init_args.hidden=32"
    )
    assert isinstance(model.generator, TinyGenerator) and model.generator.layers[0].out_features == 32
    assert model.generator.image_shape == datamodule.input_shape  # linked from the data module, as for Generator
    assert model.fixed_noise.shape[1] == model.generator.latent_dim
    before = [p.detach().clone() for p in model.generator.parameters()]
    trainer = quick_trainer(max_epochs=3, default_root_dir=tmp_path)
    untrained = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/mmd"]
    trainer.fit(model, datamodule=datamodule)
    assert all(not torch.equal(p, old) for p, old in zip(model.generator.parameters(), before, strict=True))
    assert math.isfinite(trainer.callback_metrics["val/mmd"].item())
    trained = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/mmd"]
{%- if cookiecutter.dataset == "digits" %}
    assert trained < 0.75 * untrained  # it learns: closer to the data than before training (about 0.35x)
{%- else %}
    assert trained < untrained  # it learns: closer to the (fake) data than before training
{%- endif %}
