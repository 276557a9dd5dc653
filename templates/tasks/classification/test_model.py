"""The classifier: shapes, predictions and learning."""

from __future__ import annotations

import torch
from conftest import {% if cookiecutter.optimizers == "2" %}parameter_ids, {% endif %}quick_trainer

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}
from {{ cookiecutter.package_name }}.model import Classifier


def test_forward_gives_one_logit_per_class() -> None:
    model = Classifier(num_classes=10, input_shape=(1, 8, 8), width=8)
    logits = model(torch.randn(5, 1, 8, 8))
    assert logits.shape == (5, 10)
    assert torch.isfinite(logits).all()


def test_predict_step_gives_classes_and_probabilities() -> None:
    model = Classifier(width=8).eval()
    out = model.predict_step((torch.randn(4, 1, 8, 8), torch.zeros(4, dtype=torch.long)), 0)
    assert out["class"].shape == (4,) and out["class"].max() < 10
    assert ((out["probability"] > 0.1 - 1e-6) & (out["probability"] <= 1)).all()


def test_learns_well_above_chance(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    model = Classifier(datamodule.num_classes, datamodule.input_shape, width=16)
    trainer = quick_trainer(max_epochs={{ 4 if cookiecutter.dataset == "digits" else 8 }})
    trainer.fit(model, datamodule=datamodule)
    accuracy = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test/acc"]
    assert accuracy > 0.9  # chance is 1 / num_classes
{%- if cookiecutter.optimizers == "2" %}


def test_backbone_and_head_have_their_own_optimizer_and_learning_rate(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    model = Classifier(datamodule.num_classes, datamodule.input_shape, width=8, lr=1e-3, head_lr=5e-3, scheduler="none")
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
