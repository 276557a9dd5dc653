{%- set two = cookiecutter.optimizers == "2" -%}
{%- set engine = cookiecutter.package_name ~ ".engine.optim" -%}
"""The forecaster: truncated back-propagation through time, forecasting, learning, and a network swapped
by the config alone."""

from __future__ import annotations

import torch
from conftest import build_model, {% if two %}parameter_ids, {% endif %}quick_trainer
from torch import Tensor, nn

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}


class TinyGRU(nn.Module):
    """A second network for the swap test: a GRU, whose state is one tensor rather than an LSTM's pair{% if two %},
    in the `lstm` and `head` parts the model's two optimizers take{% endif %}."""

    def __init__(self, input_size: int = 1, hidden_size: int = 16) -> None:
        super().__init__()
        self.{{ "lstm" if two else "gru" }} = nn.GRU(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, input_size)

    def forward(self, series: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        hidden, state = self.{{ "lstm" if two else "gru" }}(series, state)
        return self.head(hidden), state


def test_forward_forecasts_every_step_and_forecast_rolls_forward() -> None:
    flags = ["--model.input_size=3", "--model.net.input_size=3", "--model.sequence_length=20"]
    flags.append("--model.net.hidden_size=8")
    model = build_model(None, *flags).eval()
    history = torch.randn(2, 20, 3)
    assert model.example_input_array.shape == (2, 20, 3)
    assert model(history).shape == (2, 20, 3)
    assert model.forecast(history, horizon=7).shape == (2, 7, 3)


def test_tbptt_takes_one_optimizer_step_per_chunk(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    length = datamodule.hparams.sequence_length
    model = build_model(datamodule, "--model.net.init_args.hidden_size=8", f"--model.tbptt_steps={length // 4}")
    trainer = quick_trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1)
    trainer.fit(model, datamodule=datamodule)
    optimizers = {{ cookiecutter.optimizers }}  # each counts its own steps in global_step
    assert trainer.global_step == 3 * 4 * optimizers
{%- if two %}
    _, head = trainer.optimizers
    assert parameter_ids(head) == {id(p) for p in model.net.head.parameters()}
{%- endif %}


def test_accumulation_counts_chunks_and_the_schedule_is_sized_by_them(
    datamodule: {{ cookiecutter.__datamodule_class }},
) -> None:
    length = datamodule.hparams.sequence_length
    schedules = {% if two %}["lstm_scheduler", "head_scheduler"]{% else %}["scheduler"]{% endif %}
    model = build_model(
        datamodule,
        "--model.net.init_args.hidden_size=8",
        f"--model.tbptt_steps={length // 4}",
        *(f"--model.{key}={{ engine }}.OneCycle" for key in schedules),
    )
    # 4 chunks a batch and a step every 3 of them: 2 steps a batch, the second after a short window.
    trainer = quick_trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, accumulate_grad_batches=3)
    trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step == 3 * 2 * {{ cookiecutter.optimizers }}
    assert len(trainer.lr_scheduler_configs) == len(schedules)
    for config in trainer.lr_scheduler_configs:
        assert config.scheduler.total_steps == 3 * 2  # the run's optimizer steps, so the cycle ends with the run
        assert config.scheduler.last_epoch == 3 * 2  # stepped with each of them


def test_state_flows_between_chunks_but_gradients_stop() -> None:
    torch.manual_seed(0)
    flags = ["--model.sequence_length=8", "--model.net.init_args.hidden_size=4", "--model.tbptt_steps=4"]
    model = build_model(None, *flags)
    series = torch.randn(1, 8, 1, requires_grad=True)
    first, state = model.net(series[:, :4])
    carried, _ = model.net(series[:, 4:], tuple(part.detach() for part in state))
    fresh, _ = model.net(series[:, 4:])
    assert not torch.allclose(carried, fresh)  # the state carries information forward
    carried.sum().backward()
    assert series.grad[:, :4].abs().sum() == 0 and series.grad[:, 4:].abs().sum() > 0


def test_beats_the_naive_last_value_forecast(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    model = build_model(datamodule, "--model.net.init_args.hidden_size=32", "--model.tbptt_steps=16")
    trainer = quick_trainer(max_epochs=6, gradient_clip_val=1.0)  # clipped as configs/default.yaml does
    trainer.fit(model, datamodule=datamodule)
    result = trainer.test(model, datamodule=datamodule, verbose=False)[0]
    assert result["test/loss"] < 0.5 * result["test/naive_loss"]


def test_another_network_is_one_config_entry(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    flags = ["--model.net=test_model.TinyGRU", "--model.net.init_args.hidden_size=24", "--model.tbptt_steps=16"]
    model = build_model(datamodule, *flags)
    assert isinstance(model.net, TinyGRU) and model.net.head.in_features == 24
    assert model.net.head.out_features == datamodule.num_features  # linked from the data module, as for LSTMForecaster
    trainer = quick_trainer(max_epochs=4, gradient_clip_val=1.0)
    before = trainer.validate(model, datamodule=datamodule, verbose=False)[0]["val/loss"]
    trainer.fit(model, datamodule=datamodule)
    after = trainer.validate(model, datamodule=datamodule, verbose=False)[0]["val/loss"]
    assert after < 0.2 * before  # it learns (to about 0.04 x in 4 epochs), its one-tensor state carried along
    history = datamodule.splits["test"].inputs[:3]
    assert model.forecast(history, horizon=5).shape == (3, 5, datamodule.num_features)


def test_optimizer_and_schedule_come_from_the_config(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
{%- if not two %}
    model = build_model(
        datamodule,
        "--model.net.init_args.hidden_size=8",
        "--model.optimizer=SGD",
        "--model.optimizer.lr=0.05",
        "--model.optimizer.momentum=0.9",
        "--model.scheduler=StepLR",
        "--model.scheduler.step_size=1",
        "--model.scheduler.gamma=0.5",
    )
    trainer = quick_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(model, datamodule=datamodule)
    (optimizer,) = trainer.optimizers
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["momentum"] == 0.9
    assert optimizer.param_groups[0]["lr"] == 0.05 * 0.5**2  # halved after each of the 2 epochs
{%- else %}
    model = build_model(
        datamodule,
        "--model.net.init_args.hidden_size=8",
        "--model.head_optimizer=SGD",
        "--model.head_optimizer.lr=0.05",
        "--model.head_scheduler=StepLR",
        "--model.head_scheduler.step_size=1",
        "--model.head_scheduler.gamma=0.5",
    )
    trainer = quick_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(model, datamodule=datamodule)
    lstm, head = trainer.optimizers
    assert isinstance(lstm, torch.optim.AdamW) and isinstance(head, torch.optim.SGD)
    assert head.param_groups[0]["lr"] == 0.05 * 0.5**2  # halved after each of the 2 epochs
{%- endif %}
{%- if two %}


def test_lstm_and_head_have_their_own_optimizer_and_learning_rate(datamodule: {{ cookiecutter.__datamodule_class }}) -> None:
    length = datamodule.hparams.sequence_length
    model = build_model(
        datamodule,
        "--model.net.init_args.hidden_size=8",
        f"--model.tbptt_steps={length // 2}",
        "--model.lstm_optimizer.lr=0.001",
        "--model.head_optimizer.lr=0.005",
        "--model.lstm_scheduler=null",
        "--model.head_scheduler=null",
    )
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = quick_trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1)
    trainer.fit(model, datamodule=datamodule)
    lstm, head = trainer.optimizers
    assert [group["lr"] for group in lstm.param_groups] == [1e-3]
    assert [group["lr"] for group in head.param_groups] == [5e-3]
    assert parameter_ids(lstm) == {id(p) for p in model.net.lstm.parameters()}
    assert parameter_ids(head) == {id(p) for p in model.net.head.parameters()}
    assert trainer.global_step == 2 * 3 * 2  # both optimizers step on each of the 2 chunks of every batch
    changed = {name.split(".")[1] for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"lstm", "head"}
{%- endif %}
