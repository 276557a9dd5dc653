"""Checkpoints that survive a kill and resume exactly: atomic writes, random states, safe loading."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_warn


class UnsafeCheckpointError(ValueError):
    """A checkpoint that holds pickled Python objects: loading it could run arbitrary code."""


class UnreadableCheckpointError(ValueError):
    """A checkpoint file that is truncated, corrupt, or not a checkpoint."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True`: tensors and plain Python values only, no code runs.

    Raises UnsafeCheckpointError for a file that carries other pickled objects, and
    UnreadableCheckpointError for one that is truncated or not a checkpoint.
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(
            f"checkpoint {path} holds pickled Python objects, which could run code when loaded: refused"
            f" ({str(error).splitlines()[0]}). Load only checkpoints you trust, and never with weights_only=False."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise UnreadableCheckpointError(f"checkpoint {path} cannot be read: {str(error).splitlines()[0]}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise UnreadableCheckpointError(f"{path} is not a Lightning checkpoint: it has no state_dict")
    return checkpoint


def load_if_valid(path: Path) -> dict[str, Any] | None:
    """The checkpoint at `path`, or None (with a warning) if it is unsafe, truncated or corrupt."""
    try:
        return load_checkpoint(path)
    except (UnsafeCheckpointError, UnreadableCheckpointError) as error:
        rank_zero_warn(f"skipping {error}")
        return None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it, then renames it into place: a process
    killed mid-save leaves the previous file whole, never a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            super().save_checkpoint(checkpoint, partial, storage_options)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)


class RandomState(L.Callback):
    """Saves the random states of Python, NumPy and PyTorch in every checkpoint and restores them when
    training resumes, at the start of the first resumed epoch (after the sanity check, which draws
    random numbers of its own). With the per-epoch shuffle of the loaders, a resumed run draws the
    same numbers as one that was never stopped."""

    def __init__(self) -> None:
        self.pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
        state = {
            "python": random.getstate(),
            "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": position},
            "numpy_gauss": (has_gauss, cached_gaussian),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.pending = state_dict

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.pending is None:
            return
        state, self.pending = self.pending, None
        random.setstate(state["python"])
        numpy = state["numpy"]
        keys = numpy["keys"].numpy().astype(np.uint32)
        np.random.set_state((numpy["kind"], keys, numpy["position"], *state["numpy_gauss"]))
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
