"""Train with configs/default.yaml (and any overrides), then test the best checkpoint.

Usage:
    python train.py
    python train.py --trainer.max_epochs 3 --model.lr 3e-3 --data.batch_size 128
    python train.py --config my_experiment.yaml
    python train.py --resume auto                 # go on with the newest run, from its latest valid checkpoint
    python train.py --resume logs/version_2 --trainer.max_epochs 60
    python train.py --ckpt_path logs/version_2/checkpoints/last.ckpt
    python train.py --tune lr                     # find the learning rate first (--tune batch_size: the batch size)
    python train.py --help
"""

from __future__ import annotations

import sys
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_warn

from {{ cookiecutter.package_name }}.cli import ProjectCLI
from {{ cookiecutter.package_name }}.scripts import (
    evaluate,
    load_weights,
    resume_arguments,
    run_script,
    tune,
    write_metrics,
)


def main(args: list[str] | None = None) -> dict[str, float]:
    """Fit (or resume), test the best checkpoint, save the test metrics in the run folder and return them."""
    cli = ProjectCLI(resume_arguments(sys.argv[1:] if args is None else args))
    if cli.config.tune:
        tune(cli, cli.config.tune)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config.ckpt_path, weights_only=True)
    best = cli.trainer.checkpoint_callback.best_model_path if cli.trainer.checkpoint_callback else ""
    if best:
        load_weights(cli.model, best)
    else:
        rank_zero_warn("no checkpoint was saved: testing the weights the run ended with")
    metrics = evaluate(cli, best or "final weights")
    if cli.trainer.is_global_zero:
        write_metrics(Path(cli.trainer.log_dir) / "test_metrics.json", metrics, best or None)
    return metrics


if __name__ == "__main__":
    run_script(main)
