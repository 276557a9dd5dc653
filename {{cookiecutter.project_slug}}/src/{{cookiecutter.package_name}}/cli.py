"""The command line shared by the scripts: LightningCLI with this project's defaults and run folders."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

{% if cookiecutter.__manual_optimization != "yes" -%}
from jsonargparse import Namespace
{% endif -%}
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_info

from .data import {{ cookiecutter.__datamodule_class }}
from .distributed import check_devices, check_slurm, is_first_process, slurm_job
{%- if cookiecutter.dataset != "signal" %}
from .image_data import ImageDataModule
{%- endif %}
{%- if cookiecutter.dataset not in ("signal", "image_folder") %}
from .image_folder import ImageFolderDataModule
{%- endif %}
from .model import {{ cookiecutter.__model_class }}
from .runs import RUN_NAME, claim_run_dir, latest_valid, run_of
from .trainer import Trainer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"
{%- if cookiecutter.dataset != "signal" %}
# The data modules that --data can name by class alone; configs/default.yaml picks the first.
DATA_MODULES = ({{ cookiecutter.__datamodule_class }},{% if cookiecutter.dataset != "image_folder" %} ImageFolderDataModule{% endif %})
{%- endif %}
# The model's arguments that follow from the data module (data attribute: model argument).
{%- if cookiecutter.task == "sequence" %}
LINKS = {"data.num_features": "model.input_size", "data.sequence_length": "model.sequence_length"}
{%- elif cookiecutter.task == "classification" %}
LINKS = {"data.num_classes": "model.num_classes", "data.input_shape": "model.input_shape"}
{%- else %}
LINKS = {"data.input_shape": "model.input_shape"}
{%- endif %}

# Deprecation notices about Lightning's own use of jsonargparse and torch: nothing this project can act on.
os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")


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

    Args:
        args: Arguments to parse instead of `sys.argv[1:]`.
        training: Build for training: a new run gets its own `logs/version_N` folder, and a run resumed
            from `--ckpt_path` writes on in its own folder (and logger version).
    """

    def __init__(self, args: list[str] | None = None, *, training: bool = True, **kwargs: Any) -> None:
        self.training = training
        for handler in logging.getLogger("lightning.pytorch").handlers:
            handler.addFilter(_DropChatter())
        super().__init__(
            {{ cookiecutter.__model_class }},
{%- if cookiecutter.dataset == "signal" %}
            {{ cookiecutter.__datamodule_class }},
{%- else %}
            ImageDataModule,  # any image data module; configs/default.yaml picks {{ cookiecutter.__datamodule_class }}
            subclass_mode_data=True,
{%- endif %}
            trainer_class=Trainer,
            seed_everything_default=42,
            parser_kwargs={"default_config_files": [str(DEFAULT_CONFIG)]},
            save_config_kwargs={"overwrite": True},  # a resumed run rewrites its own config.yaml
            auto_configure_optimizers=False,
            run=False,
            args=args,
            **kwargs,
        )

    def parse_arguments(self, parser: LightningArgumentParser, args: list[str] | None) -> None:
        """Parse `args`, or `sys.argv[1:]` when None (the scripts pass their own arguments on purpose)."""
        self.config = parser.parse_args(args)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="Checkpoint to resume from.")
        parser.add_argument(
            "--tune",
            type=Literal["lr", "batch_size"] | None,
            default=None,
            help="Before training, find the learning rate (lr) or the largest batch size that fits (batch_size).",
        )
        parser.add_argument("--swa", type=SWA, default=SWA(), help="Stochastic weight averaging.")
        for source, target in LINKS.items():
            parser.link_arguments(source, target, apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        trainer = self.config.trainer
        # A flag that turns a feature off also removes the config's callbacks for it (Lightning would raise).
        if trainer.logger is False:
            drop_callbacks(trainer, "LearningRateMonitor", "logger")
        if trainer.enable_progress_bar is False:
            drop_callbacks(trainer, "ProgressBar", "enable_progress_bar")
        if trainer.enable_model_summary is False:
            drop_callbacks(trainer, "ModelSummary", "enable_model_summary")
        if self.config.swa.enabled:
{%- if cookiecutter.__manual_optimization == "yes" %}
            raise SystemExit(
                "error: swa.enabled: {{ cookiecutter.__model_class }} steps its optimizers itself ({{ "truncated back-propagation through time" if cookiecutter.task == "sequence" else "two optimizers" }}),"
                " which StochasticWeightAveraging cannot follow: it needs automatic optimization with one optimizer"
            )
{%- else %}
            swa = self.config.swa
            averaging = Namespace(
                swa_lrs=swa.lrs, swa_epoch_start=swa.epoch_start, annealing_epochs=swa.annealing_epochs
            )
            callback = Namespace(
                class_path="lightning.pytorch.callbacks.StochasticWeightAveraging", init_args=averaging
            )
            trainer.callbacks = [*(trainer.callbacks or []), callback]
{%- endif %}
        if not self.training:
            return
        check_slurm(trainer.plugins)
        check_devices(trainer)
        if trainer.strategy == "ddp" and getattr(self.model_class, "ddp_find_unused_parameters", False):
            trainer.strategy = "ddp_find_unused_parameters_true"  # the model says some parameters sit out a step
        place_run(self.config)


def runs_root(trainer: Any) -> Path:
    """The folder that holds the runs: the logger's save_dir/name, else the trainer's default_root_dir
    (the folder above it when that names a run already, as in a run's saved config)."""
    logger = trainer.logger
    init_args = getattr(logger, "init_args", None)
    if init_args is not None and init_args.get("save_dir") is not None:
        return Path(init_args.save_dir) / (init_args.get("name") or "")
    root = Path(trainer.default_root_dir or "logs")
    return root.parent if RUN_NAME.fullmatch(root.name) else root


def place_run(config: Any) -> None:
    """Give the run its folder, the same on every process. A run resumed from a checkpoint writes on in
    the checkpoint's own folder. In a SLURM job the folder is named for the job (logs/slurm-<job>), so a
    requeued job finds it and goes on from its newest checkpoint. Otherwise the first process claims
    the next logs/version_N; the others learn it from Lightning (trainer.log_dir and the checkpoint
    folder are broadcast from the first process)."""
    trainer = config.trainer
    root = runs_root(trainer)
    if config.ckpt_path:
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
        use_run(trainer, claim_run_dir(root), resumed=False)


def use_run(trainer: Any, run: Path, resumed: bool) -> None:
    """Point the trainer (its root folder, and its logger's version) at `run`. On resume, TensorBoard adds
    to the run's events; CSVLogger would delete the run's metrics.csv, so the file is first moved aside
    to metrics-before-resume-N.csv."""
    trainer.default_root_dir = str(run)
    init_args = getattr(trainer.logger, "init_args", None)
    if init_args is None or "version" not in init_args:
        return
    init_args.version = run.name
    metrics = run / "metrics.csv"
    if resumed and trainer.logger.class_path.endswith("CSVLogger") and metrics.is_file() and is_first_process():
        parts = len(list(run.glob("metrics-before-resume-*.csv")))
        metrics.rename(run / f"metrics-before-resume-{parts + 1}.csv")


def drop_callbacks(trainer: Any, suffix: str, flag: str) -> None:
    """Remove the configured callbacks whose class name ends with `suffix`, saying so."""
    kept = [c for c in trainer.callbacks or [] if not c.class_path.endswith(suffix)]
    if len(kept) != len(trainer.callbacks or []):
        rank_zero_info(f"trainer.{flag} is off: the {suffix} callback is left out")
        trainer.callbacks = kept
