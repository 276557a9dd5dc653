"""What the scripts do with the CLI: resume a run, tune it, evaluate a checkpoint, use one elsewhere."""

from __future__ import annotations

import errno
import functools
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.tuner import Tuner
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .checkpoints import (
    IncompatibleCheckpointError,
    UnreadableCheckpointError,
    UnsafeCheckpointError,
    load_checkpoint,
)
from .cli import ProjectCLI
from .guards import SIGTERM_STATUS, NonFiniteLossError
from .loaders import DataError
from .runs import CLAIMED, discard_unfinished_runs, run_dir
from .trackers import log_figure


class SettingError(ValueError):
    """A setting that cannot work (e.g. a sweep's search space); the message says which and why."""


# Errors whose message says what to do: a script ends on them with that one line, not a traceback.
USER_ERRORS = (
    DataError,
    SettingError,
    UnsafeCheckpointError,
    UnreadableCheckpointError,
    IncompatibleCheckpointError,
    NonFiniteLossError,
)
# The exit status of a sweep's trial that the study pruned (sweep.py reads it).
PRUNED_STATUS = 3
# Errors of the machine rather than of the code: a full disk, a read-only or forbidden folder.
DISK_ERRORS = {
    errno.ENOSPC: "no space left",
    errno.EDQUOT: "over the disk quota",
    errno.EROFS: "read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def run_script(main: Callable[[], object]) -> None:
    """Run a script's `main`. An error the user can fix ends it with its one-line message (also when the
    config parser wrapped it), SIGTERM with status 143 (after a checkpoint to resume from), and a run
    that stops before its first checkpoint leaves no run folder behind."""
    claimed = len(CLAIMED)
    try:
        main()
    except SIGTERMException:
        discard_unfinished_runs(since=claimed)
        sys.exit(SIGTERM_STATUS)
    except BaseException as error:
        discard_unfinished_runs(since=claimed)
        if isinstance(error, SystemExit | KeyboardInterrupt):
            raise
        if type(error).__name__ == "TrialPruned":  # optuna's: the sweep that runs this trial stopped it
            print(f"pruned: {error or 'the study stopped this trial'}", file=sys.stderr)
            sys.exit(PRUNED_STATUS)
        if (message := user_message(error)) is None:
            raise
        sys.exit(f"error: {message}")


def user_message(error: BaseException) -> str | None:
    """The one-line message for `error` or an error it was raised from, if it is one the user can fix."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, USER_ERRORS):
            return str(seen)
        if isinstance(seen, OSError) and seen.errno in DISK_ERRORS:
            where = f" writing {seen.filename}" if seen.filename else ""
            return f"{DISK_ERRORS[seen.errno]}{where} ({seen.strerror}): free space or choose a writable folder"
        seen = seen.__cause__ or seen.__context__
    return None


def flag(key: str, value: Any) -> str:
    """A command-line flag that sets `key` to `value` (JSON for anything but a string)."""
    return f"--{key}={value if isinstance(value, str) else json.dumps(value)}"


# The training run's settings that its final evaluation keeps.
CARRIED = ("accelerator", "precision", "limit_test_batches", "enable_progress_bar", "deterministic", "inference_mode")


def tune(cli: LightningCLI, what: str) -> None:
    """Run Lightning's learning-rate finder or batch-size scaler, use the result for this run, and write
    it into the config the run saves (which then no longer asks to tune)."""
    if cli.trainer.world_size > 1:
        raise SystemExit(
            f"error: --tune {what}: Lightning's tuner runs on one device, and this run has {cli.trainer.world_size}"
            " processes; tune with one device first, then train with the value it writes into the config"
        )
    tuner = Tuner(cli.trainer)
    run = run_dir(cli.trainer)
    if what == "lr":
        if not cli.model.automatic_optimization:
            raise SystemExit(
                f"error: --tune lr: {type(cli.model).__name__} steps its optimizers itself, which Lightning's"
                " learning-rate finder cannot drive; set the optimizers' lr by hand"
            )
        finder = tuner.lr_find(cli.model, datamodule=cli.datamodule, update_attr=False)
        run.mkdir(parents=True, exist_ok=True)
        plot = run / "lr_find.png"
        if finder is not None:
            figure = finder.plot(suggest=False)
            figure.savefig(plot)
            log_figure(cli.trainer, "lr_find", figure)
        lr = None if finder is None else sound_lr(finder.results["lr"], finder.results["loss"])
        if lr is None:
            raise SystemExit(
                f"error: --tune lr: the loss does not clearly fall anywhere on the learning-rate curve ({plot});"
                " keep the configured learning rate or choose one from the plot"
            )
        init_args = cli.config.model.optimizer.init_args
        before, init_args.lr = init_args.lr, lr
        cli.model.hparams.optimizer["init_args"]["lr"] = lr
        cli.model.optimizer = functools.partial(cli.model.optimizer, lr=lr)
        rank_zero_info(f"--tune lr: model.optimizer.lr {before:.3g} -> {lr:.3g}; the curve is in {plot}")
    else:
        size = tuner.scale_batch_size(cli.model, datamodule=cli.datamodule, mode="power")
        data = cli.config.data
        (data.init_args if "init_args" in data else data).batch_size = size
        rank_zero_info(f"--tune batch_size: data.batch_size = {size}")
    cli.config.tune = None
    # The tuner's trial fits already saved the config as it was: save it again with the result.
    for callback in cli.trainer.callbacks:
        if isinstance(callback, SaveConfigCallback):
            callback.already_saved = False


def sound_lr(lrs: list[float], losses: list[float], drop: float = 0.1, skip: int = 10) -> float | None:
    """A tenth of the learning rate at the lowest point of the (smoothed) loss curve: the rule that holds
    up across models, where Lightning's steepest-slope suggestion can sit on noise before the curve
    falls at all. The first `skip` points (a few batches, too noisy) and the last one are left out.
    None when the lowest point is not at least `drop` (a share of the loss where the curve starts)
    below the start: then there is no clear descent to go by."""
    points = [(lr, loss) for lr, loss in zip(lrs, losses, strict=True) if math.isfinite(loss)][skip:-1]
    if len(points) < 10:
        return None
    start = sum(loss for _, loss in points[:5]) / 5
    lowest_lr, lowest = min(points, key=lambda point: point[1])
    if lowest > start * (1 - drop):
        return None
    return lowest_lr / 10


def evaluate(cli: LightningCLI, weights: str) -> dict[str, float]:
    """Test the model's current weights (`weights` says where they come from); print a summary."""
    if cli.config.seed_everything is not False:  # the same random draws (noise, dropout) every evaluation
        L.seed_everything(cli.config.seed_everything, verbose=False)
    results = cli.trainer.test(cli.model, datamodule=cli.datamodule)
    metrics = {name: float(value) for name, value in results[0].items()}
    summary = "  ".join(f"{name}={value:.4f}" for name, value in sorted(metrics.items()))
    print(f"Test of {weights}: {summary}")
    return metrics


def finish_on_first_process(trainer: L.Trainer) -> bool:
    """After a fit on several processes: wait for all of them, let all but the first end, and close the
    first one's process group, so that it evaluates alone on one device (no sample counted twice, no
    collective on one process). Whether this process goes on."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        trainer.strategy.barrier("finish_on_first_process")
        if not trainer.is_global_zero:
            return False
        torch.distributed.destroy_process_group()
    return trainer.is_global_zero


def evaluate_on_one_device(cli: ProjectCLI, ckpt: Path) -> dict[str, float]:
    """Test a checkpoint of the run as evaluate.py does, on one device, with the run's accelerator,
    precision and logger."""
    trainer = cli.config.trainer
    carried = [flag(f"trainer.{key}", trainer[key]) for key in CARRIED if trainer.get(key) is not None]
    evaluation = type(cli)([*carried, f"--ckpt_path={ckpt}"], training=False)
    evaluation.trainer.logger = cli.trainer.logger
    return evaluate(evaluation, str(ckpt))


def load_weights(model: L.LightningModule, ckpt_path: str) -> None:
    """Load only the weights of a checkpoint; `weights_only=True` never runs code stored in the file."""
    model.load_state_dict(load_checkpoint(ckpt_path)["state_dict"])


def write_metrics(path: Path, metrics: dict[str, float], checkpoint: str | None) -> None:
    """Save test metrics as JSON beside the run, for scripts and comparisons."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"checkpoint": checkpoint, "metrics": metrics}, indent=2) + "\n")
