"""The training benchmark: the Trainer and the plain loop train the same, and the figures are printed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.bench import SyntheticImages, main

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def test_synthetic_images_have_the_asked_shape_and_learnable_labels() -> None:
    data = SyntheticImages(size=60, shape=(1, 12, 12), num_classes=4)
    data.setup()
    train = data.splits["train"]
    assert train.inputs.shape == (60, 1, 12, 12) and train.inputs.dtype.is_floating_point is False
    assert len(data.splits["val"]) == 10
    rows = train.inputs[:, 0].float().mean(dim=2)  # (N, H): the label's row is the brightest
    assert (rows.argmax(dim=1) == train.targets).all()


def test_bench_trains_both_loops_identically(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    result = main(["--synthetic", "600", "--epochs", "2", "--data.batch_size", "64", *QUIET])
    out = capsys.readouterr().out
    assert result["val_loss_difference"] <= 1e-3
    assert result["epochs"] == 3 and result["steps_per_epoch"] == 10
    assert math.isfinite(result["ratio"]) and result["ratio"] > 0
    printed = next(line for line in out.splitlines() if line.startswith("ratio"))
    assert printed.split() == ["ratio:", f"{result['ratio']:.2f}"]
    assert not (workdir / "logs").exists(), "the benchmark must not leave a run in logs/"
