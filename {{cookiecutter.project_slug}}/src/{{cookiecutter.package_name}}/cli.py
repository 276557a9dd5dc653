"""The command line shared by train.py and test.py: LightningCLI with this project's defaults."""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from .data import {{ cookiecutter.__datamodule_class }}
{%- if cookiecutter.dataset != "signal" %}
from .image_data import ImageDataModule
{%- endif %}
{%- if cookiecutter.dataset not in ("signal", "image_folder") %}
from .image_folder import ImageFolderDataModule
{%- endif %}
from .model import {{ cookiecutter.__model_class }}

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"
{%- if cookiecutter.dataset != "signal" %}
# The data modules that --data can name by class alone; configs/default.yaml picks the first.
DATA_MODULES = ({{ cookiecutter.__datamodule_class }},{% if cookiecutter.dataset != "image_folder" %} ImageFolderDataModule{% endif %})
{%- endif %}

# Deprecation notices about Lightning's own use of jsonargparse and torch: nothing this project can act on.
os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")

Precision = Literal["auto", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true"]


def resolve_precision(precision: str, accelerator: Any = "auto") -> str:
    """Turn "auto" into bf16-mixed on GPUs that support it, 16-mixed on older GPUs, 32-true elsewhere."""
    if precision != "auto":
        return precision
    if not (accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()):
        chosen, reason = "32-true", "no CUDA GPU in use"
    elif torch.cuda.is_bf16_supported():
        chosen, reason = "bf16-mixed", f"{torch.cuda.get_device_name()} supports bfloat16"
    else:
        chosen, reason = "16-mixed", f"{torch.cuda.get_device_name()} has no bfloat16"
    rank_zero_info(f"precision: auto -> {chosen} ({reason})")
    return chosen


class Trainer(L.Trainer):
    """Lightning's Trainer, plus `precision="auto"`: the fastest precision that trains well on this hardware."""

    def __init__(self, *args: Any, precision: Precision = "auto", **kwargs: Any) -> None:
        super().__init__(*args, precision=resolve_precision(precision, kwargs.get("accelerator", "auto")), **kwargs)


class _DropChatter(logging.Filter):
    """Hide Lightning's advertising tips and its note about our own model summary; keep every other message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "Tip:" not in message and "Skipping setting a default `ModelSummary`" not in message


def next_version_dir(root: Path) -> Path:
    """`root/version_N` with N one past the highest existing, the same numbering the loggers use."""
    versions = [int(m[1]) for p in root.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name))]
    return root / f"version_{max(versions, default=-1) + 1}"


class ProjectCLI(LightningCLI):
    """Parses configs/default.yaml, then any `--config` files, then command-line flags, and builds the run.

    Args:
        args: Arguments to parse instead of `sys.argv[1:]`.
        training: Build for training: a run without logger gets its own `logs/version_N` folder.
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
            auto_configure_optimizers=False,
            run=False,
            args=args,
            **kwargs,
        )

    def parse_arguments(self, parser: LightningArgumentParser, args: list[str] | None) -> None:
        """Parse `args`, or `sys.argv[1:]` when None (the scripts pass their own arguments on purpose)."""
        self.config = parser.parse_args(args)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="Checkpoint to start from.")
{%- if cookiecutter.task == "sequence" %}
        parser.link_arguments("data.num_features", "model.input_size", apply_on="instantiate")
        parser.link_arguments("data.sequence_length", "model.sequence_length")
{%- else %}
{%- if cookiecutter.task == "classification" %}
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
{%- endif %}
        parser.link_arguments("data.input_shape", "model.input_shape", apply_on="instantiate")
{%- endif %}

    def before_instantiate_classes(self) -> None:
        trainer = self.config.trainer
        # A flag that turns a feature off also removes the config's callbacks for it (Lightning would raise).
        if trainer.logger is False:
            drop_callbacks(trainer, "LearningRateMonitor", "logger")
            if self.training:
                trainer.default_root_dir = str(next_version_dir(Path(trainer.default_root_dir or ".")))
        if trainer.enable_progress_bar is False:
            drop_callbacks(trainer, "ProgressBar", "enable_progress_bar")
        if trainer.enable_model_summary is False:
            drop_callbacks(trainer, "ModelSummary", "enable_model_summary")


def drop_callbacks(trainer: Any, suffix: str, flag: str) -> None:
    """Remove the configured callbacks whose class name ends with `suffix`, saying so."""
    kept = [c for c in trainer.callbacks or [] if not c.class_path.endswith(suffix)]
    if len(kept) != len(trainer.callbacks or []):
        rank_zero_info(f"trainer.{flag} is off: the {suffix} callback is left out")
        trainer.callbacks = kept


def evaluate(cli: LightningCLI, ckpt_path: str | None) -> dict[str, float]:
    """Test the model with the weights of `ckpt_path` (the current weights if None); print a summary."""
    if ckpt_path is None:
        rank_zero_warn("no checkpoint was saved: testing the weights the run ended with")
    else:
        load_weights(cli.model, ckpt_path)
    if cli.config.seed_everything is not False:  # the same random draws (noise, dropout) every evaluation
        L.seed_everything(cli.config.seed_everything, verbose=False)
    results = cli.trainer.test(cli.model, datamodule=cli.datamodule)
    metrics = {name: float(value) for name, value in results[0].items()}
    summary = "  ".join(f"{name}={value:.4f}" for name, value in sorted(metrics.items()))
    print(f"Test of {ckpt_path or 'final weights'}: {summary}")
    return metrics


def load_weights(model: L.LightningModule, ckpt_path: str) -> None:
    """Load only the weights of a checkpoint; `weights_only=True` never runs code stored in the file."""
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["state_dict"])


def write_metrics(path: Path, metrics: dict[str, float], checkpoint: str | None) -> None:
    """Save test metrics as JSON beside the run, for scripts and comparisons."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"checkpoint": checkpoint, "metrics": metrics}, indent=2) + "\n")
