{%- set task = cookiecutter.task -%}
{%- set monitor, picture = cookiecutter._tasks[task].monitor, cookiecutter._tasks[task].picture -%}
"""Each tracker gets the run's config, hyper-parameters, metrics, learning rate{{ " and pictures" if picture }} in its own form,
and a resumed run goes on in the same tracked run, its metrics neither lost nor repeated. Offline: no
account, no network."""

from __future__ import annotations

import csv
import importlib.util
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SHORT, load_script

train = load_script("train")
MONITOR = "{{ monitor }}"


def fit_and_resume(*logger: str) -> Path:
    """Train 2 epochs, then resume the run to 3, with the `logger` flags; the run folder (the only one)."""
    train.main([*SHORT, *logger, "--trainer.max_epochs=2"])
    train.main([*SHORT, *logger, "--trainer.max_epochs=3", "--resume", "auto"])
    (run,) = Path("logs").glob("**/version_*")  # logs/version_0, or logs/<logger's name>/version_0
    return run


def test_mlflow_holds_the_run_and_a_resume_goes_on_in_it(workdir: Path) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{workdir / 'logs' / 'mlflow.db'}"
    fit_and_resume(
        "--trainer.logger=MLFlowLogger",
        f"--trainer.logger.tracking_uri={uri}",
        "--trainer.logger.experiment_name=tracked",
        f"--trainer.logger.artifact_location={workdir / 'logs' / 'mlflow-artifacts'}",
    )
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("tracked").experiment_id])
    assert len(runs) == 1  # the resume went on in the same run
    run = runs[0]
    steps = [metric.step for metric in client.get_metric_history(run.info.run_id, MONITOR)]
    assert len(steps) == 3 and len(set(steps)) == 3  # epochs 0 and 1, then 2 after the resume
    assert any(key.startswith("lr-") for key in run.data.metrics)  # LearningRateMonitor
    assert any("optimizer" in key for key in run.data.params)  # the model's hyper-parameters
    assert Path(run.data.tags["best_checkpoint"]).is_file()
    assert run.data.tags["run_folder"] == str((workdir / "logs" / "version_0").resolve())
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert "config.yaml" in artifacts
{%- if picture %}
    assert "{{ picture.split("/")[0] }}" in artifacts or "{{ picture }}.png" in artifacts
{%- endif %}


def wandb_records(path: Path) -> Iterator[Any]:
    """The records of a W&B run log (run-<id>.wandb): a ":W&B" header, then blocks of 32 KiB holding
    records of 7-byte headers (checksum, length, kind: 1 whole, 2 first, 3 middle, 4 last part) whose
    payloads are W&B's protobuf Records."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    offset, payload = 7, b""
    while offset + 7 <= len(data):
        if (left := 32768 - offset % 32768) < 7:
            offset += left  # the rest of a block too short for a header is padding
            continue
        length, kind = struct.unpack("<HB", data[offset + 4 : offset + 7])
        payload += data[offset + 7 : offset + 7 + length]
        offset += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            yield record
            payload = b""


def test_wandb_runs_offline_and_a_resume_goes_on_with_the_same_run_id(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = fit_and_resume("--trainer.logger=WandbLogger", "--trainer.logger.offline=true", "--trainer.logger.project=t")
    logs = sorted((run / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(logs) == 2 and logs[0].name == logs[1].name  # two sessions of one run id, as wandb sync takes them
    epochs, summary = [], {}
    for log in logs:
        for record in wandb_records(log):
            kind = record.WhichOneof("record_type")
            if kind == "history":
                items = record.history.item
                row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}
                epochs += [row["epoch"]] if MONITOR in row else []
            elif kind == "summary":
                items = record.summary.update
                summary |= {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}
    assert epochs == [0, 1, 2]  # the monitored metric of every epoch, once
    assert Path(summary["best_checkpoint"]).is_file() and "lr-" in " ".join(summary)
    assert (logs[0].parent / "files" / "config.yaml").is_file()
{%- if picture %}
    assert list((logs[0].parent / "files" / "media" / "images").rglob("*.png"))
{%- endif %}


def test_tensorboard_keeps_one_run_through_a_resume(workdir: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = fit_and_resume("--trainer.logger=TensorBoardLogger", "--trainer.logger.save_dir=logs")
    events = EventAccumulator(str(run)).Reload()
    steps = [event.step for event in events.Scalars(MONITOR)]
    assert len(steps) == 3 and len(set(steps)) == 3
    assert any(tag.startswith("lr-") for tag in events.Tags()["scalars"])
{%- if picture %}
    assert events.Tags()["images"]
{%- endif %}


def test_csv_keeps_the_rows_from_before_the_resume(workdir: Path) -> None:
    run = fit_and_resume("--trainer.logger=CSVLogger", "--trainer.logger.save_dir=logs")
    rows = []
    for name in ("metrics-before-resume-1.csv", "metrics.csv"):
        with (run / name).open() as file:
            rows += [row for row in csv.DictReader(file) if row.get(MONITOR)]
    assert sorted(int(row["epoch"]) for row in rows) == [0, 1, 2]
{%- if picture %}
    assert list(run.glob("{{ picture.replace("/", "_") if task == "classification" else picture ~ "/*" }}.png"))
{%- endif %}


@pytest.mark.parametrize(("logger", "extra"), [("WandbLogger", "wandb"), ("MLFlowLogger", "mlflow")])
def test_a_tracker_that_is_not_installed_names_its_extra(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, logger: str, extra: str
) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == extra else find_spec(name, *a))
    message = rf"needs the {extra} package, which is not installed: pip install -e '\.\[{extra}\]'"
    with pytest.raises(SystemExit, match=message):
        train.main([*SHORT, f"--trainer.logger={logger}"])
    assert not (workdir / "logs").exists()
