"""Speed: the progress bar's readings, torch.compile, and the GPU path (data held on the GPU, layouts,
mixed precision), whose tests run where a CUDA GPU is present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import QUIET, build_model, load_script, quick_trainer
from lightning import LightningDataModule
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import CSVLogger

from {{ cookiecutter.package_name }}.engine.progress import ProgressBar
from {{ cookiecutter.package_name }}.engine.speed import channels_last_on_gpu

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def count_metric_readings(
    monkeypatch: pytest.MonkeyPatch, data: LightningDataModule, every: int, batches: int, root: Path
) -> int:
    readings = []
    monkeypatch.setattr(RichProgressBar, "_update_metrics", lambda self, trainer, module: readings.append(1))
    bar = ProgressBar(metrics_every=every)
    trainer = quick_trainer(
        max_epochs=1,
        limit_train_batches=batches,
        limit_val_batches=2,
        enable_progress_bar=True,
        callbacks=[bar],
        default_root_dir=root,  # what the run writes (a GAN's sample grid) goes there, not to the project
    )
    trainer.fit(build_model(data), datamodule=data)
    return len(readings)


def test_progress_bar_reads_the_metrics_only_every_n_batches(
    datamodule: LightningDataModule, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    batches = min(10, len(datamodule.train_dataloader()))
    every_batch = count_metric_readings(monkeypatch, datamodule, 1, batches, tmp_path)
    skipped = sum(1 for done in range(1, batches + 1) if done % 4 and done != batches)  # read: 4th, 8th, last
    assert skipped > 0
    assert count_metric_readings(monkeypatch, datamodule, 4, batches, tmp_path) == every_batch - skipped


def test_progress_bar_leaves_out_the_version_number(datamodule: LightningDataModule, tmp_path: Path) -> None:
    bar, logger = ProgressBar(), CSVLogger(tmp_path)
    trainer = quick_trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        enable_progress_bar=True,
        callbacks=[bar],
        logger=logger,
        default_root_dir=tmp_path,
    )
    trainer.fit(build_model(datamodule), datamodule=datamodule)
    assert "v_num" in RichProgressBar.get_metrics(bar, trainer, trainer.lightning_module)
    assert "v_num" not in bar.get_metrics(trainer, trainer.lightning_module)


def test_on_the_cpu_data_and_weights_keep_their_place_and_layout(
    datamodule: LightningDataModule, tmp_path: Path
) -> None:
    model = build_model(datamodule)
    trainer = quick_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, default_root_dir=tmp_path)
    splits = dict(datamodule.splits)
    trainer.fit(model, datamodule=datamodule)
    assert all(datamodule.splits[name] is split for name, split in splits.items())
    assert all(p.is_contiguous() for p in model.parameters())
    batch = torch.zeros(2, 3, 4, 5)
    assert channels_last_on_gpu(batch) is batch


@pytest.mark.slow
def test_a_compiled_model_computes_the_same_with_the_same_weight_names(
    datamodule: LightningDataModule,
) -> None:
    torch.manual_seed(0)
    plain = build_model(datamodule).eval()
    compiled = build_model(datamodule).eval()
    compiled.load_state_dict(plain.state_dict())
    compiled.trainer = quick_trainer(compile=True)
    compiled.configure_model()
    inputs = torch.randn(4, *plain.example_input_array.shape[1:])
    with torch.no_grad():
        assert torch.allclose(compiled(inputs), plain(inputs), atol=1e-5)
    assert compiled.state_dict().keys() == plain.state_dict().keys()


@pytest.mark.gpu
@needs_gpu
def test_on_a_gpu_the_data_is_moved_once_and_weights_are_channels_last(
    datamodule: LightningDataModule, tmp_path: Path
) -> None:
    model = build_model(datamodule)
    trainer = quick_trainer(
        accelerator="gpu",
        devices=1,
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=datamodule)
    assert all(split.inputs.is_cuda and split.targets.is_cuda for split in datamodule.splits.values())
{%- if cookiecutter.task != "sequence" %}
    weights = [p for p in model.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
{%- endif %}


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_a_mixed_precision_run_on_a_gpu_learns(workdir: Path, precision: str) -> None:
    if precision == "bf16-mixed" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    train = load_script("train")
    gpu = ["--trainer.accelerator=gpu", "--trainer.devices=1", f"--trainer.precision={precision}"]
    metrics = train.main([*QUIET, *gpu])
    saved = json.loads((workdir / "logs" / "version_0" / "test_metrics.json").read_text())
    assert saved["metrics"] == pytest.approx(metrics)
{%- if cookiecutter.task == "classification" %}
    assert metrics["test/acc"] > 0.5
{%- else %}
    assert all(torch.isfinite(torch.tensor(value)) for value in metrics.values())
{%- endif %}
