"""Runs that stop cleanly: on a loss that is no longer a number, and on SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch import Tensor

# The exit status of a process ended by SIGTERM (128 + 15), what schedulers and shells expect.
SIGTERM_STATUS = 143


class NonFiniteLossError(RuntimeError):
    """The training loss became nan or inf."""


class FiniteLoss(L.Callback):
    """Stops training with NonFiniteLossError when a loss that is back-propagated becomes nan or inf,
    before any checkpoint holds the broken weights.

    Every loss is checked on its device, without waiting for it; the result is read every
    `log_every_n_steps` batches (when Lightning reads the logged values anyway), before each validation
    and epoch end, and as a checkpoint is saved (which then is not). Under several processes they
    agree (one collective, on every process at the same batch), so all of them stop together.
    """

    def __init__(self) -> None:
        self.first_bad: Tensor | None = None  # the first global step with a non-finite loss; -1 while none

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: Tensor) -> None:
        if self.first_bad is None:
            self.first_bad = torch.full((), -1, dtype=torch.long, device=loss.device)
        bad = ~torch.isfinite(loss.detach()).all() & (self.first_bad < 0)
        self.first_bad = torch.where(bad, trainer.global_step, self.first_bad)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if (batch_idx + 1) % max(trainer.log_every_n_steps, 1) == 0:
            self.check(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self.check(trainer)  # every process builds the checkpoint: the check's collective is reached by all

    def check(self, trainer: L.Trainer) -> None:
        """Raise NonFiniteLossError, on every process, if any of them saw a non-finite loss."""
        step = -1 if self.first_bad is None else int(self.first_bad)
        if not trainer.strategy.reduce_boolean_decision(step >= 0, all=False):
            return
        where = f"at step {step}" if step >= 0 else "on another process"
        raise NonFiniteLossError(
            f"the training loss became nan or inf {where} (epoch {trainer.current_epoch}); the run stopped before"
            " saving it. Lower the learning rate or clip gradients (--trainer.gradient_clip_val 1.0);"
            " --trainer.detect_anomaly true names the operation that made it"
        )


class SaveOnTerminate(L.Callback):
    """On SIGTERM (what a cluster or `kill` sends before killing) Lightning stops training at the next
    batch boundary with SIGTERMException, an exit with status 0 and no checkpoint. This saves
    `checkpoints/interrupted.ckpt` there, on every process (as Lightning saves), which `--resume`
    continues exactly, mid-epoch (see ExactResume); the scripts then exit with status 143."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != "fit" or trainer.sanity_checking:
            return
        checkpoints = (
            getattr(trainer.checkpoint_callback, "dirpath", None) or Path(trainer.default_root_dir) / "checkpoints"
        )
        path = Path(checkpoints) / "interrupted.ckpt"
        trainer.save_checkpoint(path, weights_only=False)
        run = path.parent.parent
        rank_zero_info(f"SIGTERM: saved {path}; go on with: python train.py --resume {run}")
