"""Shared helpers: load the scripts and run them in a temporary folder, so runs never land in logs/."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import lightning as L
import pytest
import torch

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}

ROOT = Path(__file__).resolve().parents[1]
# Flags that keep test output short; they change nothing that is asserted.
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def load_script(name: str) -> ModuleType:
    """Import train.py or test.py from the project root as a module."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory for the run's logs/."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def quick_trainer(**kwargs: Any) -> L.Trainer:
    """A quiet CPU Trainer for unit tests: no logger, checkpoints, progress bar or model summary."""
    defaults = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return L.Trainer(**{**defaults, **kwargs})


def parameter_ids(optimizer: torch.optim.Optimizer) -> set[int]:
    """Which tensors an optimizer updates."""
    return {id(parameter) for group in optimizer.param_groups for parameter in group["params"]}


@pytest.fixture
def datamodule() -> {{ cookiecutter.__datamodule_class }}:
    """The project's data module on data that needs no download, set up."""
{%- if cookiecutter.dataset == "digits" %}
    data = DigitsDataModule(batch_size=64{% if cookiecutter.task == "gan" %}, normalize="symmetric"{% endif %})
{%- elif cookiecutter.dataset == "signal" %}
    data = SignalDataModule(num_series=192, sequence_length=64, batch_size=32)
{%- endif %}
    data.setup()
    return data
