"""The forecaster: truncated back-propagation through time, forecasting, and learning."""

from __future__ import annotations

import torch
from conftest import {% if cookiecutter.optimizers == "2" %}parameter_ids, {% endif %}quick_trainer

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}
from {{ cookiecutter.package_name }}.model import Forecaster


def test_forward_forecasts_every_step_and_forecast_rolls_forward() -> None:
    model = Forecaster(input_size=3, sequence_length=20, hidden_size=8).eval()
    history = torch.randn(2, 20, 3)
    assert model(history).shape == (2, 20, 3)
    assert model.forecast(history, horizon=7).shape == (2, 7, 3)


def test_tbptt_takes_one_optimizer_step_per_chunk(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    length = datamodule.hparams.sequence_length
    model = Forecaster(datamodule.num_features, length, hidden_size=8, tbptt_steps=length // 4)
    trainer = quick_trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1)
    trainer.fit(model, datamodule=datamodule)
    optimizers = {{ cookiecutter.optimizers }}  # each counts its own steps in global_step
    assert trainer.global_step == 3 * 4 * optimizers
{%- if cookiecutter.optimizers == "2" %}
    _, head = trainer.optimizers
    assert parameter_ids(head) == {id(p) for p in model.net.head.parameters()}
{%- endif %}


def test_state_flows_between_chunks_but_gradients_stop() -> None:
    torch.manual_seed(0)
    model = Forecaster(input_size=1, sequence_length=8, hidden_size=4, tbptt_steps=4)
    series = torch.randn(1, 8, 1, requires_grad=True)
    first, state = model.net(series[:, :4])
    carried, _ = model.net(series[:, 4:], tuple(part.detach() for part in state))
    fresh, _ = model.net(series[:, 4:])
    assert not torch.allclose(carried, fresh)  # the state carries information forward
    carried.sum().backward()
    assert series.grad[:, :4].abs().sum() == 0 and series.grad[:, 4:].abs().sum() > 0


def test_beats_the_naive_last_value_forecast(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    length = datamodule.hparams.sequence_length
    model = Forecaster(datamodule.num_features, length, hidden_size=32, tbptt_steps=16)
    trainer = quick_trainer(max_epochs=6)
    trainer.fit(model, datamodule=datamodule)
    result = trainer.test(model, datamodule=datamodule, verbose=False)[0]
    assert result["test/loss"] < 0.5 * result["test/naive_loss"]
