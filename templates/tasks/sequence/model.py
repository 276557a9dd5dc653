"""The LightningModule: a recurrent forecaster trained with truncated back-propagation through time; its
network, optimizer{{ "s" if cookiecutter.optimizers == "2" }} and schedule{{ "s" if cookiecutter.optimizers == "2" }} come from the config."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from .engine.manual import ManualOptimization
from .engine.optim import configure, training_batches
from .engine.speed import prepare_for_trainer


class Forecaster(ManualOptimization):
    """Predicts each next step of a multivariate series (mean squared error).

    Training uses truncated back-propagation through time: each batch of sequences is cut along
    time into chunks of `tbptt_steps`; every chunk gets a backward pass and an optimizer step, and
    the network's state flows into the next chunk detached, so gradients stop at the chunk's start.
    Lightning 2 no longer does this itself, hence manual optimization (see ManualOptimization),
    clipping and accumulating as the trainer's flags say (accumulation counts chunks).
{%- if cookiecutter.optimizers == "2" %}

    Two optimizers, each with its own learning rate and schedule: one for the network's `lstm`, one
    for its `head`.
{%- endif %}

    Validation and test also log `naive_loss`, the error of repeating the last value: a model
    worth having beats it.

    Args:
        net: The network: `net(series, state=None)` gives the forecasts of steps 1..T of a
            (batch, T, input_size) series and its state after them (a tensor or a tuple of tensors).
{%- if cookiecutter.optimizers == "2" %}
            Its `lstm` and `head` get an optimizer each.
        lstm_optimizer: Builds the LSTM's optimizer (any torch.optim class, from the config).
        head_optimizer: Builds the head's optimizer.
        lstm_scheduler: Builds the LSTM's learning-rate schedule (None: constant).
        head_scheduler: Builds the head's learning-rate schedule (None: constant).
{%- else %}
        optimizer: Builds the optimizer from the parameters (any torch.optim class, from the config).
        scheduler: Builds the learning-rate schedule from the optimizer (None: constant).
{%- endif %}
        input_size: Variables per time step (linked from the data module).
        sequence_length: Time steps per training sequence (linked from the data module).
        tbptt_steps: Time steps per truncated back-propagation chunk.
    """

    def __init__(
        self,
        net: nn.Module,
{%- if cookiecutter.optimizers == "2" %}
        lstm_optimizer: OptimizerCallable,
        head_optimizer: OptimizerCallable,
        lstm_scheduler: LRSchedulerCallable | None = None,
        head_scheduler: LRSchedulerCallable | None = None,
{%- else %}
        optimizer: OptimizerCallable,
        scheduler: LRSchedulerCallable | None = None,
{%- endif %}
        input_size: int = 1,
        sequence_length: int = 128,
        tbptt_steps: int = 32,
    ) -> None:
        super().__init__()
{%- if cookiecutter.optimizers == "2" %}
        self.save_hyperparameters()  # by the CLI: every argument's config, the network's and optimizers' too
        self.net = net
        self.lstm_optimizer, self.head_optimizer = lstm_optimizer, head_optimizer
        self.lstm_scheduler, self.head_scheduler = lstm_scheduler, head_scheduler
{%- else %}
        self.save_hyperparameters()  # by the CLI: every argument's config, the network's and optimizer's too
        self.net, self.optimizer, self.scheduler = net, optimizer, scheduler
{%- endif %}
        self.example_input_array = torch.zeros(2, sequence_length, input_size)

    def configure_model(self) -> None:
        """Once the device is known: sharded under FSDP (configs/fsdp.yaml), compiled if asked."""
        prepare_for_trainer(self, self.net)

    def forward(self, series: Tensor) -> Tensor:
        """Forecasts of steps 1..T for a (batch, T, input_size) series."""
        return self.net(series)[0]

    @torch.no_grad()
    def forecast(self, history: Tensor, horizon: int) -> Tensor:
        """Roll the model forward `horizon` steps after `history` (batch, T, input_size), feeding
        each forecast back in as the next input. Returns (batch, horizon, input_size)."""
        predictions, state = self.net(history)
        step = predictions[:, -1:]
        steps = [step]
        for _ in range(horizon - 1):
            step, state = self.net(step, state)
            steps.append(step)
        return torch.cat(steps, dim=1)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        inputs, targets = batch
{%- if cookiecutter.optimizers == "1" %}
        optimizers = [self.optimizers()]
{%- else %}
        optimizers = self.optimizers()
{%- endif %}
        size = self.hparams.tbptt_steps
        chunks = list(zip(inputs.split(size, dim=1), targets.split(size, dim=1), strict=True))
        state, total = None, inputs.new_zeros(())
        for index, (chunk, target) in enumerate(chunks):
            prediction, state = self.net(chunk, state)
            loss = F.mse_loss(prediction, target)
            self.optimize(loss, optimizers, step=self.is_step_boundary(index, len(chunks)))
            state = detached(state)  # the next chunk's gradient stops here
            total = total + loss.detach() * chunk.shape[1]
        self.log("train/loss", total / inputs.shape[1], on_step=True, on_epoch=True, prog_bar=True, sync_dist=True)

    def _evaluate(self, batch: tuple[Tensor, Tensor], stage: str) -> None:
        inputs, targets = batch
        self.log(f"{stage}/loss", F.mse_loss(self(inputs), targets), prog_bar=True, sync_dist=True)
        self.log(f"{stage}/naive_loss", F.mse_loss(inputs, targets), sync_dist=True)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """The forecast of the step after each sequence."""
        return {"forecast": self(batch[0])[:, -1]}

    def chunk_passes(self) -> int:
        """Backward passes an epoch, for sizing the schedules: one a chunk, each batch's last accumulation
        window counted whole, since it steps even when short (one step per `accumulate_grad_batches` passes)."""
        chunks = math.ceil(self.hparams.sequence_length / self.hparams.tbptt_steps)
        accumulate = self.accumulate_grad_batches
        return training_batches(self.trainer) * math.ceil(chunks / accumulate) * accumulate
{% if cookiecutter.optimizers == "1" %}
    def configure_optimizers(self) -> dict:
        return configure(self.optimizer, self.scheduler, self.parameters(), self.trainer, self.chunk_passes())
{%- else %}
    def configure_optimizers(self) -> list[dict]:
        passes = self.chunk_passes()
        return [
            configure(self.lstm_optimizer, self.lstm_scheduler, self.net.lstm.parameters(), self.trainer, passes),
            configure(self.head_optimizer, self.head_scheduler, self.net.head.parameters(), self.trainer, passes),
        ]
{%- endif %}


def detached(state: Any) -> Any:
    """The recurrent state (a tensor, or a tuple of them as an LSTM's) cut from its graph."""
    return state.detach() if isinstance(state, Tensor) else tuple(detached(part) for part in state)
