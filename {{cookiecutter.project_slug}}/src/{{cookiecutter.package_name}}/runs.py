"""Finding runs, their checkpoints and the config saved with them in `logs/version_N/`."""

from __future__ import annotations

import re
from pathlib import Path

import torch


def run_dirs(logs: Path) -> list[Path]:
    """Run folders under `logs` (any depth, e.g. logs/version_3 or logs/my_exp/version_0), oldest first."""
    runs = [p for p in logs.glob("**/version_*") if re.fullmatch(r"version_\d+", p.name) and p.is_dir()]
    return sorted(runs, key=lambda p: p.stat().st_mtime)


def best_checkpoint(run: Path) -> Path | None:
    """The run's best checkpoint as recorded by ModelCheckpoint in last.ckpt, else last.ckpt itself."""
    last = run / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return None
    state = torch.load(last, map_location="cpu", weights_only=True)
    for key, value in state.get("callbacks", {}).items():
        if key.startswith("ModelCheckpoint") and value.get("best_model_path"):
            best = last.parent / Path(value["best_model_path"]).name
            if best.is_file():
                return best
    return last


def find_checkpoint(ckpt_path: str | None, logs: Path) -> Path:
    """The given checkpoint, or the best checkpoint of the newest run under `logs` that has one."""
    if ckpt_path:
        path = Path(ckpt_path)
        if not path.is_file():
            raise SystemExit(f"error: checkpoint {path} does not exist: pass an existing .ckpt file to --ckpt_path")
        return path
    for run in reversed(run_dirs(logs)):
        if (best := best_checkpoint(run)) is not None:
            return best
    raise SystemExit(f"error: no run with checkpoints under {logs}/: train first (python train.py) or pass --ckpt_path")


def saved_config(ckpt: Path) -> Path:
    """The config.yaml that LightningCLI saved in the run folder of `ckpt` (run/checkpoints/x.ckpt)."""
    config = ckpt.resolve().parent.parent / "config.yaml"
    if not config.is_file():
        raise SystemExit(
            f"error: no config.yaml in {config.parent} beside checkpoint {ckpt}: test.py needs the run folder"
            " layout logs/version_N/{config.yaml,checkpoints/}"
        )
    return config
