"""Optimizer and learning-rate schedule factories, chosen by name from the config."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal, get_args

import lightning as L
import torch
from torch.optim import Optimizer, lr_scheduler

OptimizerName = Literal["adamw", "adam", "sgd"]
SchedulerName = Literal["warmup_cosine", "cosine", "step", "onecycle", "plateau", "none"]


def build_optimizer(
    name: OptimizerName, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, momentum: float
) -> Optimizer:
    """AdamW (decoupled weight decay), Adam, or SGD with Nesterov momentum.

    `momentum` is SGD's momentum, or the Adam family's beta1 (0.9 usually, 0.5 for GANs).
    """
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=(momentum, 0.999))
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=(momentum, 0.999))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=momentum > 0)
    raise ValueError(f"optimizer {name!r} is unknown: use one of adamw, adam, sgd")


def build_scheduler(
    name: SchedulerName,
    optimizer: Optimizer,
    *,
    total_steps: int,
    steps_per_epoch: int,
    warmup_epochs: float,
    lrf: float,
    step_size: int,
    gamma: float,
    patience: int,
    monitor: str | None,
) -> dict[str, Any] | None:
    """A Lightning scheduler config: the schedule, when it steps and, for plateau, what it watches.

    Per-step schedules (warmup_cosine, onecycle) are sized from `total_steps`, the optimizer steps of
    the whole run; per-epoch ones from the number of epochs those steps make. `lrf` is the final
    learning rate as a fraction of the initial one. Plateau watches `monitor`; None leaves the key
    out, for manual optimization, where the module steps the schedule on its metric itself.
    """
    epochs = math.ceil(total_steps / max(steps_per_epoch, 1))
    if name == "none":
        return None
    if name == "warmup_cosine":
        warmup = min(round(warmup_epochs * steps_per_epoch), total_steps - 1)
        if warmup > 0:
            schedule = lr_scheduler.SequentialLR(
                optimizer,
                [
                    lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warmup),
                    cosine_to_floor(optimizer, total_steps - warmup, lrf),
                ],
                milestones=[warmup],
            )
        else:
            schedule = cosine_to_floor(optimizer, total_steps, lrf)
        return {"scheduler": schedule, "interval": "step"}
    if name == "onecycle":
        max_lr = [group["lr"] for group in optimizer.param_groups]
        schedule = lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=total_steps, div_factor=25, final_div_factor=1 / (25 * lrf)
        )
        return {"scheduler": schedule, "interval": "step"}
    if name == "cosine":
        return {"scheduler": cosine_to_floor(optimizer, epochs, lrf), "interval": "epoch"}
    if name == "step":
        return {"scheduler": lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma), "interval": "epoch"}
    if name == "plateau":
        schedule = lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=gamma, patience=patience)
        config = {"scheduler": schedule, "interval": "epoch"}
        return config if monitor is None else {**config, "monitor": monitor}
    raise ValueError(f"scheduler {name!r} is unknown: use one of {', '.join(get_args(SchedulerName))}")


def cosine_to_floor(optimizer: Optimizer, steps: int, lrf: float) -> lr_scheduler.LambdaLR:
    """Cosine decay from each group's learning rate to `lrf` times it over `steps` steps."""

    def factor(step: int) -> float:
        progress = min(step / max(steps, 1), 1.0)
        return lrf + (1 - lrf) * 0.5 * (1 + math.cos(math.pi * progress))

    return lr_scheduler.LambdaLR(optimizer, factor)


def training_batches(trainer: L.Trainer) -> int:
    """Batches in one training epoch (loading the training data if the Trainer has not yet)."""
    # Reading estimated_stepping_batches loads the training data: num_training_batches is known after it.
    if not (math.isfinite(trainer.estimated_stepping_batches) and math.isfinite(trainer.num_training_batches)):
        raise ValueError("the learning-rate schedule needs a finite run: set trainer.max_epochs or trainer.max_steps")
    return int(trainer.num_training_batches)


def schedule_steps(
    trainer: L.Trainer, passes_per_epoch: int | None = None, accumulate: int | None = None
) -> tuple[int, int]:
    """(whole run, one epoch) optimizer steps of an optimizer that gets `passes_per_epoch` backward
    passes an epoch (default: one per training batch) and steps once every `accumulate` of them
    (default: the Trainer's accumulate_grad_batches)."""
    passes = training_batches(trainer) if passes_per_epoch is None else passes_per_epoch
    accumulate = trainer.accumulate_grad_batches if accumulate is None else accumulate
    per_epoch = max(math.ceil(passes / accumulate), 1)
    if trainer.max_epochs is not None and trainer.max_epochs > 0:
        return trainer.max_epochs * per_epoch, per_epoch
    return math.ceil(trainer.max_steps / per_epoch) * per_epoch, per_epoch


def configure_optimizer(
    params: Iterable[torch.nn.Parameter],
    lr: float,
    hparams: Any,
    *,
    total_steps: int,
    steps_per_epoch: int,
    monitor: str | None = "val/loss",
) -> dict[str, Any]:
    """The optimizer named by `hparams.optimizer` with the schedule named by `hparams.scheduler`, as
    Lightning expects them from `configure_optimizers` (`monitor`: see build_scheduler)."""
    optimizer = build_optimizer(hparams.optimizer, params, lr, hparams.weight_decay, hparams.momentum)
    scheduler = build_scheduler(
        hparams.scheduler,
        optimizer,
        total_steps=total_steps,
        steps_per_epoch=steps_per_epoch,
        warmup_epochs=hparams.warmup_epochs,
        lrf=hparams.lrf,
        step_size=hparams.step_size,
        gamma=hparams.gamma,
        patience=hparams.patience,
        monitor=monitor,
    )
    return {"optimizer": optimizer} if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}
