"""The project's Trainer: Lightning's, with precision "auto", atomic checkpoints and exact resumes."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins import _PLUGIN_INPUT
from lightning.pytorch.plugins.environments import SLURMEnvironment
from lightning.pytorch.utilities import rank_zero_info

from .checkpoints import AtomicCheckpointIO, ExactResume
from .distributed import SlurmRequeue
from .guards import FiniteLoss, SaveOnTerminate
from .runs import run_of
from .speed import use_tensor_cores

Precision = Literal["auto", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true"]


def resolve_precision(precision: str, accelerator: Any = "auto") -> str:
    """Turn "auto" into bf16-mixed on GPUs that support it, 16-mixed on older GPUs, 32-true elsewhere.

    Mixed precision on a CPU without bfloat16 instructions (Lightning runs 16-mixed as bf16-mixed there)
    becomes 32-true, saying so: emulated bfloat16 is slower than float32, and some kernels (oneDNN's
    LSTM) have none at all."""
    on_gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    mixed_on_cpu = precision in ("16-mixed", "bf16-mixed") and accelerator in ("auto", "cpu") and not on_gpu
    if mixed_on_cpu and not cpu_has_bfloat16():
        rank_zero_info(f"precision: {precision} -> 32-true (this CPU has no bfloat16 instructions)")
        return "32-true"
    if precision != "auto":
        return precision
    if not on_gpu:
        chosen, reason = "32-true", "no CUDA GPU in use"
    elif torch.cuda.is_bf16_supported():
        chosen, reason = "bf16-mixed", f"{torch.cuda.get_device_name()} supports bfloat16"
    else:
        chosen, reason = "16-mixed", f"{torch.cuda.get_device_name()} has no bfloat16"
    rank_zero_info(f"precision: auto -> {chosen} ({reason})")
    return chosen


def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes in bfloat16 natively (oneDNN's own test)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a PyTorch without oneDNN
        return False


class Trainer(L.Trainer):
    """Lightning's Trainer, plus:

    - `precision="auto"`: the fastest precision that trains well on this hardware, and TF32 tensor
      cores for float32 matrix products on GPUs;
    - checkpoints written to a temporary file and renamed into place (AtomicCheckpointIO), unless
      another CheckpointIO plugin is given;
    - every process's random states and place in the epoch saved in checkpoints and restored on
      resume (ExactResume), so that a resumed run ends exactly where an uninterrupted one would;
    - a loss that becomes nan or inf stops the run before a checkpoint holds it (FiniteLoss), and
      SIGTERM saves a checkpoint to resume from before the run ends (SaveOnTerminate);
    - in a SLURM job with auto-requeue (Lightning's default there), the requeue signal handled at a
      batch boundary (SlurmRequeue), so that the requeued job resumes exactly too;
    - `compile`: torch.compile the model's networks (in its configure_model);
    - gradient clipping and accumulation for models that step their optimizers themselves
      (ManualOptimization), which Lightning refuses for them: they are handed to the model at `fit`;
    - `log_every_n_steps` at most the training batches of an epoch (see its docstring).

    Args:
        compile: Compile the networks with torch.compile: faster steps on a GPU, after a slow first one.
    """

    def __init__(
        self,
        *,
        precision: Precision = "auto",
        callbacks: list[Callback] | Callback | None = None,
        plugins: list[_PLUGIN_INPUT] | _PLUGIN_INPUT | None = None,
        compile: bool = False,
        **kwargs: Any,
    ) -> None:
        self.compile = compile
        self._log_interval_said = False
        self._step_settings: tuple[Any, ...] | None = None
        plugins = [] if plugins is None else plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            plugins.append(AtomicCheckpointIO())
        callbacks = [] if callbacks is None else callbacks if isinstance(callbacks, list) else [callbacks]
        for guard in (ExactResume, FiniteLoss, SaveOnTerminate):
            if not any(isinstance(callback, guard) for callback in callbacks):
                callbacks.append(guard())
        precision = resolve_precision(precision, kwargs.get("accelerator", "auto"))
        use_tensor_cores()
        super().__init__(precision=precision, plugins=plugins, callbacks=callbacks, **kwargs)
        environment = self._accelerator_connector.cluster_environment
        if isinstance(environment, SLURMEnvironment) and environment.auto_requeue:
            self.callbacks.append(SlurmRequeue(environment))

    @property
    def log_every_n_steps(self) -> int:
        """How often training steps are logged: as set, but while training at most the batches of an epoch
        (said once), so that every epoch logs its steps; Lightning would warn instead, and log them only
        every few epochs."""
        interval = self._log_every_n_steps
        batches = self.fit_loop.max_batches if hasattr(self, "fit_loop") else float("inf")
        if not (self.training and 0 < batches < interval):
            return interval
        if not self._log_interval_said and self.loggers:
            rank_zero_info(
                f"trainer.log_every_n_steps={interval} is more than the {batches} training batches of an epoch:"
                f" training steps are logged every {batches} instead"
            )
            self._log_interval_said = True
        return int(batches)

    @log_every_n_steps.setter
    def log_every_n_steps(self, interval: int) -> None:
        self._log_every_n_steps = interval

    def save_checkpoint(self, filepath: Any, weights_only: bool | None = False, storage_options: Any = None) -> None:
        """Lightning's, where a checkpoint saved without saying (by the tuner, or a SLURM requeue) is a full
        one, as Lightning makes it anyway, without its notice that `weights_only` was not set."""
        weights_only = False if weights_only is None else weights_only
        super().save_checkpoint(filepath, weights_only=weights_only, storage_options=storage_options)

    def fit(self, model: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        """Lightning's fit; a model that steps its own optimizers first takes over clipping and accumulation.

        Resuming a run in its own folder (`ckpt_path` in it), the files already there are expected: the
        warnings of ModelCheckpoint and CSVLogger that the folder is not empty are left out then, and only
        then (the CLI has moved the run's metrics.csv aside, so CSVLogger deletes nothing)."""
        take = getattr(model, "take_step_settings", None)  # ManualOptimization's
        if take is not None:
            if self._step_settings is None:
                self._step_settings = (
                    self.gradient_clip_val,
                    self.gradient_clip_algorithm,
                    self.accumulate_grad_batches,
                )
                self.gradient_clip_val, self.accumulate_grad_batches = None, 1
            take(*self._step_settings)
        run = Path(self.default_root_dir)
        ckpt_path = kwargs.get("ckpt_path")
        with warnings.catch_warnings():
            if ckpt_path and run_of(Path(ckpt_path)).resolve() == run.resolve():
                runs = "|".join(re.escape(str(folder)) for folder in {run, run_of(Path(ckpt_path)), run.resolve()})
                for message in (r"Checkpoint directory ({})[/\\]checkpoints", "Experiment logs directory ({})"):
                    warnings.filterwarnings("ignore", message.format(runs) + " exists and is not empty")
            super().fit(model, *args, **kwargs)
