"""The progress bar: Lightning's RichProgressBar without a host sync per step or the logger's version number."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    """RichProgressBar that reads the metrics it shows every `metrics_every` training batches.

    Lightning's bar reads every shown metric from the device (`.item()`) after each training batch,
    which on a GPU waits for the step to finish. This one reads them every `metrics_every` batches, at
    the end of each epoch and after validation; the bar itself still advances every `refresh_rate`
    batches. The logger's version number (`v_num`), a constant, is left out.

    Args:
        metrics_every: Training batches between two readings of the shown metrics.
        refresh_rate: Batches between two redraws of the bar.
        leave: Keep each epoch's finished bar on screen.
    """

    def __init__(self, metrics_every: int = 10, refresh_rate: int = 1, leave: bool = False) -> None:
        super().__init__(refresh_rate=refresh_rate, leave=leave)
        self.metrics_every = metrics_every
        self._read_metrics = True

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        done = batch_idx + 1
        self._read_metrics = done % self.metrics_every == 0 or done == self.total_train_batches
        try:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        finally:
            self._read_metrics = True

    def _update_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning calls this after every training batch; the reading is skipped between due batches.
        if self._read_metrics:
            super()._update_metrics(trainer, pl_module)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics
