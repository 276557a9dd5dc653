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

from .loaders import EpochLoader
from .sharding import METADATA, consolidate, is_sharded


class UnsafeCheckpointError(ValueError):
    """A checkpoint that holds pickled Python objects: loading it could run arbitrary code."""


class UnreadableCheckpointError(ValueError):
    """A checkpoint file that is truncated, corrupt, or not a checkpoint."""


class IncompatibleCheckpointError(ValueError):
    """A checkpoint whose weights do not fit the model (another task, network or size)."""


def load_checkpoint(path: str | Path, require_weights: bool = True) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True`: tensors and plain Python values only, no code runs.

    A sharded checkpoint folder (FSDP2) is consolidated into one file first (see sharding.py), unless
    `require_weights` is False: then only its metadata is read (epoch, callbacks, hyper-parameters).
    Raises UnsafeCheckpointError for a file that carries other pickled objects, and
    UnreadableCheckpointError for one that is truncated or not a checkpoint.
    """
    path = Path(path)
    if is_sharded(path):
        path = consolidate(path) if require_weights else path / METADATA
    if path.is_dir():
        raise UnreadableCheckpointError(
            f"checkpoint {path} is a folder, not a checkpoint file (a run folder goes to --resume, not --ckpt_path)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Unsupported global" not in str(error):  # not a pickle of objects at all: random or damaged bytes
            raise UnreadableCheckpointError(f"checkpoint {path} is corrupt or not a checkpoint file") from None
        raise UnsafeCheckpointError(
            f"checkpoint {path} holds pickled Python objects, which could run code when loaded: refused"
            f" ({first_line(error)}). Load only checkpoints you trust, and never with weights_only=False."
        ) from None
    except Exception as error:  # noqa: BLE001 - whatever a damaged file makes the unpickler raise
        raise UnreadableCheckpointError(f"checkpoint {path} cannot be read: {first_line(error)}") from None
    if not isinstance(checkpoint, dict) or (require_weights and "state_dict" not in checkpoint):
        raise UnreadableCheckpointError(f"{path} is not a Lightning checkpoint: it has no state_dict")
    return checkpoint


def first_line(error: BaseException) -> str:
    """The first line of an error's message, or its type when it has none (an empty file's EOFError)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else {EOFError: "the file is empty or cut short"}.get(type(error), type(error).__name__)


def check_fits(model: torch.nn.Module, state_dict: dict[str, Any], path: str | Path) -> None:
    """Refuse, with one line, weights that do not fit `model`: missing or unexpected keys, other shapes
    (e.g. a checkpoint of another task, or of a network of another size)."""
    own = model.state_dict()
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    reshaped = [
        f"{key} {tuple(state_dict[key].shape)} (the model's: {tuple(own[key].shape)})"
        for key in own
        if key in state_dict and hasattr(state_dict[key], "shape") and state_dict[key].shape != own[key].shape
    ]
    problems = [
        f"{name} {', '.join(keys[:3])}{' and others' if len(keys) > 3 else ''}"
        for name, keys in (("missing", missing), ("unexpected", unexpected), ("other shapes:", reshaped))
        if keys
    ]
    if problems:
        raise IncompatibleCheckpointError(
            f"checkpoint {path} does not fit {type(model).__name__} as configured ({'; '.join(problems)}):"
            " is it from another project, task or network size?"
        )


def load_if_valid(path: Path) -> dict[str, Any] | None:
    """The checkpoint at `path`, or None (with a warning) if it is unsafe, truncated or corrupt; of a
    sharded checkpoint folder, only the metadata."""
    try:
        return load_checkpoint(path, require_weights=not is_sharded(path))
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


class ExactResume(L.Callback):
    """Saves in every checkpoint what a resumed run needs, beyond Lightning's own state, to go on exactly
    as if it had never stopped, for every process of the run: its random states (Python, NumPy,
    PyTorch) and its place in the training epoch (see EpochLoader). Each process gets its own back at
    the start of training, after the sanity check (which draws random numbers of its own), whether the
    checkpoint was written at the end of an epoch or within one (as a SLURM requeue writes it)."""

    def __init__(self) -> None:
        self.trainer: L.Trainer | None = None
        self.pending: dict[str, Any] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        """Every process's state. Lightning builds a checkpoint's content on every process, so gathering
        them here is a collective that all processes reach together."""
        state = {"random": random_state()}
        loader = self.trainer.train_dataloader if self.trainer is not None else None
        if isinstance(loader, EpochLoader):
            state["loader"] = loader.state_dict()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            states: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(states, state)
            return {"processes": states}
        return {"processes": [state]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.pending = state_dict

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.pending is None:
            return
        states, self.pending = self.pending["processes"], None
        if len(states) != trainer.world_size:
            rank_zero_warn(
                f"the checkpoint holds the state of {len(states)} process(es), this run has {trainer.world_size}:"
                " every process starts from that of the first, so the run is not an exact continuation"
            )
        state = states[trainer.global_rank if len(states) == trainer.world_size else 0]
        set_random_state(state["random"])
        if "loader" in state and isinstance(trainer.train_dataloader, EpochLoader):
            # Lightning loads a loader's state itself only when it has not built the loader before restoring
            # the checkpoint, and a schedule sized from the run's steps makes it build it earlier.
            trainer.train_dataloader.load_state_dict(state["loader"])


def random_state() -> dict[str, Any]:
    """This process's random states, as plain values and tensors (loadable with weights_only=True)."""
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


def set_random_state(state: dict[str, Any]) -> None:
    """Restore the states `random_state` returned."""
    random.setstate(state["python"])
    numpy = state["numpy"]
    keys = numpy["keys"].numpy().astype(np.uint32)
    np.random.set_state((numpy["kind"], keys, numpy["position"], *state["numpy_gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
