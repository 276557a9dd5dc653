"""The project's Trainer: Lightning's, with precision "auto", atomic checkpoints and exact resumes."""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
import torch
from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch.utilities import rank_zero_info

from .checkpoints import AtomicCheckpointIO, RandomState
from .speed import use_tensor_cores

Precision = Literal["auto", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true"]


def resolve_precision(precision: str, accelerator: Any = "auto") -> str:
    """Turn "auto" into bf16-mixed on GPUs that support it, 16-mixed on older GPUs, 32-true elsewhere."""
    if precision != "auto":
        return precision
    if not (accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()):
        chosen, reason = "32-true", "no CUDA GPU in use"
    elif torch.cuda.is_bf16_supported():
        chosen, reason = "bf16-mixed", f"{torch.cuda.get_device_name()} supports bfloat16"
    else:
        chosen, reason = "16-mixed", f"{torch.cuda.get_device_name()} has no bfloat16"
    rank_zero_info(f"precision: auto -> {chosen} ({reason})")
    return chosen


class Trainer(L.Trainer):
    """Lightning's Trainer, plus:

    - `precision="auto"`: the fastest precision that trains well on this hardware, and TF32 tensor
      cores for float32 matrix products on GPUs;
    - checkpoints written to a temporary file and renamed into place (AtomicCheckpointIO), unless
      another CheckpointIO plugin is given;
    - the random states of Python, NumPy and PyTorch saved in checkpoints and restored on resume
      (RandomState), so that a resumed run ends exactly where an uninterrupted one would.
    """

    def __init__(self, *args: Any, precision: Precision = "auto", **kwargs: Any) -> None:
        plugins = kwargs.pop("plugins", None) or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            plugins.append(AtomicCheckpointIO())
        callbacks = kwargs.pop("callbacks", None) or []
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        if not any(isinstance(callback, RandomState) for callback in callbacks):
            callbacks.append(RandomState())
        precision = resolve_precision(precision, kwargs.get("accelerator", "auto"))
        use_tensor_cores()
        super().__init__(*args, precision=precision, plugins=plugins, callbacks=callbacks, **kwargs)
