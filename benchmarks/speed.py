"""Speed of a generated project: its training against a plain PyTorch loop, its data pipeline against
torchvision's per-sample one. Renders the project (default answers: the digits classifier) into a
temporary folder and runs the benchmark there; any further flag goes to the benchmark.

    .venv/bin/python benchmarks/speed.py train                       # digits, the project's defaults
    .venv/bin/python benchmarks/speed.py train --synthetic 60000 --data.batch_size 256 --epochs 2
    .venv/bin/python benchmarks/speed.py train --trainer.accelerator gpu --trainer.compile true
    .venv/bin/python benchmarks/speed.py data --synthetic 60000
    .venv/bin/python benchmarks/speed.py data --answers dataset=cifar10 task=autoencoder

`train` trains with the project's own Trainer, callbacks, logger and checkpoints and, after each epoch,
a copy of the same initial network for one epoch in a plain loop (same batches, augmentation, dropout,
optimizer, schedule and clipping); it fails unless both end every epoch with the same validation loss,
then prints the median seconds per epoch of each and their ratio (benchmarks/in_project/bench_train.py).
`data` prints batches per second of both pipelines (benchmarks/in_project/bench_data.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from project import render, run_module

MODULES = {"train": "bench_train", "data": "bench_data"}


def main(argv: list[str] | None = None) -> int:
    """Render, run the chosen benchmark, and return its exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", choices=list(MODULES))
    parser.add_argument("--answers", nargs="*", default=[], help="cookiecutter answers, as key=value")
    options, rest = parser.parse_known_args(argv)
    answers = dict(answer.split("=", 1) for answer in options.answers)
    with tempfile.TemporaryDirectory() as folder:
        project = render(Path(folder), **answers)
        return run_module(project, MODULES[options.benchmark], rest, cwd=Path(folder)).returncode


if __name__ == "__main__":
    sys.exit(main())
