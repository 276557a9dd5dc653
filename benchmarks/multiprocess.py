"""Wall time of a generated project's `python train.py` on one process against two (DDP on CPUs, gloo).

Renders one project per task (on its default data: the digits, or the generated signal) into a temporary
folder and times, start to finish, a fit and its test with one process and with two, each run once:

    .venv/bin/python benchmarks/multiprocess.py                     # every task, 5 epochs
    .venv/bin/python benchmarks/multiprocess.py --tasks gan --epochs 10

On CPUs two processes share the machine's cores, so this measures the cost of the second process
(start-up, gradient all-reduce, per-step collectives), not a speed-up; on GPUs each process has its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from project import render

TASKS = json.loads((Path(__file__).resolve().parents[1] / "cookiecutter.json").read_text())["task"]
DDP = ["--trainer.devices=2", "--trainer.strategy=ddp"]
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--trainer.accelerator=cpu"]


def timed_fit(project: Path, folder: Path, flags: list[str]) -> tuple[float, dict[str, float]]:
    """Seconds of `python train.py FLAGS` in `folder`, and the test metrics it wrote."""
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(project / "train.py"), *flags], cwd=folder, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"error: train.py {' '.join(flags)} failed:\n{result.stderr[-3000:]}")
    metrics = json.loads(next(folder.glob("logs/*/test_metrics.json")).read_text())["metrics"]
    return seconds, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--epochs", type=int, default=5)
    options = parser.parse_args()
    print("| task | 1 process | 2 processes (DDP, gloo) | ratio | test metrics, 1 process / 2 processes |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as temporary:
        for task in options.tasks:
            output = Path(temporary) / task
            project = render(output, task=task)  # the dataset and optimizer count follow the task
            flags = [*QUIET, f"--trainer.max_epochs={options.epochs}"]
            one, one_metrics = timed_fit(project, output / "one", flags)
            two, two_metrics = timed_fit(project, output / "two", [*flags, *DDP])
            shown = "; ".join(f"{name} {one_metrics[name]:.4f} / {two_metrics[name]:.4f}" for name in one_metrics)
            print(f"| {task} | {one:.1f} s | {two:.1f} s | {two / one:.2f} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
