"""Optimizers and learning-rate schedules from the config: each schedule follows its rule over the run."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from jsonargparse import ArgumentParser
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable

from {{ cookiecutter.package_name }}.engine.optim import (
    Cosine,
    OneCycle,
    Plateau,
    RunLength,
    WarmupCosine,
    sized_by,
)


def learning_rates(schedule: type, total_steps: int = 100, steps_per_epoch: int = 10, **kwargs: Any) -> list[float]:
    """The learning rate after each step of `schedule` (sized to the run), stepping as its `interval` says."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with sized_by(RunLength(total_steps, steps_per_epoch)):
        scheduler = schedule(optimizer, **kwargs)
    steps = total_steps if scheduler.interval == "step" else total_steps // steps_per_epoch
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step(*([1.0] if isinstance(scheduler, Plateau) else []))
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def test_warmup_cosine_rises_then_decays_to_the_floor() -> None:
    rates = learning_rates(WarmupCosine, warmup_epochs=2, lrf=0.01)
    assert rates[0] == pytest.approx(0.01)
    assert max(rates) == pytest.approx(1.0, rel=1e-3)
    assert rates.index(max(rates)) == 20  # 2 epochs of 10 steps
    assert rates[-1] == pytest.approx(0.01, rel=1e-3)


def test_epoch_cosine_decays_to_the_floor() -> None:
    rates = learning_rates(Cosine, lrf=0.01)
    assert len(rates) == 11 and rates[0] == 1.0
    assert rates[-1] == pytest.approx(0.01)
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_onecycle_peaks_and_ends_at_the_floor_and_plateau_decays() -> None:
    onecycle = learning_rates(OneCycle, lrf=0.01)
    assert max(onecycle) == pytest.approx(1.0, rel=1e-2)
    assert onecycle[-2] == pytest.approx(0.01, rel=1e-2)  # the rate of the last optimizer step
    plateau = learning_rates(Plateau, factor=0.5, patience=1)
    assert plateau[-1] < plateau[0]


def test_a_run_sized_schedule_outside_configure_says_how_to_build_it() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(RuntimeError, match="sized from the run"):
        WarmupCosine(optimizer)


def test_any_torch_optimizer_and_schedule_by_short_name() -> None:
    parser = ArgumentParser()
    parser.add_argument("--optimizer", type=OptimizerCallable)
    parser.add_argument("--scheduler", type=LRSchedulerCallable)
    args = ["--optimizer=SGD", "--optimizer.lr=0.1", "--optimizer.momentum=0.9", "--scheduler=StepLR"]
    config = parser.instantiate_classes(parser.parse_args([*args, "--scheduler.step_size=3"]))
    optimizer = config.optimizer([torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(optimizer, torch.optim.SGD)
    assert (optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["momentum"]) == (0.1, 0.9)
    assert config.scheduler(optimizer).step_size == 3
