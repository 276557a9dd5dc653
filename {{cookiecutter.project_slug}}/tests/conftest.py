{%- set spec = cookiecutter._datasets[cookiecutter.dataset] -%}
"""Shared helpers: load the scripts and run them in a temporary folder, so runs never land in logs/."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import lightning as L
import pytest
import torch
import yaml

{%- if cookiecutter.dataset == "image_folder" %}
from fake_data import write_fake_data, write_image_folder
{%- elif spec.get("fake_data") %}
from fake_data import write_dataset, write_fake_data
{%- endif %}
from lightning.pytorch.cli import LightningArgumentParser
{%- if spec.get("format") == "cifar" %}
from torchvision.datasets import cifar
{%- endif %}

from {{ cookiecutter.package_name }}.cli import CLI
from {{ cookiecutter.package_name }}.data import {{ cookiecutter.__datamodule_class }}
from {{ cookiecutter.package_name }}.engine.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
# Flags that keep test output short; they change nothing that is asserted.
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
# Short runs for the tests of the engine's machinery (bad input, trackers): 4 batches an epoch, every step logged.
SHORT = [
    *QUIET,
    "--trainer.limit_train_batches=4",
    "--trainer.limit_val_batches=2",
    "--trainer.limit_test_batches=2",
    "--trainer.log_every_n_steps=1",
]
DEFAULT_CONFIG = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())


def load_script(name: str) -> ModuleType:
    """Import a script (train.py, evaluate.py, ...) from the project root as a module."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


{%- if spec.get("format") == "cifar" %}


def skip_checksums(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake CIFAR-10 files cannot match the real ones' MD5 sums: let torchvision check only that
    they exist; the rest of its loading code runs as it is."""
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: Path(path).is_file())
{%- endif %}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory for the run's logs/{% if spec.get("fake_data") %}, with fake data where configs/default.yaml looks{% endif %}."""
    monkeypatch.chdir(tmp_path)
{%- if spec.get("fake_data") %}
    write_fake_data(tmp_path)
{%- endif %}
{%- if spec.get("format") == "cifar" %}
    skip_checksums(monkeypatch)
{%- endif %}
    return tmp_path


def quick_trainer(**kwargs: Any) -> Trainer:
    """The project's Trainer, quiet, on the CPU: no logger, checkpoints, progress bar or model summary."""
    defaults = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return Trainer(**{**defaults, **kwargs})


def build_model(data: L.LightningDataModule | None = None, *args: str) -> L.LightningModule:
    """The model configs/default.yaml describes, with `args` on top (e.g. "--model.net.init_args.width=8"),
    its arguments linked from the data module taken from `data` (without: the classes' defaults)."""
    parser = LightningArgumentParser()
    parser.add_lightning_class_args(CLI.model_class, "model")
    config = parser.parse_object({"model": DEFAULT_CONFIG["model"]})
    config = parser.parse_args(list(args), namespace=config)
    for source, targets in CLI.links.items() if data is not None else ():
        for target in (targets,) if isinstance(targets, str) else targets:
            config[target] = getattr(data, source.removeprefix("data."))
    with warnings.catch_warnings():  # built outside the CLI, the model keeps its networks in its hparams
        warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`")
        return parser.instantiate_classes(config).model


def data_options(**overrides: Any) -> dict[str, Any]:
    """The data module's arguments as configs/default.yaml sets them, with `overrides`."""
    data = DEFAULT_CONFIG["data"]
    return {**data.get("init_args", data), **overrides}


def parameter_ids(optimizer: torch.optim.Optimizer) -> set[int]:
    """Which tensors an optimizer updates."""
    return {id(parameter) for group in optimizer.param_groups for parameter in group["params"]}


@pytest.fixture
{%- if cookiecutter.dataset in ("digits", "signal") %}
def datamodule() -> {{ cookiecutter.__datamodule_class }}:
{%- elif spec.get("format") == "cifar" %}
def datamodule(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> {{ cookiecutter.__datamodule_class }}:
{%- else %}
def datamodule(tmp_path_factory: pytest.TempPathFactory) -> {{ cookiecutter.__datamodule_class }}:
{%- endif %}
    """The project's data module on data that needs no download, set up; any files it reads lie outside the
    test's tmp_path, which stays the test's own."""
{%- if cookiecutter.dataset == "digits" %}
    data = DigitsDataModule(**data_options())
{%- elif cookiecutter.dataset == "signal" %}
    data = SignalDataModule(**data_options(num_series=192, sequence_length=64, batch_size=32))
{%- elif cookiecutter.dataset == "image_folder" %}
    root = write_image_folder(tmp_path_factory.mktemp("images"), per_class=60)
    data = ImageFolderDataModule(**data_options(root=str(root), batch_size=16))
{%- else %}
{%- if spec.get("format") == "cifar" %}
    skip_checksums(monkeypatch)
{%- endif %}
    folder = tmp_path_factory.mktemp("data")
    write_dataset(folder)
    data = {{ cookiecutter.__datamodule_class }}(**data_options(data_dir=str(folder), download=False, batch_size=32))
{%- endif %}
    data.setup()
    return data
