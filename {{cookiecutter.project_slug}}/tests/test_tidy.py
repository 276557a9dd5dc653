{%- set task = cookiecutter.task -%}
{%- set images = cookiecutter.dataset != "signal" -%}
"""Tidy runs: no warning or notice about what is as it should be, nothing written outside the run's
folder, and the commands and files the README and Makefile promise."""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import QUIET, ROOT, build_model, load_script, quick_trainer
{%- if images %}
from fake_data import write_image_folder
{%- endif %}
from lightning import LightningDataModule
from lightning.pytorch.loggers import CSVLogger
{%- if images %}

from {{ cookiecutter.package_name }}.{{ "data" if cookiecutter.dataset == "image_folder" else "image_folder" }} import decode, folder_batches
{%- endif %}

train, evaluate, predict, export = (load_script(name) for name in ("train", "evaluate", "predict", "export"))
# 4 training batches an epoch, fewer than configs/default.yaml's log_every_n_steps (10).
FAST = [*QUIET, "--trainer.limit_train_batches=4", "--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2"]
{%- if task == "gan" %}
PREDICT = ["--count", "2"]
{%- elif task == "sequence" %}
PREDICT = ["--horizon", "1"]
{%- else %}
PREDICT: list[str] = []  # on the test split
{%- endif %}


@pytest.fixture
def lightning_log() -> Iterator[list[str]]:
    """The messages Lightning and the project log (rank_zero_info), as they are logged."""
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    for logger in loggers:
        logger.addHandler(handler)
    yield messages
    for logger in loggers:
        logger.removeHandler(handler)


def files_under(folder: Path) -> dict[str, int]:
    """Every file under `folder` with its modification time (TensorBoard's event files only by name: its
    writer thread may still flush a finished run's events)."""
    files = [path for path in folder.rglob("*") if path.is_file()]
    return {str(path.relative_to(folder)): 0 if "tfevents" in path.name else path.stat().st_mtime_ns for path in files}


def project_root_names() -> list[str]:
    """What the project folder holds at its top (Python's bytecode caches and hidden folders aside)."""
    return sorted(p.name for p in ROOT.iterdir() if p.name != "__pycache__" and not p.name.startswith("."))
{%- if images %}


def test_images_read_from_a_folder_are_writable_arrays_and_raise_no_warning(tmp_path: Path) -> None:
    folder = write_image_folder(tmp_path / "images", per_class=1)
    path = next(folder.rglob("*.png"))
    for channels in (1, 3):  # torch.from_numpy warns (once a process) about an array it cannot write to
        assert decode(path, 8, channels).flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = list(folder_batches(folder, (3, 8, 8)))
    assert sum(len(paths) for paths, _ in batches) == 3
{%- endif %}


@pytest.mark.parametrize("logger", [[], ["--trainer.logger=CSVLogger", "--trainer.logger.save_dir=logs"]])
def test_a_run_resumed_in_its_own_folder_is_not_warned_about_its_files(
    workdir: Path, recwarn: pytest.WarningsRecorder, logger: list[str]
) -> None:
    train.main([*FAST, *logger, "--trainer.max_epochs=1"])
    recwarn.clear()
    train.main([*FAST, *logger, "--trainer.max_epochs=2", "--resume", "auto"])
    assert not [str(w.message) for w in recwarn if "exists and is not empty" in str(w.message)]


def test_a_checkpoint_folder_that_is_not_the_resumed_runs_is_still_warned_about(
    datamodule: LightningDataModule, tmp_path: Path
) -> None:
    flags = {"limit_train_batches": 1, "limit_val_batches": 0, "enable_checkpointing": True}
    first = quick_trainer(max_epochs=1, default_root_dir=tmp_path / "first", **flags)
    first.fit(build_model(datamodule), datamodule=datamodule)
    other = tmp_path / "other" / "checkpoints"
    other.mkdir(parents=True)
    (other / "someone-elses.ckpt").write_bytes(b"")
    second = quick_trainer(max_epochs=2, default_root_dir=tmp_path / "other", **flags)
    resumed = first.checkpoint_callback.best_model_path  # a model built outside the CLI pickles its networks:
    with warnings.catch_warnings(record=True) as caught:  # this test's own file, so weights_only=False
        warnings.simplefilter("always")
        second.fit(build_model(datamodule), datamodule=datamodule, ckpt_path=resumed, weights_only=False)
    assert f"Checkpoint directory {other} exists and is not empty." in [str(w.message) for w in caught]


def test_only_train_py_says_that_a_callback_is_left_out(workdir: Path, lightning_log: list[str]) -> None:
    train.main([*FAST, "--trainer.max_epochs=1", "--trainer.logger=false"])
{%- if cookiecutter.logger != "none" %}
    assert "trainer.logger is off: the LearningRateMonitor callback is left out" in lightning_log
{%- endif %}
    assert "trainer.enable_progress_bar is off: the ProgressBar callback is left out" in lightning_log
    lightning_log.clear()
    evaluate.main(QUIET)  # both use a checkpoint without a logger, which the user did not turn off
    predict.main([*QUIET, *PREDICT])
    assert not [message for message in lightning_log if " is off: " in message]


def test_a_checkpoint_saved_without_saying_what_is_a_full_one_without_a_notice(
    datamodule: LightningDataModule, tmp_path: Path, lightning_log: list[str]
) -> None:
    trainer = quick_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, default_root_dir=tmp_path)
    trainer.fit(build_model(datamodule), datamodule=datamodule)
    trainer.save_checkpoint(tmp_path / "saved.ckpt")  # as Lightning's tuner saves the state it restores after
    assert not [message for message in lightning_log if "weights_only" in message]
    saved = torch.load(tmp_path / "saved.ckpt", weights_only=False)  # this test's own file (networks pickled)
    assert "optimizer_states" in saved and "callbacks" in saved


def test_a_logging_interval_longer_than_an_epoch_is_shortened_to_it_and_said_once(
    datamodule: LightningDataModule, tmp_path: Path, lightning_log: list[str], recwarn: pytest.WarningsRecorder
) -> None:
    logger = CSVLogger(tmp_path)
    trainer = quick_trainer(
        max_epochs=2, limit_train_batches=3, limit_val_batches=0, log_every_n_steps=10, logger=logger
    )
    trainer.fit(build_model(datamodule), datamodule=datamodule)
    assert not [str(w.message) for w in recwarn if "smaller than the logging interval" in str(w.message)]
    said = "trainer.log_every_n_steps=10 is more than the 3 training batches of an epoch"
    assert len([message for message in lightning_log if message.startswith(said)]) == 1
    assert trainer.log_every_n_steps == 10  # outside training, as set
    rows = csv.DictReader(Path(logger.log_dir, "metrics.csv").read_text().splitlines())
    steps = [row for row in rows if any(v for k, v in row.items() if k.startswith("train/") and "_epoch" not in k)]
    assert len(steps) >= 2  # every epoch logs its training steps (every 10th step, neither of the 2 would)


def test_a_fit_and_test_write_only_under_the_trainers_root_folder(
    datamodule: LightningDataModule, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # as when pytest runs from the project: a writer that uses the current folder shows
    before = project_root_names()
    trainer = quick_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, default_root_dir=tmp_path)
    model = build_model(datamodule)
    trainer.fit(model, datamodule=datamodule)
    trainer.test(model, datamodule=datamodule, verbose=False)
    assert project_root_names() == before
{%- if task in ("gan", "autoencoder") %}
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")] == ["{{ "samples" if task == "gan" else "reconstructions" }}/epoch000.png"]
{%- endif %}


def test_the_scripts_write_nothing_outside_the_run_folder(workdir: Path) -> None:
    before = project_root_names()
    # Without a logger, image grids (GAN samples, autoencoder reconstructions) are PNG files.
    train.main([*FAST, "--trainer.max_epochs=1", "--trainer.logger=false"])
    evaluate.main(QUIET)
    predict.main([*QUIET, *PREDICT])
    assert project_root_names() == before
    assert {path.name for path in workdir.iterdir()} <= {"logs", "data"}  # data: the fake dataset, if any
{%- if task in ("gan", "autoencoder") %}
    grid = "{{ "samples" if task == "gan" else "reconstructions" }}"
    assert (workdir / "logs" / "version_0" / grid / "epoch000.png").is_file()
{%- endif %}


def test_resuming_a_finished_run_says_so_and_neither_tests_nor_writes(
    workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    train.main([*FAST, "--trainer.max_epochs=1"])
    logs = workdir / "logs"
    before = files_under(logs)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--resume", "auto"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "logs/version_0 is complete (epochs done: 1, trainer.max_epochs: 1); to train longer:"
        " python train.py --resume logs/version_0 --trainer.max_epochs N, with N greater than 1"
    ]
    assert files_under(logs) == before


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_install_torch_cpu_installs_pytorch_from_the_cpu_index_first(tmp_path: Path) -> None:
    index = "https://download.pytorch.org/whl/cpu"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # not the outer make's flags

    def dry_run(*flags: str) -> list[str]:
        command = ["make", "-n", "--no-print-directory", "-C", str(ROOT), "install", f"VENV={tmp_path}", *flags]
        return subprocess.run(command, capture_output=True, text=True, check=True, env=environment).stdout.splitlines()

    installs = [line for line in dry_run("TORCH=cpu") if "pip install" in line]
    assert installs[0].endswith("pip install torch{{ " torchvision" if images else "" }} --index-url " + index)
    assert installs[1].endswith('pip install -e ".[dev]"')
    assert not [line for line in dry_run() if index in line]
    assert index in (ROOT / ".github" / "workflows" / "ci.yml").read_text()  # the index CI installs from
    assert "make install TORCH=cpu" in (ROOT / "README.md").read_text()


@pytest.mark.slow
def test_export_writes_the_files_the_readme_names_and_the_onnx_file_stands_alone(workdir: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    train.main([*FAST, "--trainer.max_epochs=1"])
    files = export.main([*QUIET, "--output", "exports"])
    section = (ROOT / "README.md").read_text().split("\n## Export\n")[1].split("\n## ")[0]
    promise = re.search(r"`export.py` writes (.*?) then runs", section, re.DOTALL)[1]
    written = sorted(path.name for path in (workdir / "exports").iterdir())
    assert written == sorted(re.findall(r"`(model\.[\w.]+)`", promise)) == sorted(p.name for p in files.values())
    alone = workdir / "alone"
    alone.mkdir()
    shutil.copy(files["onnx"], alone)
    assert onnxruntime.InferenceSession(str(alone / "model.onnx")).get_inputs()[0].name == "input"
