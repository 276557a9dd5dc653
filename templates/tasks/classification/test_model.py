"""The classifier: shapes, predictions, learning, and a network swapped by the config alone."""

from __future__ import annotations

import pytest
import torch
from conftest import build_model, {% if cookiecutter.optimizers == "2" %}parameter_ids, {% endif %}quick_trainer
from torch import nn

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}
from {{ cookiecutter.package_name }}.engine.scripts import user_message


class TinyMLP(nn.Module):
    """A second network for the swap test: flatten, one hidden layer{% if cookiecutter.optimizers == "2" %}, split into backbone and head{% endif %}."""

    def __init__(self, input_shape: tuple[int, int, int] = (1, 8, 8), num_classes: int = 10, hidden: int = 32) -> None:
        super().__init__()
        pixels = input_shape[0] * input_shape[1] * input_shape[2]
        self.backbone = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))


def test_forward_gives_one_logit_per_class() -> None:
    model = build_model(None, "--model.net.init_args.width=8")
    logits = model(torch.randn(5, 1, 8, 8))
    assert logits.shape == (5, 10)
    assert torch.isfinite(logits).all()


def test_data_with_a_single_class_is_refused_with_the_count() -> None:
    with pytest.raises(Exception) as error:  # noqa: PT011 - the config parser wraps the model's error
        build_model(None, "--model.num_classes=1", "--model.net.init_args.num_classes=1")
    assert "num_classes 1: a classifier needs at least 2 classes" in user_message(error.value)


def test_predict_step_gives_classes_and_probabilities() -> None:
    model = build_model(None, "--model.net.init_args.width=8").eval()
    out = model.predict_step((torch.randn(4, 1, 8, 8), torch.zeros(4, dtype=torch.long)), 0)
    assert out["class"].shape == (4,) and out["class"].max() < 10
    assert ((out["probability"] > 0.1 - 1e-6) & (out["probability"] <= 1)).all()


def test_learns_well_above_chance(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    model = build_model(datamodule, "--model.net.init_args.width=16")
    trainer = quick_trainer(max_epochs={{ 4 if cookiecutter.dataset == "digits" else 8 }})
    trainer.fit(model, datamodule=datamodule)
    accuracy = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/acc"]
    assert accuracy > 0.9  # chance is 1 / num_classes


def test_another_network_is_one_config_entry(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    model = build_model(datamodule, "--model.net=test_model.TinyMLP", "--model.net.init_args.hidden=64")
    assert isinstance(model.net, TinyMLP) and model.net.head.in_features == 64
    assert model.net.head.out_features == datamodule.num_classes  # linked from the data module, as for SmallCNN
    trainer = quick_trainer(max_epochs=3)
    trainer.fit(model, datamodule=datamodule)
    accuracy = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/acc"]
    assert accuracy > 2 / datamodule.num_classes  # it learns: well above chance


def test_optimizer_and_schedule_come_from_the_config(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
{%- if cookiecutter.optimizers == "1" %}
    model = build_model(
        datamodule,
        "--model.optimizer=SGD",
        "--model.optimizer.lr=0.05",
        "--model.optimizer.momentum=0.9",
        "--model.scheduler=StepLR",
        "--model.scheduler.step_size=1",
        "--model.scheduler.gamma=0.5",
    )
    trainer = quick_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(model, datamodule=datamodule)
    (optimizer,) = trainer.optimizers
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["momentum"] == 0.9
    assert optimizer.param_groups[0]["lr"] == 0.05 * 0.5**2  # halved after each of the 2 epochs
{%- else %}
    model = build_model(
        datamodule,
        "--model.head_optimizer=SGD",
        "--model.head_optimizer.lr=0.05",
        "--model.head_scheduler=StepLR",
        "--model.head_scheduler.step_size=1",
        "--model.head_scheduler.gamma=0.5",
    )
    trainer = quick_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(model, datamodule=datamodule)
    backbone, head = trainer.optimizers
    assert isinstance(backbone, torch.optim.AdamW) and isinstance(head, torch.optim.SGD)
    assert head.param_groups[0]["lr"] == 0.05 * 0.5**2  # halved after each of the 2 epochs
{%- endif %}
{%- if cookiecutter.optimizers == "2" %}


def test_backbone_and_head_have_their_own_optimizers(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    model = build_model(
        datamodule,
        "--model.net.init_args.width=8",
        "--model.backbone_optimizer.lr=0.001",
        "--model.head_optimizer.lr=0.005",
        "--model.backbone_scheduler=null",
        "--model.head_scheduler=null",
    )
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = quick_trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1)
    trainer.fit(model, datamodule=datamodule)
    backbone, head = trainer.optimizers
    assert [group["lr"] for group in backbone.param_groups] == [1e-3]
    assert [group["lr"] for group in head.param_groups] == [5e-3]
    assert parameter_ids(head) == {id(p) for p in model.net.head.parameters()}
    assert trainer.global_step == 2 * 3  # both optimizers step on every batch
    changed = {name.split(".")[1] for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"backbone", "head"}
{%- endif %}
