"""The LightningModule: an image classifier with per-stage accuracy and a configurable optimizer."""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.classification import MulticlassAccuracy

from .nets import SmallCNN
from .optim import OptimizerName, SchedulerName, build_optimizer, build_scheduler


class Classifier(L.LightningModule):
    """A CNN trained with cross-entropy; logs loss and accuracy for train, val and test.

    Args:
        num_classes: Number of classes (linked from the data module).
        input_shape: Channels, height, width of one image (linked from the data module).
        width: Channels of the first stage; later stages use 2x and 4x.
        dropout: Dropout before the classification head.
        label_smoothing: Cross-entropy label smoothing.
        optimizer: adamw, adam or sgd.
        lr: Peak learning rate.
        weight_decay: Weight decay (decoupled for adamw).
        momentum: SGD momentum (Nesterov); unused by the Adam family.
        scheduler: warmup_cosine, cosine, step, onecycle, plateau or none.
        warmup_epochs: Linear warm-up length for warmup_cosine, in epochs (fractions allowed).
        lrf: Final learning rate as a fraction of `lr` (cosine schedules and onecycle).
        step_size: Epochs between decays for the step schedule.
        gamma: Decay factor of the step and plateau schedules.
        patience: Epochs without val/loss improvement before plateau decays.
    """

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (1, 8, 8),
        width: int = 32,
        dropout: float = 0.2,
        label_smoothing: float = 0.1,
        optimizer: OptimizerName = "adamw",
        lr: float = 3e-3,
        weight_decay: float = 0.05,
        momentum: float = 0.9,
        scheduler: SchedulerName = "warmup_cosine",
        warmup_epochs: float = 2.0,
        lrf: float = 0.01,
        step_size: int = 10,
        gamma: float = 0.1,
        patience: int = 5,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = SmallCNN(input_shape[0], num_classes, width=width, dropout=dropout)
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.example_input_array = torch.zeros(1, *input_shape)

    def forward(self, images: Tensor) -> Tensor:
        """Class logits for a batch of normalised images."""
        return self.net(images)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=self.hparams.label_smoothing)
        accuracy = getattr(self, f"{stage}_acc")
        accuracy(logits, labels)
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=on_step, on_epoch=True, prog_bar=True)
        self.log(f"{stage}/acc", accuracy, on_step=False, on_epoch=True, prog_bar=stage != "train")
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Predicted class and its probability for every image."""
        probabilities = self(batch[0]).softmax(dim=-1)
        confidence, predicted = probabilities.max(dim=-1)
        return {"class": predicted, "probability": confidence}

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = build_optimizer(hp.optimizer, self.parameters(), hp.lr, hp.weight_decay, hp.momentum)
        total_steps = int(self.trainer.estimated_stepping_batches)
        steps_per_epoch = math.ceil(self.trainer.num_training_batches / self.trainer.accumulate_grad_batches)
        scheduler = build_scheduler(
            hp.scheduler,
            optimizer,
            total_steps=total_steps,
            steps_per_epoch=steps_per_epoch,
            warmup_epochs=hp.warmup_epochs,
            lrf=hp.lrf,
            step_size=hp.step_size,
            gamma=hp.gamma,
            patience=hp.patience,
            monitor="val/loss",
        )
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
