"""Runs in `logs/version_N/` (or `logs/slurm-<job>/` for a SLURM job): their checkpoints, the best and
the latest one, and their saved config.

Usage:
    python -m {{ cookiecutter.package_name }}.engine.runs  # every run, its epochs and best checkpoint
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_info

from .checkpoints import UnreadableCheckpointError, UnsafeCheckpointError, load_if_valid
from .sharding import is_sharded

# The names of run folders: numbered in order, or named for the SLURM job that owns them.
RUN_NAME = re.compile(r"version_\d+|slurm-[0-9_]+")


def run_dirs(logs: Path) -> list[Path]:
    """Run folders under `logs` (any depth, e.g. logs/version_3 or logs/my_exp/version_0), oldest first."""
    runs = [p for p in logs.glob("**/*") if RUN_NAME.fullmatch(p.name) and p.is_dir()]
    return sorted(runs, key=lambda p: p.stat().st_mtime)


# The run folders this process created, for discard_unfinished_runs.
CLAIMED: list[Path] = []


def claim_run_dir(root: Path) -> Path:
    """Create and return `root/version_N`, N one past the highest there. The folder is created exclusively:
    of runs started at the same moment, each gets a folder of its own."""
    root.mkdir(parents=True, exist_ok=True)
    while True:
        versions = [int(m[1]) for p in root.iterdir() if (m := re.fullmatch(r"version_(\d+)", p.name))]
        run = root / f"version_{max(versions, default=-1) + 1}"
        try:
            run.mkdir()
        except FileExistsError:
            continue  # another run took it first
        CLAIMED.append(run)
        return run


def run_dir(trainer: Any) -> Path:
    """The run folder, on every process: the first process's, broadcast (a collective under several
    processes: call it on all of them)."""
    return Path(trainer.strategy.broadcast(str(trainer.default_root_dir)))


def has_checkpoint(run: Path) -> bool:
    """Whether a run folder holds any checkpoint (a file, or a sharded checkpoint folder)."""
    return any(path.is_file() or is_sharded(path) for path in run.glob("**/*.ckpt"))


def discard_unfinished_runs(since: int = 0) -> list[Path]:
    """Remove the run folders this process created (from the `since`-th on) that hold no checkpoint: a run
    that failed before its first one leaves nothing that looks like a run. The folders removed."""
    removed = [run for run in CLAIMED[since:] if run.is_dir() and not has_checkpoint(run)]
    for run in removed:
        shutil.rmtree(run, ignore_errors=True)
        with contextlib.suppress(OSError):
            run.parent.rmdir()  # the logs folder too, if the run was all it held
    del CLAIMED[since:]
    return removed


def is_run_under(run: Path, logs: Path) -> bool:
    """Whether `run` is a run folder (version_N, slurm-<job>) inside `logs`: a run of this project."""
    run = run.resolve()
    return run.is_relative_to(logs.resolve()) and bool(RUN_NAME.fullmatch(run.name))


def prune_stale_checkpoints(run: Path, resumed: Path, checkpoint: dict) -> list[Path]:
    """Delete the checkpoints in `run/checkpoints` that no ModelCheckpoint of the `checkpoint` resumed
    from (`resumed`) keeps track of: files left by a run killed between saving a checkpoint and deleting
    the one it replaced, which no later save would delete, and an older interrupted.ckpt; and
    half-written `.partial` files. The files deleted."""
    kept = {"last.ckpt", resumed.name}
    for name, state in checkpoint.get("callbacks", {}).items():
        if name.startswith("ModelCheckpoint"):
            paths = [*state.get("best_k_models", {}), state.get("best_model_path"), state.get("last_model_path")]
            kept |= {Path(path).name for path in paths if path}
    folder = run / "checkpoints"
    stale = [path for path in folder.glob("*.ckpt") if path.is_file() and path.name not in kept]
    stale += list(folder.glob(".*.partial"))
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        rank_zero_info(f"removed {len(stale)} checkpoint(s) an interrupted save left behind in {folder}")
    return stale


def checkpoint_state(checkpoint: dict, key: str) -> dict | None:
    """The saved state of the callback whose state key starts with `key` (e.g. "ModelCheckpoint"), if any."""
    for name, state in checkpoint.get("callbacks", {}).items():
        if name.startswith(key):
            return state
    return None


def best_checkpoint(run: Path) -> Path | None:
    """The run's best checkpoint as recorded by ModelCheckpoint (in its latest valid checkpoint), else
    that latest checkpoint itself."""
    if (found := latest_valid(run)) is None:
        return None
    latest, checkpoint = found
    state = checkpoint_state(checkpoint, "ModelCheckpoint") or {}
    if state.get("best_model_path"):
        best = run / "checkpoints" / Path(state["best_model_path"]).name
        if best.is_file() or is_sharded(best):
            return best
    return latest


def latest_valid(run: Path) -> tuple[Path, dict] | None:
    """The run's most recently written checkpoint that loads (last.ckpt among equals), and its content;
    the checkpoint a SLURM requeue wrote (hpc_ckpt_N.ckpt) competes too. Truncated or corrupt files are
    skipped with a warning. Each file is read once; of a sharded checkpoint, only its metadata."""
    found = [p for p in (*(run / "checkpoints").glob("*.ckpt"), *run.glob("hpc_ckpt_*.ckpt")) if p.exists()]
    candidates = sorted(found, key=lambda p: (p.stat().st_mtime, p.name == "last.ckpt"))
    for path in reversed(candidates):
        if (checkpoint := load_if_valid(path)) is not None:
            return path, checkpoint
    return None


def find_run(resume: str, logs: Path) -> Path:
    """The run to resume: "auto" is the newest run under `logs` with a checkpoint; otherwise a run folder."""
    if resume != "auto":
        run = Path(resume)
        if not (run / "checkpoints").is_dir():
            raise SystemExit(f"error: --resume {resume}: not a run folder with checkpoints/ (e.g. logs/version_0)")
        return run
    for run in reversed(run_dirs(logs)):
        if (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("*.ckpt")):
            return run
    raise SystemExit(f"error: --resume auto: no run with checkpoints under {logs}/ to resume; train first")


def find_checkpoint(ckpt_path: str | None, logs: Path) -> Path:
    """The given checkpoint, or the best checkpoint of the newest run under `logs` that has one."""
    if ckpt_path:
        path = Path(ckpt_path)
        if not path.exists():  # a folder that is no sharded checkpoint: load_checkpoint says so
            raise SystemExit(f"error: checkpoint {path} does not exist: pass an existing .ckpt file to --ckpt_path")
        return path
    for run in reversed(run_dirs(logs)):
        if (best := best_checkpoint(run)) is not None:
            return best
    raise SystemExit(f"error: no run with checkpoints under {logs}/: train first (python train.py) or pass --ckpt_path")


def run_of(ckpt: Path) -> Path:
    """The run folder a checkpoint belongs to: run/checkpoints/x.ckpt, or run/hpc_ckpt_N.ckpt."""
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent


def saved_config(ckpt: Path) -> Path | None:
    """The config.yaml that LightningCLI saved in the run folder of `ckpt`, if any."""
    config = run_of(ckpt) / "config.yaml"
    return config if config.is_file() else None


def describe(run: Path) -> str:
    """One line about a run: its latest epoch and its best checkpoint with the monitored value."""
    if (found := latest_valid(run)) is None:
        return f"{run}: no valid checkpoint"
    latest, checkpoint = found
    epoch = checkpoint.get("epoch")
    state = checkpoint_state(checkpoint, "ModelCheckpoint") or {}
    best, score = state.get("best_model_path"), state.get("best_model_score")
    best = run / "checkpoints" / Path(best).name if best else latest  # where it is now, as the run is named
    value = f" {state.get('monitor')}={float(score):.4f}" if score is not None else ""
    return f"{run}: {epoch + 1 if epoch is not None else '?'} epochs, best {best}{value}"


def main(args: list[str] | None = None) -> None:
    """Print every run under the logs folder, oldest first."""
    parser = argparse.ArgumentParser(description="List the runs and their best checkpoints.")
    parser.add_argument("--logs", default="logs", help="the folder that holds the runs")
    logs = Path(parser.parse_args(args).logs)
    for run in run_dirs(logs):
        try:
            print(describe(run))
        except (UnsafeCheckpointError, UnreadableCheckpointError) as error:
            print(f"{run}: {error}")


if __name__ == "__main__":
    main()
