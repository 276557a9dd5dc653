"""The series data module: generated signals, your own CSV, windows, splits and standardisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data import SignalDataModule, generate_signals
from {{ cookiecutter.package_name }}.engine.loaders import DataError


def test_generated_windows_have_shifted_targets(datamodule: SignalDataModule) -> None:
    inputs, targets = next(iter(datamodule.train_dataloader()))
    assert inputs.shape == (32, 64, 1) and inputs.dtype == torch.float32
    assert torch.equal(inputs[:, 1:], targets[:, :-1])  # the target is the next step


def test_generated_series_split_by_series_and_standardised(datamodule: SignalDataModule) -> None:
    sizes = {name: len(split) for name, split in datamodule.splits.items()}
    assert sizes == {"test": 29, "val": 29, "train": 192 - 58}
    train = datamodule.splits["train"].inputs
    assert abs(train.mean().item()) < 0.05 and abs(train.std().item() - 1) < 0.05


def test_generation_is_reproducible_and_has_the_asked_periods() -> None:
    first = generate_signals(2, 440, (8.0, 55.0), noise=0.0, seed=1)
    assert np.array_equal(first, generate_signals(2, 440, (8.0, 55.0), noise=0.0, seed=1))
    spectrum = np.abs(np.fft.rfft(first[0, :, 0]))
    assert sorted(np.argsort(spectrum)[-2:].tolist()) == [440 // 55, 440 // 8]


def write_csv(path: Path, steps: int, header: bool = True) -> Path:
    t = np.arange(steps)
    rows = np.stack([np.sin(t / 5), np.cos(t / 7) * 3 + 10], axis=1)
    path.write_text(("temperature,load\n" if header else "") + "\n".join(f"{a},{b}" for a, b in rows) + "\n")
    return path


def test_csv_series_splits_along_time(tmp_path: Path) -> None:
    data = SignalDataModule(csv_path=str(write_csv(tmp_path / "series.csv", 400)), sequence_length=19, batch_size=4)
    data.setup()
    assert data.num_features == 2
    inputs, targets = data.splits["train"].inputs, data.splits["train"].targets
    assert inputs.shape[1:] == (19, 2) and torch.equal(inputs[:, 1:], targets[:, :-1])
    # 400 steps: 280 train, 60 val, 60 test; windows of 20 steps every 10.
    assert [len(data.splits[name]) for name in ("train", "val", "test")] == [27, 5, 5]
    assert abs(inputs.mean().item()) < 0.1


def test_csv_without_header_is_read_too(tmp_path: Path) -> None:
    data = SignalDataModule(csv_path=str(write_csv(tmp_path / "plain.csv", 300, header=False)), sequence_length=9)
    data.setup()
    assert data.num_features == 2


def test_bad_csv_files_are_refused_with_their_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing.csv"):
        SignalDataModule(csv_path=str(tmp_path / "missing.csv"))
    (tmp_path / "words.csv").write_text("a,b\n1,2\nx,y\n")
    with pytest.raises(DataError, match="words.csv: every cell after the header must be a number"):
        SignalDataModule(csv_path=str(tmp_path / "words.csv"))
    short = SignalDataModule(csv_path=str(write_csv(tmp_path / "short.csv", 50)), sequence_length=64)
    with pytest.raises(DataError, match="the train part has 35 of the 50 time steps, fewer than sequence_length"):
        short.setup()
    (tmp_path / "gaps.csv").write_text("value\n1.0\n2.0\nnan\n4.0\ninf\n")
    with pytest.raises(DataError, match=r"gaps.csv: data row 3, column 1 is nan \(2 cell\(s\) not finite\)"):
        SignalDataModule(csv_path=str(tmp_path / "gaps.csv"))
