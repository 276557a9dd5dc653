"""The LightningModule: an image classifier with per-stage accuracy and a configurable optimizer."""

from __future__ import annotations

{% if cookiecutter.optimizers == "1" -%}
import lightning as L
{% endif -%}
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

{% if cookiecutter.optimizers == "2" -%}
from .manual_optim import ManualOptimization
{% endif -%}
from .nets import SmallCNN
from .optim import OptimizerName, SchedulerName, configure_optimizer, schedule_steps
from .speed import prepare_nets

{% if cookiecutter.optimizers == "1" %}
class Classifier(L.LightningModule):
    """A CNN trained with cross-entropy; logs loss and accuracy for train, val and test.
{%- else %}
class Classifier(ManualOptimization):
    """A CNN trained with cross-entropy; logs loss and accuracy for train, val and test.

    Two optimizers, each with its own learning rate and schedule: one for the convolutional
    backbone (`lr`), one for the linear head (`head_lr`). Lightning cannot step two optimizers
    automatically, so the training step does (see ManualOptimization), clipping gradients and
    accumulating them itself.
{%- endif %}

    Args:
        num_classes: Number of classes (linked from the data module).
        input_shape: Channels, height, width of one image (linked from the data module).
        width: Channels of the first stage; later stages use 2x and 4x.
        dropout: Dropout before the classification head.
        label_smoothing: Cross-entropy label smoothing.
        optimizer: adamw, adam or sgd.
{%- if cookiecutter.optimizers == "1" %}
        lr: Peak learning rate.
{%- else %}
        lr: Peak learning rate of the backbone.
        head_lr: Peak learning rate of the head.
{%- endif %}
        weight_decay: Weight decay (decoupled for adamw).
        momentum: SGD momentum (Nesterov); unused by the Adam family.
        scheduler: warmup_cosine, cosine, step, onecycle, plateau or none.
        warmup_epochs: Linear warm-up length for warmup_cosine, in epochs (fractions allowed).
        lrf: Final learning rate as a fraction of `lr` (cosine schedules and onecycle).
        step_size: Epochs between decays for the step schedule.
        gamma: Decay factor of the step and plateau schedules.
        patience: Epochs without val/loss improvement before plateau decays.
{%- if cookiecutter.optimizers == "2" %}
        gradient_clip_val: Clip each optimizer's gradient norm to this (None: no clipping).
        accumulate_grad_batches: Step the optimizers once every this many batches.
{%- endif %}
        compile: Compile the networks with torch.compile: faster steps on a GPU, after a slow first one.
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
{%- if cookiecutter.optimizers == "2" %}
        head_lr: float = 3e-3,
{%- endif %}
        weight_decay: float = 0.05,
        momentum: float = 0.9,
        scheduler: SchedulerName = "warmup_cosine",
        warmup_epochs: float = 2.0,
        lrf: float = 0.01,
        step_size: int = 10,
        gamma: float = 0.1,
        patience: int = 5,
{%- if cookiecutter.optimizers == "2" %}
        gradient_clip_val: float | None = 1.0,
        accumulate_grad_batches: int = 1,
{%- endif %}
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = SmallCNN(input_shape[0], num_classes, width=width, dropout=dropout)
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()
        self.example_input_array = torch.zeros(1, *input_shape)

    def configure_model(self) -> None:
        """Once the device is known: channels_last weights on a GPU, sharded under FSDP, torch.compile if `compile`."""
        prepare_nets([self.net], self.trainer.strategy.root_device, self.hparams.compile, mesh=self.device_mesh)

    def forward(self, images: Tensor) -> Tensor:
        """Class logits for a batch of normalised images."""
        return self.net(images)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=self.hparams.label_smoothing)
        # Metrics are accumulated on the device and logged once per epoch (_log_epoch); only the training
        # loss goes through self.log each step (Lightning writes it every log_every_n_steps). No host sync.
        getattr(self, f"{stage}_acc").update(logits, labels)
        if stage == "train":
            self.log(
                "train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=True
            )
        else:
            getattr(self, f"{stage}_loss").update(loss.detach(), len(labels))
        return loss

    def _log_epoch(self, stage: str) -> None:
        # Logged as metric objects: Lightning computes them (torchmetrics sums every process's counts), then resets.
        self.log(f"{stage}/acc", getattr(self, f"{stage}_acc"), prog_bar=stage != "train")
        if stage != "train":
            self.log(f"{stage}/loss", getattr(self, f"{stage}_loss"), prog_bar=True)
{% if cookiecutter.optimizers == "1" %}
    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")
{%- else %}
    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss = self._step(batch, "train")
        self.optimize(loss, self.optimizers(), step=self.is_step_boundary(batch_idx, self.trainer.num_training_batches))
{%- endif %}

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def on_train_epoch_end(self) -> None:
{%- if cookiecutter.optimizers == "2" %}
        super().on_train_epoch_end()  # per-epoch schedules
{%- endif %}
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Predicted class and its probability for every image."""
        probabilities = self(batch[0]).softmax(dim=-1)
        confidence, predicted = probabilities.max(dim=-1)
        return {"class": predicted, "probability": confidence}
{% if cookiecutter.optimizers == "1" %}
    def configure_optimizers(self) -> dict:
        total_steps, steps_per_epoch = schedule_steps(self.trainer)
        return configure_optimizer(
            self.parameters(), self.hparams.lr, self.hparams, total_steps=total_steps, steps_per_epoch=steps_per_epoch
        )
{%- else %}
    def configure_optimizers(self) -> list[dict]:
        hp = self.hparams
        total_steps, steps_per_epoch = schedule_steps(self.trainer, accumulate=hp.accumulate_grad_batches)
        schedule = {"total_steps": total_steps, "steps_per_epoch": steps_per_epoch, "monitor": None}
        return [
            configure_optimizer(self.net.backbone.parameters(), hp.lr, hp, **schedule),
            configure_optimizer(self.net.head.parameters(), hp.head_lr, hp, **schedule),
        ]
{%- endif %}
