"""Image grids for the logger: a TensorBoard image when it is the logger, a PNG in the run folder otherwise."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.loggers.logger import DummyLogger
from torch import Tensor
from torchvision.utils import make_grid, save_image


def log_image_grid(module: L.LightningModule, name: str, images: Tensor, nrow: int) -> Path | None:
    """Log `images` (batch, channels, height, width) as one grid, `nrow` images a row, scaled to [0, 1].

    Returns the PNG's path when one was written (no TensorBoard logger), else None. Only the first
    process logs (it asks no other process anything), and nothing is logged during the trial fits of
    Lightning's tuner, which swap in a DummyLogger.
    """
    trainer = module.trainer
    if not trainer.is_global_zero or isinstance(trainer.logger, DummyLogger):
        return None
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, normalize=True, padding=1)
    if isinstance(module.logger, TensorBoardLogger):
        module.logger.experiment.add_image(name, grid, global_step=module.current_epoch)
        return None
    path = Path(trainer.default_root_dir) / name / f"epoch{module.current_epoch:03d}.png"  # the run folder
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid, path)
    return path
