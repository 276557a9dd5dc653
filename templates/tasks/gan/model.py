"""The LightningModule: a GAN trained with two optimizers by manual optimization."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .engine.images import log_image_grid
from .engine.manual import ManualOptimization
from .nets import Discriminator, Generator
from .engine.optim import OptimizerName, SchedulerName, configure_optimizer, schedule_steps, training_batches
from .engine.speed import prepare_nets


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
    logistic loss. Gradients are clipped and accumulated in the step (see ManualOptimization).

    Validation and test measure `mmd` between real and generated images (lower is better). Each
    validation epoch logs a grid of images generated from the same fixed noise.

    Args:
        input_shape: Channels, height, width of one image (linked from the data module).
        latent_dim: Size of the generator's noise input.
        width: Channels of the networks' first stage (the second uses 2x).
        d_steps: Discriminator steps per generator step.
        num_images: Images in the sample grid.
        optimizer: adamw, adam or sgd, for both networks.
        lr: Peak learning rate of the generator.
        d_lr: Peak learning rate of the discriminator.
        weight_decay: Weight decay (decoupled for adamw).
        momentum: beta1 of the Adam family (0.5 is usual for GANs), or SGD momentum.
        scheduler: warmup_cosine, cosine, step, onecycle, plateau (on val/mmd) or none, for both.
        warmup_epochs: Linear warm-up length for warmup_cosine, in epochs (fractions allowed).
        lrf: Final learning rate as a fraction of the peak (cosine schedules and onecycle).
        step_size: Epochs between decays for the step schedule.
        gamma: Decay factor of the step and plateau schedules.
        patience: Epochs without val/mmd improvement before plateau decays.
        gradient_clip_val: Clip each optimizer's gradient norm to this (None: no clipping).
        accumulate_grad_batches: Step each optimizer once every this many of its turns.
        compile: Compile the networks with torch.compile: faster steps on a GPU, after a slow first one.
    """

    plateau_monitor = "val/mmd"
    # Each backward pass trains one of the two networks: under DDP the other's parameters get no gradient.
    ddp_find_unused_parameters = True

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 8, 8),
        latent_dim: int = 32,
        width: int = 32,
        d_steps: int = 1,
        num_images: int = 64,
        optimizer: OptimizerName = "adam",
        lr: float = 2e-3,
        d_lr: float = 2e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.5,
        scheduler: SchedulerName = "warmup_cosine",
        warmup_epochs: float = 1.0,
        lrf: float = 0.1,
        step_size: int = 10,
        gamma: float = 0.5,
        patience: int = 5,
        gradient_clip_val: float | None = None,
        accumulate_grad_batches: int = 1,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.generator = Generator(latent_dim, input_shape, width)
        self.discriminator = Discriminator(input_shape, width)
        # The same noise every epoch, saved with the weights, so that sample grids can be compared.
        fixed_noise = torch.randn(num_images, latent_dim, generator=torch.Generator().manual_seed(0))
        self.register_buffer("fixed_noise", fixed_noise)
        self.example_input_array = torch.zeros(2, latent_dim)

    def configure_model(self) -> None:
        """Once the device is known: channels_last weights on a GPU, sharded under FSDP, torch.compile if `compile`."""
        nets = [self.generator, self.discriminator]
        prepare_nets(nets, self.trainer.strategy.root_device, self.hparams.compile, mesh=self.device_mesh)

    def forward(self, noise: Tensor) -> Tensor:
        """Generated images for a batch of noise vectors."""
        return self.generator(noise)

    def noise(self, count: int) -> Tensor:
        """Standard normal noise for `count` images, on the model's device."""
        return torch.randn(count, self.hparams.latent_dim, device=self.device)

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
        hp = self.hparams
        accumulate = hp.accumulate_grad_batches
        g_total, g_epoch = schedule_steps(self.trainer, training_batches(self.trainer) // hp.d_steps, accumulate)
        d_total, d_epoch = schedule_steps(self.trainer, accumulate=accumulate)
        return [
            configure_optimizer(
                self.generator.parameters(), hp.lr, hp, total_steps=g_total, steps_per_epoch=g_epoch, monitor=None
            ),
            configure_optimizer(
                self.discriminator.parameters(), hp.d_lr, hp, total_steps=d_total, steps_per_epoch=d_epoch, monitor=None
            ),
        ]
