"""The LightningModule: an autoencoder that logs its reconstructions; its network, optimizer{{ "s" if cookiecutter.optimizers == "2" }} and
schedule{{ "s" if cookiecutter.optimizers == "2" }} come from the config."""

from __future__ import annotations

{% if cookiecutter.optimizers == "1" -%}
import lightning as L
{% endif -%}
import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from .engine.images import log_image_grid
{%- if cookiecutter.optimizers == "2" %}
from .engine.manual import ManualOptimization
{%- endif %}
from .engine.optim import configure
from .engine.speed import prepare_for_trainer

{% if cookiecutter.optimizers == "1" %}
class AutoEncoder(L.LightningModule):
    """A network trained to reproduce its input (mean squared error) through a small embedding.
{%- else %}
class AutoEncoder(ManualOptimization):
    """A network trained to reproduce its input (mean squared error) through a small embedding.

    Two optimizers, each with its own learning rate and schedule: one for the network's `encoder`,
    one for its `decoder`. Lightning cannot step two optimizers automatically, so the training step
    does (see ManualOptimization), clipping and accumulating as the trainer's flags say.
{%- endif %}

    The network has two parts: `net.encoder` maps images (batch, *input_shape) to embeddings, and
    `net.decoder` maps those back to images of the same shape. `forward` returns the embedding, the
    part of an autoencoder that is usually put to use; `reconstruct` goes through both. Each
    validation epoch logs a grid: a row of inputs above the row of their reconstructions.

    Args:
        net: The network, with an `encoder` and a `decoder` as above.
{%- if cookiecutter.optimizers == "1" %}
        optimizer: Builds the optimizer from the parameters (any torch.optim class, from the config).
        scheduler: Builds the learning-rate schedule from the optimizer (None: constant).
{%- else %}
        encoder_optimizer: Builds the encoder's optimizer (any torch.optim class, from the config).
        decoder_optimizer: Builds the decoder's optimizer.
        encoder_scheduler: Builds the encoder's learning-rate schedule (None: constant).
        decoder_scheduler: Builds the decoder's learning-rate schedule (None: constant).
{%- endif %}
        input_shape: Channels, height, width of one image (linked from the data module).
        num_images: Images shown in the reconstruction grid.
    """

    def __init__(
        self,
        net: nn.Module,
{%- if cookiecutter.optimizers == "1" %}
        optimizer: OptimizerCallable,
        scheduler: LRSchedulerCallable | None = None,
{%- else %}
        encoder_optimizer: OptimizerCallable,
        decoder_optimizer: OptimizerCallable,
        encoder_scheduler: LRSchedulerCallable | None = None,
        decoder_scheduler: LRSchedulerCallable | None = None,
{%- endif %}
        input_shape: tuple[int, int, int] = (1, 8, 8),
        num_images: int = 16,
    ) -> None:
        super().__init__()
{%- if cookiecutter.optimizers == "1" %}
        self.save_hyperparameters()  # built by the CLI: the config of every argument, net and optimizer included
        self.net, self.optimizer, self.scheduler = net, optimizer, scheduler
{%- else %}
        self.save_hyperparameters()  # built by the CLI: the config of every argument, net and optimizers included
        self.net = net
        self.encoder_optimizer, self.decoder_optimizer = encoder_optimizer, decoder_optimizer
        self.encoder_scheduler, self.decoder_scheduler = encoder_scheduler, decoder_scheduler
{%- endif %}
        self.example_input_array = torch.zeros(2, *input_shape)
        self.shown: Tensor | None = None  # the validation images of the grid, with their reconstructions

    def configure_model(self) -> None:
        """Once the device is known: channels_last weights on a GPU, sharded under FSDP, compiled if trainer.compile."""
        prepare_for_trainer(self, self.net.encoder, self.net.decoder)  # the parts this module calls

    def forward(self, images: Tensor) -> Tensor:
        """Embeddings of a batch of normalised images, shape (batch, embedding size)."""
        return self.net.encoder(images)

    def reconstruct(self, images: Tensor) -> Tensor:
        """Images passed through the encoder and the decoder."""
        return self.net.decoder(self.net.encoder(images))

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        images = batch[0]
        reconstructions = self.reconstruct(images)
        loss = F.mse_loss(reconstructions, images)
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=True, sync_dist=True)
        if stage == "val" and self.shown is None:
            count = self.hparams.num_images
            self.shown = torch.cat([images[:count], reconstructions[:count]])
        return loss
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

    def on_validation_epoch_end(self) -> None:
        """Log the grid of inputs (top) and reconstructions (bottom), except in the sanity check."""
        if self.shown is not None and not self.trainer.sanity_checking:
            log_image_grid(self, "reconstructions", self.shown, nrow=len(self.shown) // 2)
        self.shown = None

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """The embedding of every image."""
        return {"embedding": self(batch[0])}
{% if cookiecutter.optimizers == "1" %}
    def configure_optimizers(self) -> dict:
        return configure(self.optimizer, self.scheduler, self.parameters(), self.trainer)
{%- else %}
    def configure_optimizers(self) -> list[dict]:
        return [
            configure(self.encoder_optimizer, self.encoder_scheduler, self.net.encoder.parameters(), self.trainer),
            configure(self.decoder_optimizer, self.decoder_scheduler, self.net.decoder.parameters(), self.trainer),
        ]
{%- endif %}
