"""Manual optimization with what automatic optimization gives for free: accumulation, clipping, schedules."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import Tensor
from torch.optim.lr_scheduler import ReduceLROnPlateau


class ManualOptimization(L.LightningModule):
    """Base for modules that step their optimizers themselves (two optimizers, or truncated BPTT).

    Lightning's Trainer can neither clip nor accumulate their gradients, and does not step their
    learning-rate schedules. `optimize` and `on_train_epoch_end` do. The project's Trainer hands them
    its `gradient_clip_val`, `gradient_clip_algorithm` and `accumulate_grad_batches` before fitting
    (`take_step_settings`), so they are set on the trainer as for any other model.
    """

    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str = "norm"
    accumulate_grad_batches: int = 1

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def take_step_settings(self, clip_val: float | None, clip_algorithm: str | None, accumulate: int) -> None:
        """Take over the trainer's clipping and accumulation (Lightning refuses them in manual mode)."""
        self.gradient_clip_val = clip_val
        self.gradient_clip_algorithm = clip_algorithm or "norm"
        self.accumulate_grad_batches = accumulate

    def is_step_boundary(self, index: int, count: int) -> bool:
        """Whether pass `index` (of `count` this epoch) ends an accumulation window: every
        `accumulate_grad_batches`-th pass, and the last one, so no gradient leaks into the next epoch."""
        return (index + 1) % self.accumulate_grad_batches == 0 or index + 1 == count

    def optimize(self, loss: Tensor, optimizers: list[LightningOptimizer], step: bool) -> None:
        """Back-propagate `loss`; if `step`, clip, step and zero `optimizers`, then step their per-step schedules."""
        self.manual_backward(loss / self.accumulate_grad_batches)
        if not step:
            return
        for optimizer in optimizers:
            if self.gradient_clip_val:
                self.clip_gradients(
                    optimizer,
                    gradient_clip_val=self.gradient_clip_val,
                    gradient_clip_algorithm=self.gradient_clip_algorithm,
                )
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        self.step_schedulers("step", optimizers)

    def step_schedulers(self, interval: str, optimizers: list[LightningOptimizer] | None = None) -> None:
        """Step the schedules of this interval ("step" or "epoch"), only those of `optimizers` if given.

        A reduce-on-plateau schedule steps on the metric it monitors (val/loss unless it names one),
        when this epoch has logged it.
        """
        chosen = None if optimizers is None else {id(optimizer.optimizer) for optimizer in optimizers}
        for config in self.trainer.lr_scheduler_configs:
            if config.interval != interval or (chosen is not None and id(config.scheduler.optimizer) not in chosen):
                continue
            if isinstance(config.scheduler, ReduceLROnPlateau):
                monitor = getattr(config.scheduler, "monitor", "val/loss")
                if (metric := self.trainer.callback_metrics.get(monitor)) is not None:
                    config.scheduler.step(metric)
            else:
                config.scheduler.step()

    def on_train_epoch_end(self) -> None:
        """Per-epoch schedules step here, after the epoch's validation, as Lightning steps them itself."""
        self.step_schedulers("epoch")
