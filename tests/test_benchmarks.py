"""The speed benchmarks run against a rendered project and check what they compare."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(tmp_path: Path, *args: str) -> str:
    """The output of `benchmarks/speed.py ARGS`, which must succeed."""
    command = [sys.executable, str(BENCHMARKS / "speed.py"), *args]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_the_trainer_and_the_plain_loop_train_the_same_and_are_timed(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "train", "--epochs", "1", "--warmup", "1", "--trainer.enable_progress_bar=false")
    # The benchmark itself fails if the two loops end an epoch with different validation losses.
    difference = float(re.search(r"largest difference between the two over the epochs: (\S+)", out)[1])
    assert difference <= 1e-3
    lightning = float(re.search(r"Lightning Trainer \(project defaults\): +(\S+) s/epoch", out)[1])
    plain = float(re.search(r"plain PyTorch loop: +(\S+) s/epoch", out)[1])
    assert abs(float(re.search(r"ratio: +(\S+)", out)[1]) - lightning / plain) <= 0.01
    assert "1,169 training images, batch 64" in out  # the default project's digits split


@pytest.mark.slow
def test_the_data_benchmark_times_both_pipelines_on_the_same_images(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "data", "--batches", "5")
    project = float(re.search(r"project pipeline .*: +(\S+) batches/s", out)[1])
    per_sample = float(re.search(r"torchvision per-sample .*: +(\S+) batches/s", out)[1])
    assert f"speed-up: {project / per_sample:.1f}x" in out
    assert "1,169 training images of shape (1, 8, 8), batch 128, 5 batches" in out
