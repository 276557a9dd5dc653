"""The LightningModule: a GAN trained with two optimizers by manual optimization; its networks,
optimizers and schedules come from the config."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from .engine.images import log_image_grid
from .engine.manual import ManualOptimization
from .engine.optim import configure, training_batches
from .engine.speed import prepare_for_trainer


def mmd(real: Tensor, generated: Tensor) -> Tensor:
    """Squared maximum mean discrepancy between two image sets, Gaussian kernel with the median distance
    as bandwidth: 0 when the sets are alike, larger the further apart their distributions are."""
    x, y = real.flatten(1).float(), generated.flatten(1).float()
    distances = torch.cdist(torch.cat([x, y]), torch.cat([x, y])).pow(2)
    kernel = torch.exp(-distances / distances.median().clamp_min(1e-8))
    n = len(x)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


class GAN(ManualOptimization):
    """A generator learns to produce images the discriminator cannot tell from real ones.

    Lightning cannot step two optimizers automatically, so the training step does: each batch the
    discriminator takes a step, and every `d_steps` batches the generator takes one, each inside
    `toggled_optimizer` so that only its own parameters get gradients. Both use the non-saturating
    logistic loss. Gradients are clipped and accumulated as the trainer's flags say (see ManualOptimization).

    Validation and test measure `mmd` between real and generated images (lower is better). Each
    validation epoch logs a grid of images generated from the same fixed noise.

    Args:
        generator: Noise (batch, latent_dim) to images (batch, *image_shape) in [-1, 1]. It must have a
            `latent_dim` attribute: the GAN draws its noise with that many values per image.
        discriminator: Images (batch, *image_shape) to real-versus-generated logits (batch,).
        generator_optimizer: Builds the generator's optimizer (any torch.optim class, from the config).
        discriminator_optimizer: Builds the discriminator's optimizer.
        generator_scheduler: Builds the generator's learning-rate schedule (None: constant).
        discriminator_scheduler: Builds the discriminator's learning-rate schedule (None: constant).
        d_steps: Discriminator steps per generator step.
        num_images: Images in the sample grid.
    """

    # Each backward pass trains one of the two networks: under DDP the other's parameters get no gradient.
    ddp_find_unused_parameters = True

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        generator_optimizer: OptimizerCallable,
        discriminator_optimizer: OptimizerCallable,
        generator_scheduler: LRSchedulerCallable | None = None,
        discriminator_scheduler: LRSchedulerCallable | None = None,
        d_steps: int = 1,
        num_images: int = 64,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # built by the CLI: the config of every argument, networks and optimizers included
        self.generator, self.discriminator = generator, discriminator
        self.generator_optimizer, self.discriminator_optimizer = generator_optimizer, discriminator_optimizer
        self.generator_scheduler, self.discriminator_scheduler = generator_scheduler, discriminator_scheduler
        # The same noise every epoch, saved with the weights, so that sample grids can be compared.
        fixed_noise = torch.randn(num_images, generator.latent_dim, generator=torch.Generator().manual_seed(0))
        self.register_buffer("fixed_noise", fixed_noise)
        self.example_input_array = torch.zeros(2, generator.latent_dim)

    def configure_model(self) -> None:
        """On its device: channels_last weights on a GPU, sharded under FSDP, compiled if the trainer says."""
        prepare_for_trainer(self, self.generator, self.discriminator)

    def forward(self, noise: Tensor) -> Tensor:
        """Generated images for a batch of noise vectors."""
        return self.generator(noise)

    def noise(self, count: int) -> Tensor:
        """Standard normal noise for `count` images, on the model's device."""
        return torch.randn(count, self.generator.latent_dim, device=self.device)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        real = batch[0]
        g_optimizer, d_optimizer = self.optimizers()
        batches, d_steps = self.trainer.num_training_batches, self.hparams.d_steps

        with self.toggled_optimizer(d_optimizer):
            generated = self.generator(self.noise(len(real))).detach()
            real_logits, fake_logits = self.discriminator(real), self.discriminator(generated)
            d_loss = (
                F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            ) / 2
            self.optimize(d_loss, [d_optimizer], step=self.is_step_boundary(batch_idx, batches))
        self.log("train/d_loss", d_loss, on_step=True, on_epoch=True, prog_bar=True, sync_dist=True)

        if (batch_idx + 1) % d_steps == 0:
            with self.toggled_optimizer(g_optimizer):
                fake_logits = self.discriminator(self.generator(self.noise(len(real))))
                g_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
                turn = batch_idx // d_steps
                self.optimize(g_loss, [g_optimizer], step=self.is_step_boundary(turn, batches // d_steps))
            self.log("train/g_loss", g_loss, on_step=True, on_epoch=True, prog_bar=True, sync_dist=True)

    def _measure(self, batch: tuple[Tensor, Tensor], stage: str) -> None:
        real = batch[0]
        self.log(f"{stage}/mmd", mmd(real, self.generator(self.noise(len(real)))), prog_bar=True, sync_dist=True)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._measure(batch, "val")

    def on_validation_epoch_end(self) -> None:
        """Log the images generated from the fixed noise, except in the sanity check."""
        if not self.trainer.sanity_checking:
            log_image_grid(self, "samples", self.generator(self.fixed_noise), nrow=8)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._measure(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """As many generated images as the batch holds."""
        return {"images": self.generator(self.noise(len(batch[0])))}

    def configure_optimizers(self) -> list[dict]:
        # The generator takes one backward pass every d_steps batches: its schedule is sized from those
        # (a constant learning rate needs no size, and so no finite run).
        generator_passes = None
        if self.generator_scheduler is not None:
            generator_passes = training_batches(self.trainer) // self.hparams.d_steps
        return [
            configure(
                self.generator_optimizer,
                self.generator_scheduler,
                self.generator.parameters(),
                self.trainer,
                passes_per_epoch=generator_passes,
            ),
            configure(
                self.discriminator_optimizer,
                self.discriminator_scheduler,
                self.discriminator.parameters(),
                self.trainer,
            ),
        ]
