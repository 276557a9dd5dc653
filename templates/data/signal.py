"""Data: windows of a time series, generated (a mixture of sines, no download) or read from your CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader

from .engine.loaders import DataError, TensorBatches, check_settings, hold_on_device, tensor_loader


def generate_signals(count: int, length: int, periods: tuple[float, ...], noise: float, seed: int) -> np.ndarray:
    """`count` series of `length` steps, each a sum of sines with the given periods (in steps), random
    amplitudes in [0.5, 1.5] and phases, plus Gaussian noise of standard deviation `noise`.
    Shape (count, length, 1)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    amplitudes = rng.uniform(0.5, 1.5, (count, len(periods), 1))
    phases = rng.uniform(0, 2 * math.pi, (count, len(periods), 1))
    angles = 2 * math.pi * steps / np.asarray(periods, dtype=float)[:, None]
    series = (amplitudes * np.sin(angles + phases)).sum(axis=1) + rng.normal(0, noise, (count, length))
    return series[..., None].astype(np.float32)


def read_csv_series(path: Path) -> np.ndarray:
    """A CSV with one row per time step and one numeric column per variable (a header row is allowed).
    Shape (steps, variables)."""
    if not path.is_file():
        raise DataError(f"csv_path {str(path)!r} does not exist: give a CSV with one row per time step")
    with path.open(newline="") as file:
        rows = [row for row in csv.reader(file) if row]
    try:
        float(rows[0][0])
    except (IndexError, ValueError):
        rows = rows[1:]  # a header
    try:
        values = np.asarray(rows, dtype=np.float32)
    except ValueError as error:
        raise DataError(f"{path}: every cell after the header must be a number ({error})") from None
    if values.ndim != 2 or not len(values):
        raise DataError(f"{path}: no data rows, or rows of different lengths")
    if len(bad := np.argwhere(~np.isfinite(values))):
        row, column = bad[0]
        raise DataError(
            f"{path}: data row {row + 1}, column {column + 1} is {values[row, column]} ({len(bad)} cell(s) not finite):"
            " fill or drop the missing values first"
        )
    return values


def windows(series: np.ndarray, length: int, stride: int) -> np.ndarray:
    """Overlapping windows of `length` steps along the first axis. Shape (count, length, variables)."""
    starts = range(0, len(series) - length + 1, stride)
    return np.stack([series[start : start + length] for start in starts])


class SignalDataModule(LightningDataModule):
    """Sequences for one-step-ahead forecasting: each sample's target is its input shifted by one step.

    With no `csv_path`, `num_series` independent series are generated: each a sum of sines with the
    periods `periods`, random amplitudes and phases, plus noise. They are split by series.

    With `csv_path`, your series (one row per time step, one numeric column per variable) is split
    along time: the first part trains, the next validates, the last tests, so no model sees its
    future. Each part is cut into windows of `sequence_length + 1` steps that overlap by half.

    Values are standardised per variable with the training part's mean and standard deviation.

    Args:
        csv_path: Your own series; None generates one.
        sequence_length: Input steps per sample.
        batch_size: Sequences per batch.
        num_workers: Loader worker processes; 0 is fastest for data held in memory.
        num_series: Generated series.
        periods: Periods of the generated sines, in steps.
        noise: Standard deviation of the generated noise.
        val_fraction: Share of the series (or of the time steps) used for validation.
        test_fraction: Share used for the final test.
        split_seed: Seed of the generated series and of their split.
    """

    def __init__(
        self,
        csv_path: str | None = None,
        sequence_length: int = 128,
        batch_size: int = 32,
        num_workers: int = 0,
        num_series: int = 512,
        periods: tuple[float, ...] = (8.0, 21.0, 55.0),
        noise: float = 0.05,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
    ) -> None:
        super().__init__()
        check_settings(batch_size, num_workers, val_fraction=val_fraction, test_fraction=test_fraction)
        self.save_hyperparameters()
        self.series = read_csv_series(Path(csv_path)) if csv_path else None
        self.num_features = 1 if self.series is None else self.series.shape[1]
        self.sequence_length = sequence_length
        self.splits: dict[str, TensorBatches] = {}

    def _windows_by_split(self) -> dict[str, np.ndarray]:
        hp = self.hparams
        if self.series is None:
            series = generate_signals(hp.num_series, hp.sequence_length + 1, hp.periods, hp.noise, hp.split_seed)
            order = np.random.default_rng(hp.split_seed).permutation(len(series))
            n_test, n_val = round(len(series) * hp.test_fraction), round(len(series) * hp.val_fraction)
            parts = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
            return {name: series[index] for name, index in parts.items()}
        steps = len(self.series)
        train_end = round(steps * (1 - hp.val_fraction - hp.test_fraction))
        val_end = round(steps * (1 - hp.test_fraction))
        parts = {"train": self.series[:train_end], "val": self.series[train_end:val_end], "test": self.series[val_end:]}
        length = hp.sequence_length + 1
        for name, part in parts.items():
            if len(part) < length:
                raise DataError(
                    f"{hp.csv_path}: the {name} part has {len(part)} of the {steps} time steps, fewer than"
                    f" sequence_length + 1 = {length}: use a shorter sequence_length or a longer series"
                )
        return {name: windows(part, length, stride=max(length // 2, 1)) for name, part in parts.items()}

    def setup(self, stage: str | None = None) -> None:
        """Build the windows once, standardised with the training part's statistics (onto the GPU if
        training on one and they fit)."""
        if not self.splits:
            parts = self._windows_by_split()
            mean = parts["train"].mean(axis=(0, 1))
            std = parts["train"].std(axis=(0, 1)) + 1e-8
            for name, part in parts.items():
                values = torch.from_numpy((part - mean) / std)
                self.splits[name] = TensorBatches(values[:, :-1].contiguous(), values[:, 1:].contiguous())
        self.splits = hold_on_device(self.splits, self.trainer, self.hparams.num_workers)

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        hp = self.hparams
        return tensor_loader(
            self.splits[split], hp.batch_size, shuffle=shuffle, num_workers=hp.num_workers, trainer=self.trainer
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")
