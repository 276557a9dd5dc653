"""Image grids for the tracker: in its own form (TensorBoard, W&B, MLflow), else PNG files in the run folder."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers.logger import DummyLogger
from torch import Tensor
from torchvision.utils import make_grid, save_image

from .trackers import log_image_grid as log_grid


def log_image_grid(module: L.LightningModule, name: str, images: Tensor, nrow: int) -> Path | None:
    """Log `images` (batch, channels, height, width) as one grid, `nrow` images a row, scaled to [0, 1].

    Returns the PNG's path when one was written (a logger that keeps no images), else None. Only the
    first process logs (it asks no other process anything), and nothing is logged during the trial fits
    of Lightning's tuner.
    """
    trainer = module.trainer
    if not trainer.is_global_zero or isinstance(trainer.logger, DummyLogger):  # DummyLogger: the tuner's fits
        return None
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, normalize=True, padding=1)
    if log_grid(trainer, name, grid):
        return None
    path = Path(trainer.default_root_dir) / name / f"epoch{trainer.current_epoch:03d}.png"  # the run folder
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid, path)
    return path
