"""Manual optimization keeps what the Trainer gives automatic optimization: accumulation, clipping, schedules,
set by the same trainer flags."""

from __future__ import annotations

from typing import Any

import lightning as L
import pytest
import torch

from {{ cookiecutter.package_name }}.engine.manual import ManualOptimization
from {{ cookiecutter.package_name }}.engine.trainer import Trainer


class Pull(ManualOptimization):
    """One weight vector pulled towards 10 by SGD with learning rate 1: each update is minus the gradient."""

    def __init__(self, schedule: str = "") -> None:
        super().__init__()
        self.save_hyperparameters()
        self.weight = torch.nn.Parameter(torch.zeros(3))

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        loss = ((self.weight - 10) ** 2).sum()
        step = self.is_step_boundary(batch_idx, self.trainer.num_training_batches)
        self.optimize(loss, [self.optimizers()], step=step)

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val/loss", 1.0)  # never improves: the plateau schedule watches val/loss

    def configure_optimizers(self) -> dict:
        optimizer = torch.optim.SGD([self.weight], lr=1.0)
        schedules = {
            "epoch": {"scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5), "interval": "epoch"},
            "step": {"scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5), "interval": "step"},
            "plateau": {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)},
        }
        if not self.hparams.schedule:
            return {"optimizer": optimizer}
        return {"optimizer": optimizer, "lr_scheduler": schedules[self.hparams.schedule]}


def fit(model: Pull, epochs: int = 1, batches: int = 5, **flags: Any) -> L.Trainer:
    """Fit with the project's Trainer, which hands its clipping and accumulation `flags` to the model."""
    data = torch.utils.data.DataLoader(torch.zeros(batches, 1), batch_size=1)
    trainer = Trainer(
        **flags,
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, data, data)
    return trainer


def lr(trainer: L.Trainer) -> float:
    return trainer.optimizers[0].param_groups[0]["lr"]


def test_accumulation_steps_every_k_batches_and_at_the_epoch_end() -> None:
    assert fit(Pull(), batches=5, accumulate_grad_batches=2).global_step == 3  # after batches 2, 4 and 5
    assert fit(Pull(), batches=5).global_step == 5


def test_clipping_bounds_each_update() -> None:
    model = Pull()
    fit(model, batches=5, gradient_clip_val=0.1)
    assert model.weight.norm().item() == pytest.approx(0.5, rel=1e-4)  # five updates of norm 0.1


def test_schedules_step_per_epoch_per_step_and_on_plateau() -> None:
    assert lr(fit(Pull(schedule="epoch"), epochs=2, batches=5)) == pytest.approx(0.25)
    assert lr(fit(Pull(schedule="step"), epochs=1, batches=5)) == pytest.approx(0.5**5)
    assert lr(fit(Pull(schedule="plateau"), epochs=3, batches=2)) < 1.0
