"""Benchmark a rendered project's training against a plain PyTorch loop doing the same optimizer steps.

Copied into a rendered project's package and run there by benchmarks/speed.py (see it for usage):
    python -m <package>.bench_train                          # the data and settings of configs/default.yaml
    python -m <package>.bench_train --synthetic 60000 --data.batch_size 256   # MNIST-sized tensors
    python -m <package>.bench_train --epochs 8 --trainer.accelerator gpu      # any train.py flag

The Trainer runs with the project's own callbacks, logger and checkpoints (into a temporary folder).
At the end of each of its epochs a plain loop trains a copy of the same initial network for one
epoch: the same batches in the same order, the same augmentation and dropout (both reseed torch at
each epoch start), the same optimizer, schedule and gradient clipping, then a validation pass. The two
must end each epoch with the same validation loss; the report is the median seconds per epoch of each
after the warm-up epoch, and their ratio.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from contextlib import nullcontext
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cli import CLI
from .engine.image_data import ImageDataModule, Normalize, to_model_input
from .engine.optim import configure
from .engine.speed import prepare_nets


class SyntheticImages(ImageDataModule):
    """`size` random uint8 training images of `shape` (and a sixth as many for validation and test) whose
    class is written into them as a bright row, so that they can be learned.

    Args:
        size: Training images.
        shape: Channels, height, width.
        num_classes: Classes, at most the image height.
        batch_size: Images per batch.
        num_workers: Loader worker processes.
        shift: Random translation of training images, in pixels.
        flip: Mirror training images left-right at random.
        normalize: standard or symmetric.
    """

    def __init__(
        self,
        size: int = 60_000,
        shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        batch_size: int = 256,
        num_workers: int = 0,
        shift: int = 0,
        flip: bool = False,
        normalize: Normalize = "standard",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.num_classes, self.input_shape = num_classes, tuple(shape)
        self.mean, self.std = (0.3,) * shape[0], (0.3,) * shape[0]

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        generator = torch.Generator().manual_seed(0)
        sizes = {"train": self.hparams.size, "val": self.hparams.size // 6, "test": self.hparams.size // 6}
        splits = {}
        for name, count in sizes.items():
            labels = torch.randint(0, self.num_classes, (count,), generator=generator)
            images = torch.randint(0, 160, (count, *self.input_shape), dtype=torch.uint8, generator=generator)
            images[torch.arange(count), :, labels] = 255
            splits[name] = (images, labels)
        return splits


class PlainLoop(L.Callback):
    """Times the Trainer's epochs and, after each, runs one epoch of a plain PyTorch loop (timed apart)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.lightning_seconds: list[float] = []
        self.plain_seconds: list[float] = []
        self.lightning_val: list[float] = []
        self.plain_val: list[float] = []
        self._epoch_start: float | None = None
        self._plain_in_epoch = 0.0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.net = copy.deepcopy(pl_module.net)  # the initial weights, before any step

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not pl_module.automatic_optimization:
            raise SystemExit("error: the benchmark compares one optimizer stepped by Lightning: render optimizers=1")
        self.device = pl_module.device
        self.net = self.net.to(self.device)
        prepare_nets([self.net], self.device, getattr(trainer, "compile", False))  # as configure_model does
        # The model's own optimizer and schedule (from the config), built over the copy's parameters.
        config = configure(pl_module.optimizer, pl_module.scheduler, self.net.parameters(), trainer)
        self.optimizers, self.schedulers = [config["optimizer"]], [config.get("lr_scheduler")]
        self.clip = trainer.gradient_clip_val
        # Made now, before any epoch reseeds torch: the shuffle order derives from the seed of the run.
        self.train_loader, self.val_loader = trainer.datamodule.train_dataloader(), trainer.datamodule.val_dataloader()
        precision = str(trainer.precision)
        self.autocast = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "16-mixed" else None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        now = time.perf_counter()
        if self._epoch_start is not None:
            self.lightning_seconds.append(now - self._epoch_start - self._plain_in_epoch)
        self._epoch_start, self._plain_in_epoch = now, 0.0
        torch.manual_seed(self.seed + trainer.current_epoch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.lightning_val.append(float(trainer.callback_metrics["val/loss"]))
        start = time.perf_counter()
        torch.manual_seed(self.seed + trainer.current_epoch)
        self.plain_val.append(self.plain_epoch(trainer.datamodule, pl_module.hparams, trainer.current_epoch))
        self._plain_in_epoch = time.perf_counter() - start
        self.plain_seconds.append(self._plain_in_epoch)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._epoch_start is not None:  # the last epoch ends here (after its checkpoints)
            self.lightning_seconds.append(time.perf_counter() - self._epoch_start - self._plain_in_epoch)

    def _autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=self.autocast) if self.autocast else nullcontext()

    def plain_epoch(self, data: ImageDataModule, hp: Any, epoch: int) -> float:
        """One epoch as a hand-written loop would do it; returns the validation loss."""
        dh = data.hparams
        self.train_loader.sampler.set_epoch(epoch)
        self.net.train()
        for images, labels in self.train_loader:
            images, labels = images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
            inputs = to_model_input(images, data.mean, data.std, data.pixel_max, dh.normalize, dh.shift, dh.flip)
            with self._autocast():
                loss = F.cross_entropy(self.net(inputs), labels, label_smoothing=hp.label_smoothing)
            self.step(loss)
        return self.validate(data, hp)

    def step(self, loss: Tensor) -> None:
        """Backward, clip, step every optimizer and its per-step schedule."""
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        for optimizer, scheduler in zip(self.optimizers, self.schedulers, strict=True):
            if self.scaler:
                self.scaler.unscale_(optimizer)
            if self.clip:
                params = [p for group in optimizer.param_groups for p in group["params"]]
                nn.utils.clip_grad_norm_(params, self.clip)
            if self.scaler:
                self.scaler.step(optimizer)
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if scheduler is not None and scheduler.get("interval") == "step":
                scheduler["scheduler"].step()
        if self.scaler:
            self.scaler.update()

    @torch.no_grad()
    def validate(self, data: ImageDataModule, hp: Any) -> float:
        """Mean cross-entropy over the validation split (steps per-epoch schedules, as Lightning does)."""
        self.net.eval()
        total, count = torch.zeros((), device=self.device), 0
        for images, labels in self.val_loader:
            images, labels = images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
            inputs = to_model_input(images, data.mean, data.std, data.pixel_max, data.hparams.normalize)
            with self._autocast():
                loss = F.cross_entropy(self.net(inputs), labels, label_smoothing=hp.label_smoothing)
            total += loss.float() * len(labels)
            count += len(labels)
        for scheduler in self.schedulers:
            if scheduler is not None and scheduler.get("interval") == "epoch":
                if isinstance(scheduler["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler["scheduler"].step(total / count)
                else:
                    scheduler["scheduler"].step()
        return float(total / count)


def run(args: list[str], epochs: int, warmup: int) -> dict[str, float]:
    """Train with the project's Trainer and the plain loop side by side; return their timings."""
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # the run's logs and checkpoints go there
        cli = CLI([*args, f"--trainer.max_epochs={warmup + epochs}"])
        trainer = cli.trainer
        plain = PlainLoop(seed=cli.config.seed_everything or 0)
        trainer.callbacks.append(plain)
        trainer.fit(cli.model, datamodule=cli.datamodule)
        data = cli.datamodule
    lightning_time = statistics.median(plain.lightning_seconds[warmup:])
    plain_time = statistics.median(plain.plain_seconds[warmup:])
    difference = max(abs(a - b) for a, b in zip(plain.lightning_val, plain.plain_val, strict=True))
    return {
        "train_images": len(data.splits["train"]),
        "batch_size": data.hparams.batch_size,
        "steps_per_epoch": trainer.num_training_batches,
        "epochs": len(plain.lightning_seconds),
        "lightning_s": lightning_time,
        "plain_s": plain_time,
        "ratio": lightning_time / plain_time,
        "val_loss": plain.lightning_val[-1],
        "val_loss_difference": difference,
        "device": str(cli.model.device),
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print the table, and fail if the two loops did not train the same."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=1, help="epochs left out of the timing")
    parser.add_argument("--synthetic", type=int, default=0, help="train on this many random 1x28x28 images")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest validation loss difference allowed")
    options, rest = parser.parse_known_args(argv)
    if options.synthetic:
        rest = [f"--data={__package__}.bench_train.SyntheticImages", f"--data.size={options.synthetic}", *rest]
    result = run(rest, options.epochs, options.warmup)
    print(
        f"{result['train_images']:,} training images, batch {result['batch_size']}, {result['steps_per_epoch']} steps"
        f" an epoch, {options.epochs} epochs timed after {options.warmup} warm-up, on {result['device']}"
    )
    print(f"Lightning Trainer (project defaults): {result['lightning_s']:8.3f} s/epoch")
    print(f"plain PyTorch loop:                   {result['plain_s']:8.3f} s/epoch")
    print(f"ratio:                                {result['ratio']:8.2f}")
    print(
        f"validation loss {result['val_loss']:.4f}; largest difference between the two over the epochs:"
        f" {result['val_loss_difference']:.2e}"
    )
    if not result["val_loss_difference"] <= options.tolerance:
        raise SystemExit(
            f"error: the two loops did not train the same (validation loss differs by"
            f" {result['val_loss_difference']:.2e} > {options.tolerance:g}): the comparison is void"
        )
    return result


if __name__ == "__main__":
    main()
