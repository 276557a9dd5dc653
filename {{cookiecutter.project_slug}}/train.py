"""Train with configs/default.yaml (and any overrides), then test the best checkpoint.

Usage:
    python train.py
    python train.py --trainer.max_epochs 3 --model.lr 3e-3 --data.batch_size 128
    python train.py --config my_experiment.yaml
    python train.py --help
"""

from __future__ import annotations

import sys
from pathlib import Path

from {{ cookiecutter.package_name }}.cli import ProjectCLI, evaluate, write_metrics
from {{ cookiecutter.package_name }}.loaders import DataError


def main(args: list[str] | None = None) -> dict[str, float]:
    """Fit, test the best checkpoint, save the test metrics in the run folder and return them."""
    cli = ProjectCLI(args)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config.ckpt_path)
    best = cli.trainer.checkpoint_callback.best_model_path if cli.trainer.checkpoint_callback else ""
    metrics = evaluate(cli, best or None)
    if cli.trainer.is_global_zero:
        write_metrics(Path(cli.trainer.log_dir) / "test_metrics.json", metrics, best or None)
    return metrics


if __name__ == "__main__":
    try:
        main()
    except DataError as error:  # missing or unreadable data: the message says what to do, no traceback
        sys.exit(f"error: {error}")
