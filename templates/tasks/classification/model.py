"""The LightningModule: an image classifier with per-stage accuracy; its network, optimizer{{ "s" if cookiecutter.optimizers == "2" }} and
schedule{{ "s" if cookiecutter.optimizers == "2" }} come from the config."""

from __future__ import annotations

import warnings

{% if cookiecutter.optimizers == "1" -%}
import lightning as L
{% endif -%}
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from .engine.loaders import DataError
{% if cookiecutter.optimizers == "2" -%}
from .engine.manual import ManualOptimization
{% endif -%}
from .engine.optim import configure
from .engine.speed import prepare_for_trainer
from .engine.trackers import log_figure

{% if cookiecutter.optimizers == "1" %}
class Classifier(L.LightningModule):
    """A network trained with cross-entropy; logs loss and accuracy for train, val and test.

    Args:
        net: The network: images (batch, *input_shape) to class logits (batch, num_classes).
        optimizer: Builds the optimizer from the parameters (any torch.optim class, from the config).
        scheduler: Builds the learning-rate schedule from the optimizer (None: constant).
        num_classes: Number of classes (linked from the data module).
        input_shape: Channels, height, width of one image (linked from the data module).
        label_smoothing: Cross-entropy label smoothing.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerCallable,
        scheduler: LRSchedulerCallable | None = None,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (1, 8, 8),
        label_smoothing: float = 0.1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # by the CLI: every argument's config, the network's and optimizer's too
        self.net, self.optimizer, self.scheduler = net, optimizer, scheduler
{%- else %}
class Classifier(ManualOptimization):
    """A network trained with cross-entropy; logs loss and accuracy for train, val and test.

    Two optimizers, each with its own learning rate and schedule: one for the network's `backbone`,
    one for its `head`. Lightning cannot step two optimizers automatically, so the training step does
    (see ManualOptimization), clipping and accumulating as the trainer's flags say.

    Args:
        net: The network: images (batch, *input_shape) to class logits (batch, num_classes), through
            its `backbone` then its `head`.
        backbone_optimizer: Builds the backbone's optimizer (any torch.optim class, from the config).
        head_optimizer: Builds the head's optimizer.
        backbone_scheduler: Builds the backbone's learning-rate schedule (None: constant).
        head_scheduler: Builds the head's learning-rate schedule (None: constant).
        num_classes: Number of classes (linked from the data module).
        input_shape: Channels, height, width of one image (linked from the data module).
        label_smoothing: Cross-entropy label smoothing.
    """

    def __init__(
        self,
        net: nn.Module,
        backbone_optimizer: OptimizerCallable,
        head_optimizer: OptimizerCallable,
        backbone_scheduler: LRSchedulerCallable | None = None,
        head_scheduler: LRSchedulerCallable | None = None,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (1, 8, 8),
        label_smoothing: float = 0.1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # by the CLI: every argument's config, the networks' and optimizers' too
        self.net = net
        self.backbone_optimizer, self.head_optimizer = backbone_optimizer, head_optimizer
        self.backbone_scheduler, self.head_scheduler = backbone_scheduler, head_scheduler
{%- endif %}
        if num_classes < 2:
            raise DataError(f"num_classes {num_classes}: a classifier needs at least 2 classes; give the data more")
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()
        self.test_confusion = MulticlassConfusionMatrix(num_classes)
        self.example_input_array = torch.zeros(1, *input_shape)

    def configure_model(self) -> None:
        """Once the device is known: channels_last weights on a GPU, sharded under FSDP, compiled if asked."""
        prepare_for_trainer(self, self.net)

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
        self.test_confusion.update(self(batch[0]), batch[1])

    def on_train_epoch_end(self) -> None:
{%- if cookiecutter.optimizers == "2" %}
        super().on_train_epoch_end()  # per-epoch schedules
{%- endif %}
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
        with warnings.catch_warnings():  # matplotlib asks torchmetrics' tensor for a NumPy copy the old way
            warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword")
            figure, _ = self.test_confusion.plot(labels=getattr(self.trainer.datamodule, "class_names", None))
        log_figure(self.trainer, "test/confusion_matrix", figure)  # to the tracker, else a PNG in the run folder
        plt.close(figure)
        self.test_confusion.reset()

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Predicted class and its probability for every image."""
        probabilities = self(batch[0]).softmax(dim=-1)
        confidence, predicted = probabilities.max(dim=-1)
        return {"class": predicted, "probability": confidence}
{% if cookiecutter.optimizers == "1" %}
    def configure_optimizers(self) -> dict:
        return configure(self.optimizer, self.scheduler, self.parameters(), self.trainer)
{%- else %}
    def configure_optimizers(self) -> list[dict]:
        return [
            configure(self.backbone_optimizer, self.backbone_scheduler, self.net.backbone.parameters(), self.trainer),
            configure(self.head_optimizer, self.head_scheduler, self.net.head.parameters(), self.trainer),
        ]
{%- endif %}
