"""Image grids for the logger: a TensorBoard image when it is the logger, a PNG in the run folder otherwise."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor
from torchvision.utils import make_grid, save_image


def log_image_grid(module: L.LightningModule, name: str, images: Tensor, nrow: int) -> Path | None:
    """Log `images` (batch, channels, height, width) as one grid, `nrow` images a row, scaled to [0, 1].

    Returns the PNG's path when one was written (no TensorBoard logger), else None. Nothing is logged
    while the trainer has no run folder (as when Lightning's tuner runs trial fits).
    """
    if not module.trainer.is_global_zero or module.trainer.log_dir is None:  # no run folder while tuning
        return None
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, normalize=True, padding=1)
    if isinstance(module.logger, TensorBoardLogger):
        module.logger.experiment.add_image(name, grid, global_step=module.current_epoch)
        return None
    path = Path(module.trainer.log_dir) / name / f"epoch{module.current_epoch:03d}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid, path)
    return path
