"""Several processes on Lightning's own engines (DDP, torchrun, SLURM, FSDP2): which process decides,
a SLURM job's run identity, and a requeue that leaves an exactly resumable checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
from types import FrameType
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.environments import SLURMEnvironment
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn


def is_first_process() -> bool:
    """Whether this process will be global rank 0, read from what its launcher set before any process
    group exists: torchrun's RANK, SLURM's SLURM_PROCID (when Lightning uses SLURM), or the NODE_RANK and
    LOCAL_RANK of Lightning's own launcher (which sets them for the processes it starts). A lone process
    is the first."""
    if "RANK" in os.environ:
        return int(os.environ["RANK"]) == 0
    if SLURMEnvironment.detect():
        return int(os.environ["SLURM_PROCID"]) == 0
    return int(os.environ.get("NODE_RANK", 0)) == 0 and int(os.environ.get("LOCAL_RANK", 0)) == 0


def slurm_job() -> str | None:
    """The SLURM job this process runs in, as Lightning would requeue it ("123", or "123_4" for task 4 of
    an array); None outside SLURM or in an interactive allocation."""
    if not SLURMEnvironment.detect() or SLURMEnvironment.job_id() is None:
        return None
    if array := os.environ.get("SLURM_ARRAY_JOB_ID"):
        return f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ["SLURM_JOB_ID"]


class Requeued(Exception):
    """The run stopped because SLURM is about to end the job and the job was requeued."""


class SlurmRequeue(L.Callback):
    """SLURM's warning signal (`#SBATCH --signal=SIGUSR1@90`), handled at the end of a training batch.

    Lightning's own handler saves its checkpoint inside the signal handler, wherever the processes
    happen to be in a step; here the signal only sets a flag. After each training batch the processes
    agree (one small collective) whether any of them got it; if so, all of them save Lightning's
    `hpc_ckpt_N.ckpt` in the run folder at that batch boundary, the first process runs
    `scontrol requeue <job>`, and the run ends with `Requeued`. The requeued job finds the checkpoint
    in the same run folder and resumes it mid-epoch, exactly (see EpochLoader and ExactResume).
    """

    def __init__(self, environment: SLURMEnvironment) -> None:
        self.signal = environment.requeue_signal or signal.SIGUSR1
        self.received = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Replaces the handler Lightning registered for the signal; Lightning restores the previous one at the end.
        signal.signal(self.signal, self.note)

    def note(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler: remember, act at the next batch boundary."""
        self.received = True

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if not trainer.strategy.reduce_boolean_decision(self.received, all=False):
            return
        path = trainer._checkpoint_connector.hpc_save_path(trainer.default_root_dir)
        trainer.save_checkpoint(path, weights_only=False)
        job = slurm_job()
        requeued = trainer.is_global_zero and requeue(job)
        if trainer.strategy.broadcast(requeued):
            raise Requeued(f"SLURM job {job} was requeued; it will resume from {path}")
        self.received = False
        rank_zero_warn(f"`scontrol requeue {job}` failed: training goes on; {path} is there to resume from")


def requeue(job: str | None) -> bool:
    """Ask SLURM to requeue `job`; whether it accepted."""
    if job is None:
        return False
    rank_zero_info(f"requeuing SLURM job {job}")
    try:
        return subprocess.run(["scontrol", "requeue", job], check=False).returncode == 0
    except FileNotFoundError:
        return False


def check_devices(trainer: Any) -> None:
    """Refuse, with one line, a device setting that cannot work on this machine (the trainer's config)."""
    accelerator = str(trainer.accelerator)
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise SystemExit(
            f"error: trainer.accelerator {accelerator}: no CUDA GPU is visible here; on CPUs use"
            " --trainer.accelerator cpu --trainer.devices 2 --trainer.strategy ddp (2 processes)"
        )
    if str(trainer.devices) == "-1" and accelerator == "cpu":
        raise SystemExit("error: trainer.devices -1 means every GPU; on CPUs give a number of processes, e.g. 2")
    if trainer.sync_batchnorm and not torch.cuda.is_available():
        raise SystemExit(
            "error: trainer.sync_batchnorm true: SyncBatchNorm runs on CUDA GPUs only; set it to false on CPUs"
        )


def check_slurm(plugins: Any) -> None:
    """Refuse the SLURM preset outside a SLURM job step, with one line (Lightning raises a KeyError)."""
    names = [getattr(plugin, "class_path", type(plugin).__name__) for plugin in plugins or []]
    if any(name.endswith("SLURMEnvironment") for name in names) and not SLURMEnvironment.detect():
        raise SystemExit(
            "error: configs/slurm.yaml needs a SLURM job step (no SLURM_NTASKS here): submit"
            " scripts/slurm.sbatch with sbatch, or train without --config configs/slurm.yaml"
        )
