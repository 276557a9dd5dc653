"""The LightningModule: an LSTM forecaster trained with truncated back-propagation through time."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .engine.manual import ManualOptimization
from .nets import LSTMForecaster
from .engine.optim import OptimizerName, SchedulerName, configure_optimizer, schedule_steps, training_batches
from .engine.speed import prepare_nets


class Forecaster(ManualOptimization):
    """Predicts each next step of a multivariate series (mean squared error).

    Training uses truncated back-propagation through time: each batch of sequences is cut along
    time into chunks of `tbptt_steps`; every chunk gets a backward pass and an optimizer step, and
    the LSTM state flows into the next chunk detached, so gradients stop at the chunk's start.
    Lightning 2 no longer does this itself, hence manual optimization (see ManualOptimization),
    which also clips and accumulates gradients.
{%- if cookiecutter.optimizers == "2" %}

    Two optimizers, each with its own learning rate and schedule: one for the LSTM (`lr`), one for
    the linear head (`head_lr`).
{%- endif %}

    Validation and test also log `naive_loss`, the error of repeating the last value: a model
    worth having beats it.

    Args:
        input_size: Variables per time step (linked from the data module).
        sequence_length: Time steps per training sequence (linked from the data module).
        hidden_size: LSTM state size.
        num_layers: Stacked LSTM layers.
        dropout: Dropout between LSTM layers (with 2 or more).
        tbptt_steps: Time steps per truncated back-propagation chunk.
        optimizer: adamw, adam or sgd.
{%- if cookiecutter.optimizers == "1" %}
        lr: Peak learning rate.
{%- else %}
        lr: Peak learning rate of the LSTM.
        head_lr: Peak learning rate of the head.
{%- endif %}
        weight_decay: Weight decay (decoupled for adamw).
        momentum: SGD momentum, or beta1 of the Adam family.
        scheduler: warmup_cosine, cosine, step, onecycle, plateau or none.
        warmup_epochs: Linear warm-up length for warmup_cosine, in epochs (fractions allowed).
        lrf: Final learning rate as a fraction of the peak (cosine schedules and onecycle).
        step_size: Epochs between decays for the step schedule.
        gamma: Decay factor of the step and plateau schedules.
        patience: Epochs without val/loss improvement before plateau decays.
        gradient_clip_val: Clip the gradient norm to this (None: no clipping); LSTMs need it.
        accumulate_grad_batches: Step once every this many chunks (always at a batch's last chunk).
        compile: Compile the networks with torch.compile: faster steps on a GPU, after a slow first one.
    """

    def __init__(
        self,
        input_size: int = 1,
        sequence_length: int = 128,
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        tbptt_steps: int = 32,
        optimizer: OptimizerName = "adamw",
        lr: float = 1e-2,
{%- if cookiecutter.optimizers == "2" %}
        head_lr: float = 1e-2,
{%- endif %}
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        scheduler: SchedulerName = "warmup_cosine",
        warmup_epochs: float = 1.0,
        lrf: float = 0.01,
        step_size: int = 10,
        gamma: float = 0.1,
        patience: int = 5,
        gradient_clip_val: float | None = 1.0,
        accumulate_grad_batches: int = 1,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = LSTMForecaster(input_size, hidden_size, num_layers, dropout)
        self.example_input_array = torch.zeros(2, sequence_length, input_size)

    def configure_model(self) -> None:
        """Once the device is known: sharded under FSDP (configs/fsdp.yaml), and torch.compile if `compile`."""
        device, compile = self.trainer.strategy.root_device, self.hparams.compile
        prepare_nets([self.net], device, compile, channels_last=False, mesh=self.device_mesh)

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
            state = tuple(part.detach() for part in state)  # the next chunk's gradient stops here
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

    def configure_optimizers(self) -> {% if cookiecutter.optimizers == "1" %}dict{% else %}list[dict]{% endif %}:
        hp = self.hparams
        # Each batch makes one optimizer step per accumulation window of chunks, the last window possibly short.
        steps_per_batch = math.ceil(math.ceil(hp.sequence_length / hp.tbptt_steps) / hp.accumulate_grad_batches)
        total_steps, steps_per_epoch = schedule_steps(
            self.trainer, passes_per_epoch=training_batches(self.trainer) * steps_per_batch, accumulate=1
        )
        schedule = {"total_steps": total_steps, "steps_per_epoch": steps_per_epoch, "monitor": None}
{%- if cookiecutter.optimizers == "1" %}
        return configure_optimizer(self.parameters(), hp.lr, hp, **schedule)
{%- else %}
        return [
            configure_optimizer(self.net.lstm.parameters(), hp.lr, hp, **schedule),
            configure_optimizer(self.net.head.parameters(), hp.head_lr, hp, **schedule),
        ]
{%- endif %}
