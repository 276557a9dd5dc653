"""The command line shared by the scripts: LightningCLI with this project's defaults and run folders."""

from __future__ import annotations

import logging
import os
import re
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
{%- if cookiecutter.dataset != "signal" %}
from .image_data import ImageDataModule
{%- endif %}
{%- if cookiecutter.dataset not in ("signal", "image_folder") %}
from .image_folder import ImageFolderDataModule
{%- endif %}
from .model import {{ cookiecutter.__model_class }}
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


def next_version_dir(root: Path) -> Path:
    """`root/version_N` with N one past the highest existing, the same numbering the loggers use."""
    versions = [int(m[1]) for p in root.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name))]
    return root / f"version_{max(versions, default=-1) + 1}"


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
        if self.config.ckpt_path:
            continue_run(trainer, Path(self.config.ckpt_path).resolve().parent.parent)
        elif trainer.logger is False:
            trainer.default_root_dir = str(next_version_dir(Path(trainer.default_root_dir or ".")))


def continue_run(trainer: Any, run: Path) -> None:
    """Point the trainer's logger (or, without one, its root folder) at the run being resumed, so that
    it writes on where the run stopped. TensorBoard adds to the run's events; CSVLogger would delete the
    run's metrics.csv, so the file is first moved aside to metrics-before-resume-N.csv."""
    if trainer.logger is False:
        trainer.default_root_dir = str(run)
        return
    if not (match := re.fullmatch(r"version_(\d+)", run.name)):
        return
    trainer.logger.init_args.version = int(match[1])
    metrics = run / "metrics.csv"
    if trainer.logger.class_path.endswith("CSVLogger") and metrics.is_file():
        parts = len(list(run.glob("metrics-before-resume-*.csv")))
        metrics.rename(run / f"metrics-before-resume-{parts + 1}.csv")


def drop_callbacks(trainer: Any, suffix: str, flag: str) -> None:
    """Remove the configured callbacks whose class name ends with `suffix`, saying so."""
    kept = [c for c in trainer.callbacks or [] if not c.class_path.endswith(suffix)]
    if len(kept) != len(trainer.callbacks or []):
        rank_zero_info(f"trainer.{flag} is off: the {suffix} callback is left out")
        trainer.callbacks = kept
