"""Learning-rate schedules sized from the run, and `configure`, which builds a model's optimizer and schedule.

The model receives its optimizer and schedule from the config as callables (LightningCLI's
OptimizerCallable and LRSchedulerCallable): any class of torch.optim or torch.optim.lr_scheduler, or
one of the schedules below, which need the run's length and take it from `configure`:

    model:
      optimizer:
        class_path: torch.optim.AdamW
        init_args: {lr: 0.003, weight_decay: 0.05}
      scheduler:
        class_path: <package>.engine.optim.WarmupCosine
        init_args: {warmup_epochs: 2.0, lrf: 0.01}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch.optim import Optimizer, lr_scheduler


@dataclass(frozen=True)
class RunLength:
    """The optimizer steps of a whole run and of one epoch, for one optimizer."""

    total_steps: int
    steps_per_epoch: int

    @property
    def epochs(self) -> int:
        return math.ceil(self.total_steps / max(self.steps_per_epoch, 1))


_RUN: ContextVar[RunLength | None] = ContextVar("run_length", default=None)


@contextmanager
def sized_by(length: RunLength) -> Iterator[None]:
    """Within this block, schedules built take `length` as the run's length."""
    token = _RUN.set(length)
    try:
        yield
    finally:
        _RUN.reset(token)


def run_length() -> RunLength:
    """The length of the run the schedule being built belongs to (see `configure`)."""
    length = _RUN.get()
    if length is None:
        raise RuntimeError("this schedule is sized from the run: build it with engine.optim.configure")
    return length


class WarmupCosine(lr_scheduler.LambdaLR):
    """Linear warm-up from 1% of the peak over `warmup_epochs`, then cosine decay to `lrf` x the peak at
    the end of the run; stepped after every optimizer step.

    Args:
        optimizer: The optimizer whose learning rates (the peaks) it schedules.
        warmup_epochs: Warm-up length in epochs (fractions allowed; 0: none).
        lrf: Final learning rate as a fraction of the peak.
    """

    interval = "step"

    def __init__(self, optimizer: Optimizer, warmup_epochs: float = 2.0, lrf: float = 0.01) -> None:
        length = run_length()
        total = length.total_steps
        warmup = max(min(round(warmup_epochs * length.steps_per_epoch), total - 1), 0)

        def factor(step: int) -> float:
            if step < warmup:
                return 0.01 + 0.99 * step / warmup
            return cosine_factor(step - warmup, total - warmup, lrf)

        super().__init__(optimizer, factor)


class Cosine(lr_scheduler.LambdaLR):
    """Cosine decay from the peak to `lrf` x the peak over the run's epochs; stepped every epoch.

    Args:
        optimizer: The optimizer whose learning rates (the peaks) it schedules.
        lrf: Final learning rate as a fraction of the peak.
    """

    interval = "epoch"

    def __init__(self, optimizer: Optimizer, lrf: float = 0.01) -> None:
        epochs = run_length().epochs
        super().__init__(optimizer, lambda epoch: cosine_factor(epoch, epochs, lrf))


class OneCycle(lr_scheduler.OneCycleLR):
    """The one-cycle policy over the whole run, peaking at the optimizer's learning rates; stepped
    every optimizer step.

    Args:
        optimizer: The optimizer whose learning rates (the peaks) it schedules.
        pct_start: Share of the run spent rising to the peak.
        div_factor: The run starts at peak / div_factor.
        lrf: Final learning rate as a fraction of the peak.
    """

    interval = "step"

    def __init__(
        self, optimizer: Optimizer, pct_start: float = 0.3, div_factor: float = 25.0, lrf: float = 0.01
    ) -> None:
        super().__init__(
            optimizer,
            max_lr=[group["lr"] for group in optimizer.param_groups],
            total_steps=run_length().total_steps,
            pct_start=pct_start,
            div_factor=div_factor,
            final_div_factor=1 / (div_factor * lrf),
        )


class Plateau(lr_scheduler.ReduceLROnPlateau):
    """Multiply the learning rate by `factor` when `monitor` has not improved for `patience` epochs.

    Args:
        optimizer: The optimizer whose learning rates it schedules.
        monitor: The logged metric it watches (e.g. val/loss).
        mode: min (lower is better) or max.
        factor: Decay factor.
        patience: Epochs without improvement before decaying.
    """

    interval = "epoch"

    def __init__(
        self, optimizer: Optimizer, monitor: str = "val/loss", mode: str = "min", factor: float = 0.1, patience: int = 5
    ) -> None:
        super().__init__(optimizer, mode=mode, factor=factor, patience=patience)
        self.monitor = monitor


def cosine_factor(step: int, steps: int, lrf: float) -> float:
    """Cosine from 1 at step 0 to `lrf` at `steps` (and after)."""
    progress = min(step / max(steps, 1), 1.0)
    return lrf + (1 - lrf) * 0.5 * (1 + math.cos(math.pi * progress))


# torch's own schedules that step with every optimizer step; the others step every epoch.
PER_STEP = (lr_scheduler.OneCycleLR, lr_scheduler.CyclicLR)


def configure(
    optimizer: OptimizerCallable,
    scheduler: LRSchedulerCallable | None,
    params: Iterable[torch.nn.Parameter],
    trainer: L.Trainer,
    passes_per_epoch: int | None = None,
) -> dict[str, Any]:
    """The optimizer over `params` and its schedule, as Lightning expects them from configure_optimizers.

    A schedule is sized from the optimizer's steps: one every accumulate_grad_batches of its
    `passes_per_epoch` backward passes an epoch (default: one per training batch).
    """
    built = optimizer(params)
    if scheduler is None:
        return {"optimizer": built}
    with sized_by(optimizer_steps(trainer, passes_per_epoch)):
        schedule = scheduler(built)
    interval = getattr(schedule, "interval", "step" if isinstance(schedule, PER_STEP) else "epoch")
    config: dict[str, Any] = {"scheduler": schedule, "interval": interval}
    manual = trainer.lightning_module is not None and not trainer.lightning_module.automatic_optimization
    if isinstance(schedule, lr_scheduler.ReduceLROnPlateau) and not manual:  # manual: ManualOptimization steps it
        config["monitor"] = getattr(schedule, "monitor", "val/loss")
    return {"optimizer": built, "lr_scheduler": config}


def training_batches(trainer: L.Trainer) -> int:
    """Batches in one training epoch (loading the training data if the Trainer has not yet)."""
    if not math.isfinite(trainer.estimated_stepping_batches):
        raise ValueError("the learning-rate schedule needs a finite run: set trainer.max_epochs or trainer.max_steps")
    if trainer.train_dataloader is None:  # estimated_stepping_batches loads it, except for max_epochs=-1
        trainer.fit_loop.setup_data()
    if not math.isfinite(trainer.num_training_batches):
        raise ValueError("the learning-rate schedule needs training data of known length (a sized dataset)")
    return int(trainer.num_training_batches)


def optimizer_steps(trainer: L.Trainer, passes_per_epoch: int | None = None) -> RunLength:
    """The run's length for an optimizer that gets `passes_per_epoch` backward passes an epoch (default:
    one per training batch) and steps once every accumulate_grad_batches of them."""
    passes = training_batches(trainer) if passes_per_epoch is None else passes_per_epoch
    module = trainer.lightning_module
    accumulate = getattr(module, "accumulate_grad_batches", None) or trainer.accumulate_grad_batches
    per_epoch = max(math.ceil(passes / accumulate), 1)
    if trainer.max_epochs is not None and trainer.max_epochs > 0:
        return RunLength(trainer.max_epochs * per_epoch, per_epoch)
    return RunLength(math.ceil(trainer.max_steps / per_epoch) * per_epoch, per_epoch)
