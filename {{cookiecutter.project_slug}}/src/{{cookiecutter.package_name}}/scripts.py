"""What the scripts do with the CLI: resume a run, tune it, evaluate a checkpoint, use one elsewhere."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.tuner import Tuner
from lightning.pytorch.utilities import rank_zero_info

from .checkpoints import UnreadableCheckpointError, UnsafeCheckpointError, load_checkpoint
from .cli import LINKS, ProjectCLI
from .loaders import DataError
from .runs import find_run, latest_checkpoint, saved_config

# Errors whose message says what to do: a script ends on them with that one line, not a traceback.
USER_ERRORS = (DataError, UnsafeCheckpointError, UnreadableCheckpointError)


def run_script(main: Callable[[], object]) -> None:
    """Run a script's `main`; an error the user can fix ends it with its one-line message."""
    try:
        main()
    except USER_ERRORS as error:
        sys.exit(f"error: {error}")


def resume_arguments(args: list[str], logs: Path = Path("logs")) -> list[str]:
    """Turn `--resume auto|RUN` into `--ckpt_path` (the run's latest valid checkpoint), and put the
    config saved with the checkpoint's run first, so the run goes on as it was set up; any other
    flags still apply on top (e.g. `--trainer.max_epochs 50` to train longer)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--resume")
    pre.add_argument("--ckpt_path")
    known, rest = pre.parse_known_args(args)
    if known.resume:
        run = find_run(known.resume, logs)
        checkpoint = latest_checkpoint(run)
        if checkpoint is None:
            raise SystemExit(f"error: --resume {known.resume}: {run} has no valid checkpoint to resume from")
    elif known.ckpt_path:
        checkpoint = Path(known.ckpt_path)
        load_checkpoint(checkpoint)  # refuse a corrupt or unsafe file before anything is set up
    else:
        return args
    config = saved_config(checkpoint)
    rank_zero_info(f"resuming from {checkpoint}" + (f" with {config}" if config else ""))
    return [*(["--config", str(config)] if config else []), *rest, "--ckpt_path", str(checkpoint)]


def checkpoint_arguments(checkpoint: dict[str, Any]) -> list[str]:
    """Command-line flags that rebuild the model and data module from the hyper-parameters a checkpoint
    stores (the model's linked arguments follow from the data module by themselves)."""
    linked = {target.split(".", 1)[1] for target in LINKS.values()}
    flags = []
    model, data = checkpoint.get("hyper_parameters", {}), checkpoint.get("datamodule_hyper_parameters", {})
    for group, hparams in (("model", model), ("data", data)):
{%- if cookiecutter.dataset != "signal" %}
        if group == "data" and "_class_path" in hparams:
            flags += ["--data", hparams["_class_path"]]
{%- endif %}
        for name, value in hparams.items():
            if name.startswith("_") or (group == "model" and name in linked):
                continue
            flags.append(flag(f"{group}.{name}", value))
    return flags


def flag(key: str, value: Any) -> str:
    """A command-line flag that sets `key` to `value` (JSON for anything but a string)."""
    return f"--{key}={value if isinstance(value, str) else json.dumps(value)}"


# Using a checkpoint takes one process on one device, whatever the run that wrote it used: no process group,
# and Lightning's own environment rather than the SLURM or torchrun one that a training job step has.
ONE_DEVICE = [
    "--trainer.devices=1",
    "--trainer.num_nodes=1",
    "--trainer.strategy=auto",
    "--trainer.sync_batchnorm=false",
    "--trainer.plugins=lightning.pytorch.plugins.environments.LightningEnvironment",
]
# The training run's settings that its final evaluation keeps.
CARRIED = ("accelerator", "precision", "limit_test_batches", "enable_progress_bar", "deterministic", "inference_mode")


def cli_from_checkpoint(ckpt: Path, args: list[str]) -> ProjectCLI:
    """A CLI for using a checkpoint (not training it): the model and data module its hyper-parameters
    describe, with its weights, then `args` on top, on one device; no logger, no saved config, no new run."""
    checkpoint = load_checkpoint(ckpt)
    arguments = [*checkpoint_arguments(checkpoint), *args, *ONE_DEVICE, "--trainer.logger=false"]
    cli = ProjectCLI(arguments, training=False, save_config_callback=None)
    cli.model.load_state_dict(checkpoint["state_dict"])
    if state := checkpoint.get(type(cli.datamodule).__qualname__):  # what the data module learnt in setup
        cli.datamodule.load_state_dict(state)
    return cli


def tune(cli: LightningCLI, what: str) -> None:
    """Run Lightning's learning-rate finder or batch-size scaler, use the result for this run, and write
    it into the config the run saves (which then no longer asks to tune)."""
    if cli.trainer.world_size > 1:
        raise SystemExit(
            f"error: --tune {what}: Lightning's tuner runs on one device, and this run has {cli.trainer.world_size}"
            " processes; tune with one device first, then train with the value it writes into the config"
        )
    tuner = Tuner(cli.trainer)
    run = Path(cli.trainer.log_dir)
    if what == "lr":
        if not cli.model.automatic_optimization:
            raise SystemExit(
                "error: --tune lr: {{ cookiecutter.__model_class }} steps its optimizers itself, which Lightning's"
                " learning-rate finder cannot drive; set model.lr by hand"
            )
        finder = tuner.lr_find(cli.model, datamodule=cli.datamodule)
        if finder is None or finder.suggestion() is None:
            raise SystemExit("error: --tune lr: the learning-rate finder found no suggestion (the loss never fell)")
        run.mkdir(parents=True, exist_ok=True)
        finder.plot(suggest=True).savefig(run / "lr_find.png")
        cli.config.model.lr = cli.model.hparams.lr = float(finder.suggestion())
        rank_zero_info(f"--tune lr: model.lr = {cli.model.hparams.lr:.3g}; the curve is in {run / 'lr_find.png'}")
    else:
        size = tuner.scale_batch_size(cli.model, datamodule=cli.datamodule, mode="power")
{%- if cookiecutter.dataset == "signal" %}
        cli.config.data.batch_size = size
{%- else %}
        cli.config.data.init_args.batch_size = size
{%- endif %}
        rank_zero_info(f"--tune batch_size: data.batch_size = {size}")
    cli.config.tune = None
    # The tuner's trial fits already saved the config as it was: save it again with the result.
    for callback in cli.trainer.callbacks:
        if isinstance(callback, SaveConfigCallback):
            callback.already_saved = False


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


def evaluate_on_one_device(cli: LightningCLI, ckpt: Path) -> dict[str, float]:
    """Test the checkpoint of a multi-process run as evaluate.py does, on one device, with the run's
    accelerator, precision and logger."""
    trainer = cli.config.trainer
    carried = [flag(f"trainer.{key}", trainer[key]) for key in CARRIED if trainer.get(key) is not None]
    evaluation = cli_from_checkpoint(ckpt, carried)
    evaluation.trainer.logger = cli.trainer.logger
    return evaluate(evaluation, str(ckpt))


def load_weights(model: L.LightningModule, ckpt_path: str) -> None:
    """Load only the weights of a checkpoint; `weights_only=True` never runs code stored in the file."""
    model.load_state_dict(load_checkpoint(ckpt_path)["state_dict"])


def write_metrics(path: Path, metrics: dict[str, float], checkpoint: str | None) -> None:
    """Save test metrics as JSON beside the run, for scripts and comparisons."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"checkpoint": checkpoint, "metrics": metrics}, indent=2) + "\n")
