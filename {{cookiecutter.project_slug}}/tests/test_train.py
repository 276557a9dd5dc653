"""End to end: train.py fits and tests, evaluate.py re-evaluates, command-line forms work, bad configs are refused."""
{%- set task = cookiecutter.task %}
{%- set manual = cookiecutter.__manual_optimization == "yes" %}
{%- set spec = cookiecutter._tasks[task] %}
{%- set size, part, short = spec.size, spec.parts[0], spec.monitor.split("/")[1] %}
{%- set optimizer = "model." ~ part ~ "_optimizer" if cookiecutter.optimizers == "2" else "model.optimizer" %}

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from conftest import QUIET, ROOT, load_script
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import CSVLogger

from {{ cookiecutter.package_name }}.cli import CLI
from {{ cookiecutter.package_name }}.engine.runs import claim_run_dir
from {{ cookiecutter.package_name }}.engine.trainer import cpu_has_bfloat16, resolve_precision

train = load_script("train")
evaluate = load_script("evaluate")


def test_short_fit_saves_checkpoints_config_and_metrics(workdir: Path) -> None:
    metrics = train.main(
        [*QUIET, "--trainer.max_epochs=2", "--trainer.limit_train_batches=4", "--trainer.log_every_n_steps=2"]
    )
    run = workdir / "logs" / "version_0"
    assert (run / "config.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    saved = json.loads((run / "test_metrics.json").read_text())
    assert saved["metrics"] == pytest.approx(metrics)
    assert Path(saved["checkpoint"]).is_file()
    assert all(math.isfinite(value) for value in metrics.values())


def test_evaluate_py_reproduces_the_result_of_train_py(workdir: Path) -> None:
    metrics = train.main([*QUIET, "--trainer.max_epochs=2", "--{{ size }}=16"])
    # evaluate.py finds the newest run's best checkpoint; the hyper-parameters in it rebuild the model.
    again = evaluate.main(["--trainer.enable_progress_bar=false"])
    assert again == pytest.approx(metrics)
    last = workdir / "logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert set(evaluate.main(["--ckpt_path", str(last), "--trainer.enable_progress_bar=false"])) == set(metrics)


def test_overrides_reach_the_saved_config(workdir: Path) -> None:
    flags = ["--{{ optimizer }}.lr=0.001", "--data.batch_size=128", "--{{ size }}=8"]
    train.main([*QUIET, "--trainer.max_epochs=1", *flags])
    config = (workdir / "logs" / "version_0" / "config.yaml").read_text()
    assert "lr: 0.001" in config and "batch_size: 128" in config and "{{ size.split(".")[-1] }}: 8" in config


def test_a_config_file_overrides_the_defaults(workdir: Path) -> None:
    optimizer = "{{ optimizer.split(".")[1] }}:\n    class_path: torch.optim.SGD\n    init_args:\n      lr: 0.01\n"
    (workdir / "other.yaml").write_text(f"trainer:\n  max_epochs: 1\nmodel:\n  {optimizer}")
    train.main([*QUIET, "--config", "other.yaml"])
    run = workdir / "logs" / "version_0"
    config = (run / "config.yaml").read_text()
    assert "class_path: torch.optim.SGD" in config and "max_epochs: 1" in config
    assert [p.name[: len("epoch000-{{ short }}")] for p in (run / "checkpoints").glob("epoch*")] == ["epoch000-{{ short }}"]


def test_help_lists_every_option(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    options = ["--{{ optimizer }}", "--{{ size.rsplit(".", 1)[0] }}", "--trainer.max_epochs", "--ckpt_path", "--resume"]
    assert all(option in out for option in options) and "--tune" in out
    assert ("--swa" in out) is {{ "False" if manual else "True" }}  # weight averaging needs automatic optimization
{%- if cookiecutter.dataset == "signal" %}
    assert "--data.batch_size" in out
{%- else %}
    # The data module is chosen by class (--data), so its options have a help of their own.
    assert "--data.help" in out
    with pytest.raises(SystemExit):
        train.main(["--data.help", "{{ cookiecutter.__datamodule_class }}"])
    assert "--data.batch_size" in capsys.readouterr().out
{%- endif %}


def test_a_bad_value_is_refused_and_writes_no_run(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train.main([*QUIET, "--{{ optimizer }}=Adamaxx"])
    assert exit_info.value.code != 0
    assert "Adamaxx" in capsys.readouterr().err
    assert not (workdir / "logs").exists()


def test_the_documented_command_line_forms_work(workdir: Path) -> None:
    # Lightning's append form for list entries, and classes named by their short names.
    flags = [
        "--trainer.callbacks+=EarlyStopping",
        "--trainer.callbacks.monitor={{ {"classification": "val/acc", "gan": "val/mmd"}.get(task, "train/loss") }}",
        "--trainer.callbacks.patience=3",
        "--trainer.logger=CSVLogger",
        "--trainer.logger.save_dir=elsewhere",
        "--{{ optimizer }}=SGD",
        "--{{ optimizer }}.lr=0.05",
        "--{{ optimizer }}.momentum=0.9",
    ]
    cli = CLI(flags)
    early_stops = [c for c in cli.trainer.callbacks if isinstance(c, EarlyStopping)]
    assert [c.patience for c in early_stops][-1] == 3 and len(early_stops) == {{ 1 if task == "gan" else 2 }}
    assert isinstance(cli.trainer.logger, CSVLogger) and Path(cli.trainer.logger.log_dir).parts[0] == "elsewhere"
    assert cli.config.{{ optimizer }}.class_path == "torch.optim.SGD"
    assert cli.config.{{ optimizer }}.init_args.momentum == 0.9


def test_evaluate_py_without_runs_says_what_to_do(workdir: Path) -> None:
    with pytest.raises(SystemExit, match="train first"):
        evaluate.main([])


def test_precision_auto_is_full_precision_without_gpu() -> None:
    assert resolve_precision("auto", accelerator="cpu") == "32-true"
    on_this_cpu = "bf16-mixed" if cpu_has_bfloat16() else "32-true"
    assert resolve_precision("bf16-mixed", accelerator="cpu") == on_this_cpu
    assert resolve_precision("16-mixed", accelerator="cpu") == ("16-mixed" if cpu_has_bfloat16() else "32-true")


def test_runs_are_numbered_like_the_loggers_number_them(tmp_path: Path) -> None:
    assert claim_run_dir(tmp_path) == tmp_path / "version_0"
    (tmp_path / "version_7").mkdir()
    (tmp_path / "version_x").mkdir()
    assert claim_run_dir(tmp_path) == tmp_path / "version_8"
    assert (tmp_path / "version_8").is_dir()


def test_runs_started_together_get_folders_of_their_own(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda _: claim_run_dir(tmp_path), range(16)))
    assert sorted(run.name for run in runs) == sorted(f"version_{n}" for n in range(16))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--config", str(ROOT / "configs" / "slurm.yaml")], "needs a SLURM job step"),
        (["--trainer.accelerator=cpu", "--trainer.devices=-1"], "on CPUs give a number of processes"),
        (["--trainer.accelerator=cpu", "--trainer.sync_batchnorm=true"], "runs on CUDA GPUs only"),
        pytest.param(
            ["--config", str(ROOT / "configs" / "ddp.yaml")],
            "no CUDA GPU is visible here",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="runs where there is a GPU"),
        ),
    ],
)
def test_a_setting_that_cannot_run_here_says_why_and_writes_no_run(
    workdir: Path, capsys: pytest.CaptureFixture, flags: list[str], message: str
) -> None:
    with pytest.raises(SystemExit, match=message):
        train.main([*QUIET, *flags])
    assert not (workdir / "logs").exists()
