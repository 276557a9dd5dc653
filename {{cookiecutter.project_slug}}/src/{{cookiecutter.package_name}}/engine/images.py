"""Image grids for the tracker: in its own form (TensorBoard, W&B, MLflow), else PNG files in the run folder."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from torch import Tensor
from torchvision.utils import make_grid

from .trackers import log_image_grid as log_grid


def log_image_grid(module: L.LightningModule, name: str, images: Tensor, nrow: int) -> Path | None:
    """Log `images` (batch, channels, height, width) as one grid, `nrow` images a row, scaled to [0, 1].

    Returns the PNG's path when one was written (a logger that keeps no images), else None. Only the
    first process logs (it asks no other process anything), and nothing is logged during the trial fits
    of Lightning's tuner.
    """
    if not module.trainer.is_global_zero:
        return None
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, normalize=True, padding=1)
    return log_grid(module.trainer, name, grid)
