"""Optimizers and learning-rate schedules by name: each schedule follows its rule."""

from __future__ import annotations

import pytest
import torch

from {{ cookiecutter.package_name }}.engine.optim import build_optimizer, build_scheduler


@pytest.mark.parametrize(
    ("name", "kind"), [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)]
)
def test_optimizer_by_name(name: str, kind: type) -> None:
    optimizer = build_optimizer(name, [torch.nn.Parameter(torch.zeros(1))], lr=0.1, weight_decay=0.0, momentum=0.9)
    assert type(optimizer) is kind


def learning_rates(name: str, total_steps: int = 100, steps_per_epoch: int = 10) -> list[float]:
    """The learning rate after each scheduler step, stepping per batch or per epoch as configured."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    config = build_scheduler(
        name,
        optimizer,
        total_steps=total_steps,
        steps_per_epoch=steps_per_epoch,
        warmup_epochs=2,
        lrf=0.01,
        step_size=3,
        gamma=0.5,
        patience=1,
        monitor="val/loss",
    )
    steps = total_steps if config["interval"] == "step" else total_steps // steps_per_epoch
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        config["scheduler"].step(*([1.0] if name == "plateau" else []))
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def test_warmup_cosine_rises_then_decays_to_the_floor() -> None:
    rates = learning_rates("warmup_cosine")
    assert rates[0] == pytest.approx(0.01)
    assert max(rates) == pytest.approx(1.0, rel=1e-3)
    assert rates.index(max(rates)) == 20
    assert rates[-1] == pytest.approx(0.01, rel=1e-3)


def test_epoch_cosine_decays_to_the_floor() -> None:
    rates = learning_rates("cosine")
    assert len(rates) == 11 and rates[0] == 1.0
    assert rates[-1] == pytest.approx(0.01)
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_step_onecycle_and_plateau_follow_their_rules() -> None:
    assert learning_rates("step")[:8] == pytest.approx([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
    onecycle = learning_rates("onecycle")
    assert max(onecycle) == pytest.approx(1.0, rel=1e-2)
    assert onecycle[-2] == pytest.approx(0.01, rel=1e-2)  # the rate of the last optimizer step
    plateau = learning_rates("plateau")
    assert plateau[-1] < plateau[0]


def test_no_scheduler_and_unknown_names() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    kwargs = dict(total_steps=10, steps_per_epoch=5, warmup_epochs=1, lrf=0.1, step_size=1, gamma=0.5, patience=1)
    assert build_scheduler("none", optimizer, monitor="val/loss", **kwargs) is None
    with pytest.raises(ValueError, match="scheduler 'linear' is unknown"):
        build_scheduler("linear", optimizer, monitor="val/loss", **kwargs)


def test_momentum_is_adams_beta1() -> None:
    optimizer = build_optimizer("adam", [torch.nn.Parameter(torch.zeros(1))], lr=0.1, weight_decay=0.0, momentum=0.5)
    assert optimizer.param_groups[0]["betas"] == (0.5, 0.999)
