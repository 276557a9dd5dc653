{%- set task = cookiecutter.task -%}
"""Bad input, files from elsewhere, signals and broken losses: one line that says what to do, the exit
status it should be, nothing written, nothing lost."""

from __future__ import annotations

import errno
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from conftest import SHORT, load_script, quick_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from processes import QUICK, finish, run_folder, start
from torch.utils.data import DataLoader, TensorDataset

from {{ cookiecutter.package_name }}.engine.guards import SIGTERM_STATUS, FiniteLoss, NonFiniteLossError
from {{ cookiecutter.package_name }}.engine.scripts import run_script

train, evaluate = load_script("train"), load_script("evaluate")


def refusal(main: Callable[[], object]) -> str:
    """The one line a script ends with when run as from the command line (exit status 1)."""
    with pytest.raises(SystemExit) as exit_info:
        run_script(main)
    message = exit_info.value.code
    assert isinstance(message, str) and message.startswith("error: "), message
    assert "\n" not in message and "Traceback" not in message
    return message


def files_under(folder: Path) -> dict[str, int]:
    """Every file under `folder` with its modification time: what changing or deleting one would show.
    (TensorBoard's event files only by name: its writer thread may still flush a finished run's events.)"""
    files = [path for path in folder.rglob("*") if path.is_file()]
    return {str(path.relative_to(folder)): 0 if "tfevents" in path.name else path.stat().st_mtime_ns for path in files}


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--data.batch_size=0"], "data.batch_size 0: a batch holds at least 1 sample"),
        (["--data.batch_size=-3"], "data.batch_size -3: a batch holds at least 1 sample"),
        (["--data.val_fraction=1.5"], "data.val_fraction 1.5: a share of the data, between 0 and 1"),
        (["--trainer.max_epochs=0"], "trainer.max_epochs 0: give a number of epochs"),
        (["--trainer.max_epochs=-1"], "trainer.max_epochs -1 and no trainer.max_steps train forever"),
        (["--trainer.max_steps=-5"], "trainer.max_steps -5: give a number of optimizer steps"),
    ],
)
def test_a_bad_value_ends_in_one_line_and_leaves_no_run(workdir: Path, flags: list[str], words: str) -> None:
    assert words in refusal(lambda: train.main([*SHORT, *flags]))
    assert not (workdir / "logs").exists()


def test_a_run_of_max_steps_with_endless_epochs_trains_that_many_steps(workdir: Path) -> None:
    train.main([*SHORT, "--trainer.max_epochs=-1", "--trainer.max_steps=3"])
    last = torch.load(workdir / "logs" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
{%- if cookiecutter.__manual_optimization == "yes" %}
    assert last["epoch"] == 0 and last["global_step"] >= 3  # each batch steps several times
{%- else %}
    assert last["global_step"] == 3
{%- endif %}


def test_a_config_file_that_is_not_yaml_is_named(workdir: Path) -> None:
    (workdir / "broken.yaml").write_text("trainer:\n  max_epochs: [3\n")
    message = refusal(lambda: train.main(["--config", "broken.yaml"]))
    assert message.startswith("error: broken.yaml: line 3, column 1: not valid YAML")
    assert not (workdir / "logs").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty.ckpt cannot be read: the file is empty or cut short"),
        (bytes(range(256)) * 4, "random.ckpt is corrupt or not a checkpoint file"),
        (None, "folder.ckpt is a folder"),
    ],
    ids=["empty", "random", "folder"],
)
def test_a_file_that_is_no_checkpoint_is_named(workdir: Path, content: bytes | None, words: str) -> None:
    name = {b"": "empty.ckpt", None: "folder.ckpt"}.get(content, "random.ckpt")
    path = workdir / name
    path.mkdir() if content is None else path.write_bytes(content)
    for script in (evaluate, train):
        assert words in refusal(lambda script=script: script.main([*SHORT, "--ckpt_path", str(path)]))
    assert not (workdir / "logs").exists()


def test_weights_that_do_not_fit_the_model_are_refused_in_one_line(workdir: Path) -> None:
    train.main([*SHORT, "--trainer.max_epochs=1"])
    last = workdir / "logs" / "version_0" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    name = next(iter(checkpoint["state_dict"]))
    checkpoint["state_dict"]["stranger.weight"] = checkpoint["state_dict"].pop(name)
    torch.save(checkpoint, workdir / "misfit.ckpt")
    before = files_under(workdir / "logs")
    for script in (evaluate, train):
        message = refusal(lambda script=script: script.main([*SHORT, "--ckpt_path", "misfit.ckpt"]))
        assert "misfit.ckpt does not fit" in message and f"missing {name}" in message
        assert "unexpected stranger.weight" in message
    checkpoint["hyper_parameters"]["generator_of_another_task"] = {"width": 8}
    torch.save(checkpoint, workdir / "other_task.ckpt")
    message = refusal(lambda: evaluate.main(["--ckpt_path", "other_task.ckpt"]))
    assert "hyper-parameters do not fit this project's" in message and "generator_of_another_task" in message
    assert files_under(workdir / "logs") == before


def test_a_checkpoint_from_elsewhere_starts_a_run_here_and_touches_no_other(workdir: Path) -> None:
    other = run_folder(workdir / "other_project", workdir / "data")
    finish(start(other, *QUICK, "--trainer.max_epochs=1", "--trainer.limit_train_batches=4"))
    train.main([*SHORT, "--trainer.max_epochs=1"])  # logs/version_0 here: the number the other run has too
    # A config planted beside the checkpoint: applied, it would write checkpoints into planted/.
    planted = other / "logs" / "version_0" / "config.yaml"
    callback = "\n  - class_path: ModelCheckpoint\n    init_args: {dirpath: planted}"
    planted.write_text(planted.read_text().replace("callbacks:", "callbacks:" + callback, 1))
    before = {"here": files_under(workdir / "logs"), "there": files_under(other / "logs")}

    train.main([*SHORT, "--trainer.max_epochs=2", "--ckpt_path", str(other / "logs/version_0/checkpoints/last.ckpt")])
    assert files_under(other / "logs") == before["there"]
    after = files_under(workdir / "logs")
    assert {name: after[name] for name in before["here"]} == before["here"]
    new = {Path(name).parts[0] for name in after.keys() - before["here"].keys()}
    assert new == {"version_1"} and not (workdir / "planted").exists()
    saved = json.loads((workdir / "logs" / "version_1" / "test_metrics.json").read_text())
    assert Path(saved["checkpoint"]).resolve().parent == (workdir / "logs" / "version_1" / "checkpoints").resolve()


def test_runs_started_at_the_same_moment_never_share_a_folder(workdir: Path) -> None:
    folder = run_folder(workdir / "together", workdir / "data")
    quick = [*QUICK, "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_test_batches=2"]
    loggers = [["--trainer.logger=false"], ["--trainer.logger=false"], []]  # and the project's own logger
    finish(*[start(folder, *quick, *logger, f"--seed_everything={seed}") for seed, logger in enumerate(loggers)])
    runs = sorted((folder / "logs").glob("version_*"))
    assert [run.name for run in runs] == ["version_0", "version_1", "version_2"]
    seeds = sorted(yaml.safe_load((run / "config.yaml").read_text())["seed_everything"] for run in runs)
    assert seeds == [0, 1, 2]  # one run's config in each folder
    for run in runs:
        assert (run / "test_metrics.json").is_file()
        assert sorted(path.name for path in (run / "checkpoints").glob("last*")) == ["last.ckpt"]


def test_checkpoints_an_interrupted_save_left_are_removed_on_resume(workdir: Path) -> None:
    train.main([*SHORT, "--trainer.max_epochs=3"])
    checkpoints = workdir / "logs" / "version_0" / "checkpoints"
    # Killed between saving recent-epoch001 and deleting recent-epoch000, which it replaced (no later save
    # would delete it), and another time in the middle of a save:
    orphan = checkpoints / "recent-epoch000.ckpt"
    orphan.write_bytes((checkpoints / "recent-epoch001.ckpt").read_bytes())
    os.utime(orphan, ns=(0, 0))
    (checkpoints / ".recent-epoch003.ckpt.partial").write_bytes(b"half a checkpoint")
    train.main([*SHORT, "--resume", "auto", "--trainer.max_epochs=4"])
    names = sorted(path.name for path in checkpoints.iterdir())
    assert [name for name in names if name.startswith(("recent", ".recent"))] == [
        "recent-epoch002.ckpt",
        "recent-epoch003.ckpt",
    ]


def test_resume_auto_goes_on_when_the_newest_checkpoint_is_empty_and_last_is_gone(workdir: Path) -> None:
    train.main([*SHORT, "--trainer.max_epochs=2"])
    checkpoints = workdir / "logs" / "version_0" / "checkpoints"
    (checkpoints / "last.ckpt").unlink()
    (checkpoints / "recent-epoch001.ckpt").write_bytes(b"")
    with pytest.warns(UserWarning, match="recent-epoch001.ckpt cannot be read"):
        metrics = train.main([*SHORT, "--resume", "auto", "--trainer.max_epochs=3"])
    saved = json.loads((workdir / "logs" / "version_0" / "test_metrics.json").read_text())
    assert metrics and saved["metrics"] == metrics


class TerminateAt(L.Callback):
    """Sends this process SIGTERM, as a cluster or `kill` does, after training batch `batch` of epoch `epoch`."""

    def __init__(self, epoch: int = 1, batch: int = 0) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs, batch, index: int) -> None:
        if (trainer.current_epoch, index) == (self.epoch, self.batch):
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_saves_a_checkpoint_and_exits_143_and_the_run_resumes(workdir: Path) -> None:
    args = [*SHORT, "--trainer.max_epochs=3"]
    with pytest.raises(SystemExit) as exit_info:
        run_script(lambda: train.main([*args, "--trainer.callbacks+=test_safety.TerminateAt"]))
    assert exit_info.value.code == SIGTERM_STATUS
    run = workdir / "logs" / "version_0"
    interrupted = torch.load(run / "checkpoints" / "interrupted.ckpt", weights_only=True)
    assert interrupted["epoch"] == 1 and not (run / "test_metrics.json").exists()

    metrics = train.main([*args, "--resume", "auto"])
    assert json.loads((run / "test_metrics.json").read_text())["metrics"] == metrics
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 2


class NanAt(L.LightningModule):
    """A tiny regression whose loss becomes nan at training batch `batch`."""

    def __init__(self, batch: int) -> None:
        super().__init__()
        self.layer, self.batch = torch.nn.Linear(2, 1), batch

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
        loss = torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])
        return loss * float("nan") if self.global_step == self.batch else loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_a_loss_that_becomes_nan_stops_the_run_before_any_checkpoint_holds_it(tmp_path: Path) -> None:
    data = DataLoader(TensorDataset(torch.randn(64, 2), torch.randn(64, 1)), batch_size=8)
    checkpoints = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=-1)
    trainer = quick_trainer(max_epochs=2, log_every_n_steps=4, callbacks=[checkpoints], enable_checkpointing=True)
    assert any(isinstance(callback, FiniteLoss) for callback in trainer.callbacks)
    with pytest.raises(NonFiniteLossError, match=r"the training loss became nan or inf at step 5 \(epoch 0\)"):
        trainer.fit(NanAt(batch=5), data)
    # Stopped at the next check (batch 8): checkpoints were saved after each step, none after the nan.
    steps = sorted(int(path.stem.split("step=")[1]) for path in tmp_path.glob("*.ckpt"))
    assert steps and max(steps) <= 5


def test_disk_errors_end_in_one_line_that_names_the_file() -> None:
    def full_disk() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "logs/version_0/checkpoints/last.ckpt")

    message = refusal(full_disk)
    assert message.startswith("error: no space left writing logs/version_0/checkpoints/last.ckpt")

    def read_only() -> None:
        try:
            raise OSError(errno.EROFS, "Read-only file system", "logs/version_3")
        except OSError as error:
            raise RuntimeError("wrapped by a library") from error

    assert "read-only writing logs/version_3" in refusal(read_only)
