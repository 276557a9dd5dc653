"""The data benchmark compares like with like, and prints what it measured."""

from __future__ import annotations

import pytest
import torch

from {{ cookiecutter.package_name }}.bench_data import main, per_sample_loader
from {{ cookiecutter.package_name }}.image_data import to_model_input
from {{ cookiecutter.package_name }}.loaders import TensorBatches, tensor_loader


@pytest.mark.parametrize(("channels", "pixel_max"), [(1, 255.0), (3, 255.0), (1, 16.0)])
def test_both_pipelines_give_the_same_model_input(channels: int, pixel_max: float) -> None:
    images = torch.randint(0, int(pixel_max) + 1, (10, channels, 12, 12), dtype=torch.uint8)
    labels = torch.arange(10)
    mean, std = (0.3,) * channels, (0.2,) * channels
    ours, _ = next(iter(tensor_loader(TensorBatches(images, labels), batch_size=5)))
    theirs, their_labels = next(iter(per_sample_loader(images, labels, mean, std, pixel_max, batch_size=5)))
    assert torch.allclose(to_model_input(ours, mean, std, pixel_max), theirs, atol=1e-5)
    assert their_labels.tolist() == [0, 1, 2, 3, 4]


def test_benchmark_prints_both_rates_and_the_speed_up(capsys: pytest.CaptureFixture) -> None:
    result = main(["--synthetic", "256", "--batches", "2", "--batch_size", "64"])
    out = capsys.readouterr().out
    assert result["project"] > 0 and result["per_sample"] > 0
    assert f"speed-up: {result['speedup']:.1f}x" in out and out.count("batches/s") == 2
