"""The command line shared by the scripts: LightningCLI with this project's defaults, run folders and resume."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightning as L
import yaml
from jsonargparse import ArgumentError, Namespace
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_info

from .checkpoints import (
    IncompatibleCheckpointError,
    UnsafeCheckpointError,
    check_fits,
    first_line,
    load_checkpoint,
)
from .distributed import check_devices, check_slurm, is_first_process, slurm_job
from .runs import (
    RUN_NAME,
    claim_run_dir,
    find_checkpoint,
    find_run,
    is_run_under,
    latest_valid,
    prune_stale_checkpoints,
    run_of,
    saved_config,
)
from .trackers import NAMES_RUN_FOLDERS, SaveRunConfig, check_installed, follow_run, logger_name
from .trainer import Trainer

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"

# Deprecation notices about Lightning's own use of jsonargparse and torch: nothing this project can act on.
os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")

# Using a checkpoint takes one process on one device, whatever the run that wrote it used: no process group,
# and Lightning's own environment rather than the SLURM or torchrun one that a training job step has.
ONE_DEVICE = [
    "--trainer.devices=1",
    "--trainer.num_nodes=1",
    "--trainer.strategy=auto",
    "--trainer.sync_batchnorm=false",
    "--trainer.plugins=lightning.pytorch.plugins.environments.LightningEnvironment",
    "--trainer.logger=false",
]
# Where classes named by a checkpoint may come from, besides the project's own package.
TRUSTED_PACKAGES = ("torch", "lightning", "torchmetrics")


class _DropChatter(logging.Filter):
    """Hide Lightning's advertising tips and its note about our own model summary; keep every other message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "Tip:" not in message and "Skipping setting a default `ModelSummary`" not in message


@dataclass
class SWA:
    """Stochastic weight averaging: Lightning's StochasticWeightAveraging callback, switched on here.

    Args:
        enabled: Average the weights of the last epochs (needs automatic optimization: one optimizer).
        lrs: Learning rate during the averaging phase.
        epoch_start: First averaged epoch, as a fraction of max_epochs (or an epoch number).
        annealing_epochs: Epochs over which the learning rate moves to `lrs`.
    """

    enabled: bool = False
    lrs: float = 1e-3
    epoch_start: float = 0.8
    annealing_epochs: int = 5


class ProjectCLI(LightningCLI):
    """Parses configs/default.yaml, then any `--config` files, then command-line flags, and builds the run.

    A project subclasses it to name its LightningModule (`model_class`), its data module
    (`datamodule_class`; with `subclass_mode_data`, any subclass of it that the config names) and the
    model's arguments that follow from the data module (`links`: data attribute -> model argument(s)).

    Training (`training=True`): `--resume auto|RUN` or `--ckpt_path` go on with a run, from its latest
    valid checkpoint, with the config saved in its folder applied first; a new run claims its own
    `logs/version_N` folder. Using a checkpoint (`training=False`, for evaluate/predict/export):
    the model and data module are rebuilt from the hyper-parameters the checkpoint stores, with its
    weights, on one device, then the flags given apply on top; nothing is logged or saved.

    Args:
        args: Arguments to parse instead of `sys.argv[1:]`.
        training: Build for training (see above), else for using a checkpoint.
        script_arguments: Adds a script's own options to the parser (they show in `--help`).
    """

    model_class: ClassVar[type[L.LightningModule]]
    datamodule_class: ClassVar[type[L.LightningDataModule]]
    subclass_mode_data: ClassVar[bool] = False
    links: ClassVar[dict[str, str | tuple[str, ...]]] = {}

    def __init__(
        self,
        args: list[str] | None = None,
        *,
        training: bool = True,
        script_arguments: Callable[[LightningArgumentParser], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.training = training
        self.script_arguments = script_arguments
        self.checkpoint: dict[str, Any] | None = None  # the checkpoint used, when not training
        self.foreign_checkpoint = False  # training from a checkpoint that is not a run of this project
        self.resumed_weights: dict[str, Any] | None = None
        for handler in logging.getLogger("lightning.pytorch").handlers:
            handler.addFilter(_DropChatter())
        kwargs.setdefault("save_config_callback", SaveRunConfig if training else None)
        super().__init__(
            type(self).model_class,
            type(self).datamodule_class,
            subclass_mode_data=type(self).subclass_mode_data,
            trainer_class=Trainer,
            seed_everything_default=42,
            parser_kwargs={"default_config_files": [str(DEFAULT_CONFIG)]},
            save_config_kwargs={"overwrite": True},  # a resumed run rewrites its own config.yaml
            auto_configure_optimizers=False,
            run=False,
            args=args,
            **kwargs,
        )

    @property
    def averages_weights(self) -> bool:
        """Whether stochastic weight averaging is on (the model then ends training with averaged weights)."""
        swa = self.config.get("swa")
        return bool(swa and swa.enabled)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--ckpt_path",
            type=str | None,
            default=None,
            help="Checkpoint to resume from (train.py) or to use (default there: the best of the newest run).",
        )
        if self.training:
            parser.add_argument(
                "--resume",
                type=str | None,
                default=None,
                help="Go on with a run from its latest valid checkpoint: auto (the newest run) or a run folder.",
            )
            parser.add_argument(
                "--runs_dir",
                type=str | None,
                default=None,
                help="Where run folders go (default: the logger's save_dir, else trainer.default_root_dir).",
            )
            parser.add_argument(
                "--tune",
                type=Literal["lr", "batch_size"] | None,
                default=None,
                help="Before training, find the learning rate (lr) or the largest batch size that fits (batch_size).",
            )
            if not hasattr(
                self.model_class, "take_step_settings"
            ):  # StochasticWeightAveraging needs automatic optimization
                parser.add_argument("--swa", type=SWA, default=SWA(), help="Stochastic weight averaging.")
        if self.script_arguments is not None:
            self.script_arguments(parser)
        for source, targets in self.links.items():
            for target in (targets,) if isinstance(targets, str) else targets:
                parser.link_arguments(source, target, apply_on="instantiate")

    def parse_arguments(self, parser: LightningArgumentParser, args: list[str] | None) -> None:
        """Parse `args` (or `sys.argv[1:]`), then: for training, put the config of the run to resume first;
        for using a checkpoint, the hyper-parameters it stores first."""
        args = sys.argv[1:] if args is None else list(args)
        check_yaml_files([DEFAULT_CONFIG, *config_files(args)])
        config = parser.parse_args(args)
        logs = runs_root(config.trainer, config.get("runs_dir"))
        if self.training and (config.resume or config.ckpt_path):
            config = self.resume_config(parser, args, config, logs)
        elif not self.training:
            checkpoint = find_checkpoint(config.ckpt_path, logs)
            self.checkpoint = load_checkpoint(checkpoint)
            config = self.checkpoint_defaults(parser, self.checkpoint)
            config = parser.parse_args([*args, *ONE_DEVICE, f"--ckpt_path={checkpoint}"], namespace=config)
        self.config = config

    def resume_config(
        self, parser: LightningArgumentParser, args: list[str], config: Namespace, logs: Path
    ) -> Namespace:
        """The config of a resumed run. A run of this project (under its logs folder) goes on in its own
        folder with the config saved there applied first. A checkpoint from anywhere else starts a new run
        here, from the hyper-parameters the checkpoint stores: a config file found beside it is not applied
        (a config is code: its class paths choose what runs), and nothing is written where it lies."""
        path, checkpoint = resume_point(config.resume, config.ckpt_path, logs)
        self.resumed_weights = checkpoint.get("state_dict")  # checked against the model once it is built
        run = run_of(path)
        if is_run_under(run, logs):
            saved = saved_config(path)
            resumed = parser.parse_args([*(["--config", str(saved)] if saved else []), *args, f"--ckpt_path={path}"])
            if (done := run_length_reached(checkpoint, resumed.trainer)) is not None:
                count, flag = done
                if is_first_process():
                    print(
                        f"{run} is complete ({flag.removeprefix('max_')} done: {count}, trainer.{flag}:"
                        f" {resumed.trainer[flag]}); to train longer: python train.py --resume {run}"
                        f" --trainer.{flag} N, with N greater than {count}"
                    )
                raise SystemExit(0)  # nothing to train: no test again, nothing written
            if is_first_process():
                prune_stale_checkpoints(run, path, checkpoint)
            rank_zero_info(f"resuming {run} from {path.name}" + (f", with its config {saved}" if saved else ""))
            resumed.resume = None
            return resumed
        rank_zero_info(
            f"resuming from {path}, which is not a run under {logs}/: a new run starts here with the"
            " hyper-parameters that the checkpoint stores (no config file beside it is applied)"
        )
        defaults = self.checkpoint_defaults(parser, checkpoint)
        resumed = parser.parse_args([*args, f"--ckpt_path={path}"], namespace=defaults)
        resumed.resume = None
        self.foreign_checkpoint = True
        return resumed

    def checkpoint_defaults(self, parser: LightningArgumentParser, checkpoint: dict[str, Any]) -> Namespace:
        """The parser's defaults with the model and data sections the checkpoint stores (class paths checked)."""
        stored = checkpoint_config(checkpoint, trusted=(self.model_class.__module__.split(".")[0],))
        exit_on_error, parser.exit_on_error = parser.exit_on_error, False  # raise rather than print the usage
        try:
            return parser.parse_object(stored, parser.get_defaults())
        except ArgumentError as error:
            raise IncompatibleCheckpointError(
                f"the checkpoint's hyper-parameters do not fit this project's {self.model_class.__name__}"
                f" ({first_line(error)}): is it from another project or task?"
            ) from None
        finally:
            parser.exit_on_error = exit_on_error

    def before_instantiate_classes(self) -> None:
        trainer = self.config.trainer
        # A flag that turns a feature off also removes the config's callbacks for it (Lightning would raise).
        if trainer.logger is False:
            drop_callbacks(trainer, "LearningRateMonitor", "logger", say=self.training)
        if trainer.enable_progress_bar is False:
            drop_callbacks(trainer, "ProgressBar", "enable_progress_bar", say=self.training)
        if trainer.enable_model_summary is False:
            drop_callbacks(trainer, "ModelSummary", "enable_model_summary", say=self.training)
        if not self.training:
            return
        if self.averages_weights:
            swa = self.config.swa
            averaging = Namespace(
                swa_lrs=swa.lrs, swa_epoch_start=swa.epoch_start, annealing_epochs=swa.annealing_epochs
            )
            callback = Namespace(
                class_path="lightning.pytorch.callbacks.StochasticWeightAveraging", init_args=averaging
            )
            trainer.callbacks = [*(trainer.callbacks or []), callback]
        check_slurm(trainer.plugins)
        check_devices(trainer)
        check_installed(trainer.logger)
        check_run_length(
            trainer, scheduled=any(value for key, value in self.config.model.items() if "scheduler" in key)
        )
        if trainer.strategy == "ddp" and getattr(self.model_class, "ddp_find_unused_parameters", False):
            trainer.strategy = "ddp_find_unused_parameters_true"  # the model says some parameters sit out a step
        place_run(self.config, continue_run=not self.foreign_checkpoint)

    def instantiate_classes(self) -> None:
        """Build the model, data module and trainer; when using a checkpoint, load its weights and the data
        module's state (what it learnt in setup)."""
        super().instantiate_classes()
        if self.checkpoint is not None:
            check_fits(self.model, self.checkpoint["state_dict"], self.config.ckpt_path)
            self.model.load_state_dict(self.checkpoint["state_dict"])
            if state := self.checkpoint.get(type(self.datamodule).__qualname__):
                self.datamodule.load_state_dict(state)
        elif self.resumed_weights is not None:  # Lightning loads them at fit; refuse a misfit first, in one line
            check_fits(self.model, self.resumed_weights, self.config.ckpt_path)
            self.resumed_weights = None


def resume_point(resume: str | None, ckpt_path: str | None, logs: Path) -> tuple[Path, dict[str, Any]]:
    """The checkpoint to resume from and its content: the latest valid one of the run `resume` names, else
    `ckpt_path` (refused before anything is set up if it is corrupt or unsafe). Of a sharded checkpoint,
    only its metadata."""
    if resume:
        run = find_run(resume, logs)
        if (found := latest_valid(run)) is None:
            raise SystemExit(f"error: --resume {resume}: {run} has no valid checkpoint to resume from")
        return found
    checkpoint = Path(ckpt_path)
    return checkpoint, load_checkpoint(checkpoint, require_weights=False)


def run_length_reached(checkpoint: dict[str, Any], trainer: Any) -> tuple[int, str] | None:
    """The epochs (or steps) a checkpoint's run has done and the flag they reach ("max_epochs" or
    "max_steps"), if resuming from it would train nothing (as Lightning's fit loop counts them); else None."""
    epoch_progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {})
    epochs, steps = epoch_progress.get("current", {}).get("processed"), checkpoint.get("global_step")
    if trainer.max_steps not in (None, -1) and steps is not None and steps >= trainer.max_steps:
        return steps, "max_steps"
    if trainer.max_epochs not in (None, -1) and epochs is not None and epochs >= trainer.max_epochs:
        return epochs, "max_epochs"
    return None


def checkpoint_config(checkpoint: dict[str, Any], trusted: tuple[str, ...]) -> dict[str, Any]:
    """The model and data sections of a config, from the hyper-parameters a checkpoint stores. Every class
    they name must come from the `trusted` packages or torch/Lightning: nothing else is imported."""
    sections = {}
    for section, key in (("model", "hyper_parameters"), ("data", "datamodule_hyper_parameters")):
        hparams = dict(checkpoint.get(key) or {})
        values = {name: value for name, value in hparams.items() if not name.startswith("_")}
        class_path = hparams.get("_class_path")
        sections[section] = {"class_path": class_path, "init_args": values} if class_path else values
    check_class_paths(sections, (*trusted, *TRUSTED_PACKAGES))
    return sections


def check_class_paths(value: Any, trusted: tuple[str, ...]) -> None:
    """Refuse any `class_path` in `value` (nested dicts and lists) outside the `trusted` packages."""
    if isinstance(value, dict):
        path = value.get("class_path")
        if isinstance(path, str) and path.split(".")[0] not in trusted:
            raise UnsafeCheckpointError(
                f"the checkpoint names class {path!r}, outside this project and {', '.join(TRUSTED_PACKAGES)}: refused"
            )
        for item in value.values():
            check_class_paths(item, trusted)
    elif isinstance(value, list):
        for item in value:
            check_class_paths(item, trusted)


def runs_root(trainer: Any, runs_dir: str | None = None) -> Path:
    """The folder that holds the runs: `runs_dir` if given, else the save_dir/name of a logger that names
    run folders (TensorBoard, CSV), else the trainer's default_root_dir (the folder above it when that
    names a run already, as in a run's saved config)."""
    if runs_dir:
        return Path(runs_dir)
    init_args = getattr(trainer.logger, "init_args", None)
    if logger_name(trainer.logger) in NAMES_RUN_FOLDERS and init_args.get("save_dir") is not None:
        return Path(init_args.save_dir) / (init_args.get("name") or "")
    root = Path(trainer.default_root_dir or "logs")
    return root.parent if RUN_NAME.fullmatch(root.name) else root


def place_run(config: Any, continue_run: bool = True) -> None:
    """Give the run its folder, the same on every process. A run resumed from a checkpoint of this
    project writes on in the checkpoint's own folder (`continue_run`). In a SLURM job the folder is
    named for the job (logs/slurm-<job>), so a requeued job finds it and goes on from its newest
    checkpoint. Otherwise the first process claims the next logs/version_N; the others learn it from
    Lightning (trainer.log_dir and the checkpoint folder are broadcast from the first process)."""
    trainer = config.trainer
    root = runs_root(trainer, config.get("runs_dir"))
    if config.ckpt_path and continue_run:
        use_run(trainer, run_of(Path(config.ckpt_path)), resumed=True)
    elif job := slurm_job():
        run = root / f"slurm-{job}"
        if (found := latest_valid(run)) is not None:
            config.ckpt_path = str(found[0])
            rank_zero_info(f"SLURM job {job}: going on with {run} from {found[0]}")
        elif is_first_process():
            run.mkdir(parents=True, exist_ok=True)
        use_run(trainer, run, resumed=found is not None)
    elif is_first_process():
        # From another project's checkpoint, an absolute path: the checkpoint records its own run's checkpoint
        # folder, relative to where it ran ("logs/version_1/checkpoints"); Lightning would take ours for it.
        use_run(trainer, claim_run_dir(root if continue_run else root.resolve()), resumed=False)


def use_run(trainer: Any, run: Path, resumed: bool) -> None:
    """Point the trainer (its root folder, its checkpoints' folder, and its logger's run) at `run`. On
    resume, TensorBoard adds to the run's events, W&B and MLflow go on with the same tracked run (see
    trackers.follow_run); CSVLogger would delete the run's metrics.csv, so the file is first moved aside
    to metrics-before-resume-N.csv."""
    trainer.default_root_dir = str(run)
    logger = logger_name(trainer.logger)
    if logger and logger not in NAMES_RUN_FOLDERS:
        # Lightning would put checkpoints in <save_dir>/<project or experiment>/<run id>/checkpoints.
        for callback in trainer.callbacks or []:
            if callback.class_path.endswith("ModelCheckpoint") and not callback.init_args.get("dirpath"):
                callback.init_args.dirpath = str(run / "checkpoints")
    follow_run(trainer.logger, run, first=is_first_process())
    metrics = run / "metrics.csv"
    if resumed and logger == "CSVLogger" and metrics.is_file() and is_first_process():
        parts = len(list(run.glob("metrics-before-resume-*.csv")))
        metrics.rename(run / f"metrics-before-resume-{parts + 1}.csv")


def config_files(args: list[str]) -> list[Path]:
    """The files that `--config`/`-c` flags in `args` name."""
    files = []
    for index, arg in enumerate(args):
        if arg in ("--config", "-c") and index + 1 < len(args):
            files.append(Path(args[index + 1]))
        elif arg.startswith("--config="):
            files.append(Path(arg.removeprefix("--config=")))
    return files


def check_yaml_files(files: list[Path]) -> None:
    """Refuse, with one line that names the file and the place, a config file that is not valid YAML
    (the parser's own message names neither)."""
    for path in files:
        if not path.is_file():
            continue  # the parser says it does not exist
        try:
            yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or first_line(error)
            raise SystemExit(f"error: {path}:{where}: not valid YAML ({problem})") from None


def check_run_length(trainer: Any, scheduled: bool) -> None:
    """Refuse, with one line, a run length Lightning cannot train (or that a learning-rate schedule,
    sized from the run, cannot follow), before anything is written."""
    epochs, steps = trainer.max_epochs, trainer.max_steps
    if epochs is not None and (epochs == 0 or epochs < -1):
        raise SystemExit(
            f"error: trainer.max_epochs {epochs}: give a number of epochs (1 or more), or -1 with trainer.max_steps N"
        )
    if steps is not None and (steps == 0 or steps < -1):
        raise SystemExit(
            f"error: trainer.max_steps {steps}: give a number of optimizer steps (1 or more), or -1 for none"
        )
    if scheduled and epochs == -1 and steps in (-1, None):
        raise SystemExit(
            "error: trainer.max_epochs -1 and no trainer.max_steps train forever, and the learning-rate schedule is"
            " sized from the run: give trainer.max_epochs N or trainer.max_steps N (or set the scheduler to null)"
        )


def drop_callbacks(trainer: Any, suffix: str, flag: str, say: bool = True) -> None:
    """Remove the configured callbacks whose class name ends with `suffix`, saying so if `say`."""
    kept = [c for c in trainer.callbacks or [] if not c.class_path.endswith(suffix)]
    if len(kept) != len(trainer.callbacks or []):
        if say:
            rank_zero_info(f"trainer.{flag} is off: the {suffix} callback is left out")
        trainer.callbacks = kept
