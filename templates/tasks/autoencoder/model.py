"""The LightningModule: a convolutional autoencoder that logs its reconstructions."""

from __future__ import annotations

{% if cookiecutter.optimizers == "1" -%}
import lightning as L
{% endif -%}
import torch
import torch.nn.functional as F
from torch import Tensor

from .engine.images import log_image_grid
{%- if cookiecutter.optimizers == "2" %}
from .engine.manual import ManualOptimization
{%- endif %}
from .nets import Decoder, Encoder
from .engine.optim import OptimizerName, SchedulerName, configure_optimizer, schedule_steps
from .engine.speed import prepare_nets

{% if cookiecutter.optimizers == "1" %}
class AutoEncoder(L.LightningModule):
    """Encoder and decoder trained together to reproduce their input (mean squared error).
{%- else %}
class AutoEncoder(ManualOptimization):
    """Encoder and decoder trained together to reproduce their input (mean squared error).

    Two optimizers, each with its own learning rate and schedule: one for the encoder (`lr`), one
    for the decoder (`decoder_lr`). Lightning cannot step two optimizers automatically, so the
    training step does (see ManualOptimization), clipping gradients and accumulating them itself.
{%- endif %}

    `forward` returns the embedding, the part of an autoencoder that is usually put to use. Each
    validation epoch logs a grid: a row of inputs above the row of their reconstructions.

    Args:
        input_shape: Channels, height, width of one image (linked from the data module).
        latent_dim: Size of the embedding.
        width: Channels of the first convolution stage (the second uses 2x).
        num_images: Images shown in the reconstruction grid.
        optimizer: adamw, adam or sgd.
{%- if cookiecutter.optimizers == "1" %}
        lr: Peak learning rate.
{%- else %}
        lr: Peak learning rate of the encoder.
        decoder_lr: Peak learning rate of the decoder.
{%- endif %}
        weight_decay: Weight decay (decoupled for adamw).
        momentum: SGD momentum, or beta1 of the Adam family.
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
        input_shape: tuple[int, int, int] = (1, 8, 8),
        latent_dim: int = 16,
        width: int = 32,
        num_images: int = 16,
        optimizer: OptimizerName = "adamw",
        lr: float = 3e-3,
{%- if cookiecutter.optimizers == "2" %}
        decoder_lr: float = 3e-3,
{%- endif %}
        weight_decay: float = 1e-4,
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
        self.encoder = Encoder(input_shape, latent_dim, width)
        self.decoder = Decoder(input_shape, latent_dim, width)
        self.example_input_array = torch.zeros(2, *input_shape)
        self.shown: Tensor | None = None  # the validation images of the grid, with their reconstructions

    def configure_model(self) -> None:
        """Once the device is known: channels_last weights on a GPU, sharded under FSDP, torch.compile if `compile`."""
        nets = [self.encoder, self.decoder]
        prepare_nets(nets, self.trainer.strategy.root_device, self.hparams.compile, mesh=self.device_mesh)

    def forward(self, images: Tensor) -> Tensor:
        """Embeddings of a batch of normalised images, shape (batch, latent_dim)."""
        return self.encoder(images)

    def reconstruct(self, images: Tensor) -> Tensor:
        """Images passed through the encoder and the decoder."""
        return self.decoder(self.encoder(images))

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
            configure_optimizer(self.encoder.parameters(), hp.lr, hp, **schedule),
            configure_optimizer(self.decoder.parameters(), hp.decoder_lr, hp, **schedule),
        ]
{%- endif %}
