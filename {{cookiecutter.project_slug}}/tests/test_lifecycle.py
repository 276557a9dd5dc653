{%- set task = cookiecutter.task -%}
{%- set manual = cookiecutter.__manual_optimization == "yes" -%}
"""The run lifecycle: exact resume after a kill, safe and atomic checkpoints, evaluation, prediction,
export and tuning."""

from __future__ import annotations

import csv
import json
import math
import signal
import time
from pathlib import Path

import pytest
import torch
from conftest import QUIET, load_script
from lightning.fabric.plugins.io import torch_io
from processes import finish, run_folder, start

from {{ cookiecutter.package_name }}.cli import CLI
from {{ cookiecutter.package_name }}.engine.checkpoints import (
    AtomicCheckpointIO,
    UnsafeCheckpointError,
    load_checkpoint,
)
from {{ cookiecutter.package_name }}.engine.cli import resume_point
from {{ cookiecutter.package_name }}.engine.runs import main as list_runs
from {{ cookiecutter.package_name }}.engine.runs import saved_config

train, evaluate, predict, export = (load_script(name) for name in ("train", "evaluate", "predict", "export"))
FAST = [*QUIET, "--trainer.limit_train_batches=4", "--trainer.limit_val_batches=2", "--trainer.log_every_n_steps=1"]


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_weights_and_metrics(workdir: Path) -> None:
    args = [*FAST, "--trainer.max_epochs=6"]
    straight, killed = (run_folder(workdir / name, workdir / "data") for name in ("straight", "killed"))
    finish(start(straight, *args))

    process = start(killed, *args)
    last = killed / "logs" / "version_0" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert load_checkpoint(last)["epoch"] < 5
    finish(start(killed, "--resume", "auto"))

    final = [load_checkpoint(run / "logs" / "version_0" / "checkpoints" / "last.ckpt") for run in (straight, killed)]
    assert final[0]["epoch"] == final[1]["epoch"] == 5
    assert final[0]["state_dict"].keys() == final[1]["state_dict"].keys()
    for name, tensor in final[0]["state_dict"].items():
        assert torch.equal(tensor, final[1]["state_dict"][name]), name
    metrics = [json.loads((run / "logs" / "version_0" / "test_metrics.json").read_text()) for run in (straight, killed)]
    assert metrics[0]["metrics"] == metrics[1]["metrics"]


def test_resume_auto_skips_a_truncated_checkpoint(workdir: Path) -> None:
    train.main([*FAST, "--trainer.max_epochs=2"])
    checkpoints = workdir / "logs" / "version_0" / "checkpoints"
    last = checkpoints / "last.ckpt"
    content = last.read_bytes()
    last.unlink()  # a link to the newest checkpoint; where links fail it is a copy, here cut short
    last.write_bytes(content[:1000])  # as if the disk filled up while copying it
    with pytest.warns(UserWarning, match="skipping checkpoint .*last.ckpt cannot be read"):
        checkpoint, _ = resume_point("auto", None, Path("logs"))
    run = Path("logs") / "version_0"
    assert checkpoint == run / "checkpoints" / "recent-epoch001.ckpt"
    assert saved_config(checkpoint) == run / "config.yaml"  # applied first, then the flags given


def test_checkpoints_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(2)}}, path)

    def crash(checkpoint: dict, target: Path) -> None:
        Path(target).write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt  # killed mid-save

    monkeypatch.setattr(torch_io, "_atomic_save", crash)
    with pytest.raises(KeyboardInterrupt):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(2)}}, path)
    assert torch.equal(load_checkpoint(path)["state_dict"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


class Payload:
    """What a malicious checkpoint carries: unpickling it would create a file (or do anything else)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_a_checkpoint_with_a_pickled_payload_is_refused_and_never_run(workdir: Path) -> None:
    marker = workdir / "payload-ran"
    evil = workdir / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "payload": Payload(marker)}, evil)
    for script in (evaluate, train):
        with pytest.raises(UnsafeCheckpointError, match="evil.ckpt holds pickled Python objects"):
            script.main(["--ckpt_path", str(evil)])
    assert not marker.exists()


def test_evaluate_py_uses_the_hyper_parameters_stored_in_the_checkpoint(workdir: Path) -> None:
    net = "{{ "model.generator.width" if task == "gan" else "model.net.hidden_size" if task == "sequence" else "model.net.width" }}"
    metrics = train.main([*FAST, "--trainer.max_epochs=1", f"--{net}=8"])
    best = json.loads((workdir / "logs" / "version_0" / "test_metrics.json").read_text())["checkpoint"]
    (workdir / "logs" / "version_0" / "config.yaml").unlink()  # nothing but the checkpoint itself
    assert evaluate.main(["--ckpt_path", best, *QUIET]) == pytest.approx(metrics)
    assert all(map(math.isfinite, metrics.values()))


def test_runs_are_listed_with_their_best_checkpoint(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    train.main([*FAST, "--trainer.max_epochs=2"])
    list_runs(["--logs", "logs"])
    assert "logs/version_0: 2 epochs, best logs/version_0/checkpoints/epoch" in capsys.readouterr().out


def test_predictions_have_a_row_per_input(workdir: Path) -> None:
    train.main([*FAST, "--trainer.max_epochs=1"])
{%- if task == "gan" %}
    output = predict.main(["--count", "5", "--output", str(workdir / "out" / "samples.csv")])
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 5 and all((output.parent / row["image"]).is_file() for row in rows)
{%- elif task == "sequence" %}
    rows = list(csv.DictReader(predict.main(["--horizon", "3"]).open()))
    best = json.loads((workdir / "logs" / "version_0" / "test_metrics.json").read_text())["checkpoint"]
    data = CLI(["--ckpt_path", best], training=False).datamodule
    data.setup("test")
    assert len(rows) == len(data.splits["test"]) and len(rows[0]) == 1 + 3 * data.num_features
    assert all(math.isfinite(float(value)) for row in rows for key, value in row.items() if key != "sequence")
{%- else %}
    from fake_data import write_image_folder

    folder = write_image_folder(workdir / "new_images", per_class=2)
    output = predict.main(["--input", str(folder), "--output", str(workdir / "predictions.csv")])
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 6 and {row["image"] for row in rows} == {str(p) for p in folder.rglob("*.png")}
{%- if task == "classification" %}
    assert all(0 <= float(row["probability"]) <= 1 for row in rows)
{%- else %}
    assert all(math.isfinite(float(value)) for row in rows for key, value in row.items() if key != "image")
{%- endif %}
    on_test = list(csv.DictReader(predict.main([]).open()))
{%- if task == "classification" %}
    accuracy = sum(row["class"] == row["target"] for row in on_test) / len(on_test)
    assert len(on_test) > 0 and 0 <= accuracy <= 1
{%- else %}
    assert len(on_test) > 0
{%- endif %}
{%- endif %}


@pytest.mark.slow
def test_exports_match_pytorch_for_batches_of_1_and_7(workdir: Path) -> None:
    import onnxruntime

    train.main([*FAST, "--trainer.max_epochs=1"])
    files = export.main(["--output", str(workdir / "exports")])
    best = Path(json.loads((workdir / "logs" / "version_0" / "test_metrics.json").read_text())["checkpoint"])
    model = CLI(["--ckpt_path", str(best)], training=False).model.eval()
    session = onnxruntime.InferenceSession(str(files["onnx"]))
    program = torch.export.load(files["program"]).module()
    example = model.example_input_array
    for size in (1, 7):
        batch = torch.randn(size, *example.shape[1:])
        with torch.no_grad():
            expected = model(batch)
        onnx_output = torch.from_numpy(session.run(None, {"input": batch.numpy()})[0])
        assert torch.allclose(onnx_output, expected, atol=1e-4, rtol=1e-3)
        assert torch.allclose(program(batch), expected, atol=1e-5)
{%- if not manual %}


@pytest.mark.slow
def test_lr_finder_saves_its_plot_and_puts_its_value_in_the_saved_config(workdir: Path) -> None:
    train.main([*FAST, "--trainer.max_epochs=25", "--tune", "lr"])  # the finder needs 100 steps
    run = workdir / "logs" / "version_0"
    assert (run / "lr_find.png").stat().st_size > 1000
    saved = (run / "config.yaml").read_text()
    lr = float(saved.split("\n      lr: ")[1].split("\n")[0])
    assert math.isfinite(lr) and lr != 0.003 and "tune: null" in saved
{%- if task == "classification" %}


def test_a_tuned_learning_rate_is_no_worse_than_the_configured_one(workdir: Path) -> None:
    flags = [*QUIET, "--trainer.max_epochs=5"]
    configured = train.main(flags)["test/acc"]
    tuned = train.main([*flags, "--tune=lr"])["test/acc"]
    assert tuned >= configured - 0.02, f"tuned {tuned:.4f} vs configured {configured:.4f}"
{%- endif %}


def test_the_test_after_weight_averaging_is_of_the_averaged_weights(workdir: Path) -> None:
    swa = ["--swa.enabled=true", "--swa.epoch_start=1", "--swa.annealing_epochs=1"]
    metrics = train.main([*FAST, "--trainer.max_epochs=3", *swa])
    run = workdir / "logs" / "version_0"
    assert "StochasticWeightAveraging" in (run / "config.yaml").read_text()
    saved = json.loads((run / "test_metrics.json").read_text())
    assert Path(saved["checkpoint"]) == Path("logs") / "version_0" / "averaged.ckpt"
    averaged = load_checkpoint(run / "averaged.ckpt")["state_dict"]
    # The last epoch's own weights, saved at its validation, before the averaged ones replace them.
    best = load_checkpoint(run / "checkpoints" / "recent-epoch002.ckpt")["state_dict"]
    assert any(not torch.equal(averaged[name], weights) for name, weights in best.items())
    assert evaluate.main(["--ckpt_path", saved["checkpoint"], *QUIET]) == pytest.approx(metrics)
{%- else %}


def test_the_lr_finder_is_refused_with_a_reason(workdir: Path) -> None:
    with pytest.raises(SystemExit, match="learning-rate finder cannot drive"):
        train.main([*FAST, "--trainer.max_epochs=25", "--tune", "lr"])  # the finder needs 100 steps
{%- endif %}


@pytest.mark.slow
def test_batch_size_scaling_writes_the_size_it_found(workdir: Path) -> None:
    train.main([*FAST, "--trainer.max_epochs=1", "--tune", "batch_size"])
    config = (workdir / "logs" / "version_0" / "config.yaml").read_text()
    size = int(config.split("batch_size: ")[1].split("\n")[0])
    assert size >= 2 and size & (size - 1) == 0  # a power of two
