"""Optimizer and learning-rate schedule factories, chosen by name from the config."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal, get_args

import torch
from torch.optim import Optimizer, lr_scheduler

OptimizerName = Literal["adamw", "adam", "sgd"]
SchedulerName = Literal["warmup_cosine", "cosine", "step", "onecycle", "plateau", "none"]


def build_optimizer(
    name: OptimizerName, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, momentum: float
) -> Optimizer:
    """AdamW (decoupled weight decay), Adam, or SGD with Nesterov momentum."""
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
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
    monitor: str,
) -> dict[str, Any] | None:
    """A Lightning scheduler config: the schedule, when it steps and, for plateau, what it watches.

    Per-step schedules (warmup_cosine, onecycle) are sized from `total_steps`, the optimizer steps of
    the whole run; per-epoch ones from the number of epochs those steps make. `lrf` is the final
    learning rate as a fraction of the initial one.
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
        return {"scheduler": schedule, "interval": "epoch", "monitor": monitor}
    raise ValueError(f"scheduler {name!r} is unknown: use one of {', '.join(get_args(SchedulerName))}")


def cosine_to_floor(optimizer: Optimizer, steps: int, lrf: float) -> lr_scheduler.LambdaLR:
    """Cosine decay from each group's learning rate to `lrf` times it over `steps` steps."""

    def factor(step: int) -> float:
        progress = min(step / max(steps, 1), 1.0)
        return lrf + (1 - lrf) * 0.5 * (1 + math.cos(math.pi * progress))

    return lr_scheduler.LambdaLR(optimizer, factor)
