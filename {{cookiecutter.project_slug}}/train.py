"""Train with configs/default.yaml (and any overrides), then test the best checkpoint.

Usage:
    python train.py
    python train.py --trainer.max_epochs 3 --data.batch_size 128
    python train.py --model.optimizer SGD --model.optimizer.lr 0.1 --model.optimizer.momentum 0.9
    python train.py --config my_experiment.yaml
    python train.py --resume auto                 # go on with the newest run, from its latest valid checkpoint
    python train.py --resume logs/version_2 --trainer.max_epochs 60
    python train.py --ckpt_path logs/version_2/checkpoints/last.ckpt
    python train.py --tune lr                     # find the learning rate first (--tune batch_size: the batch size)
    python train.py --help
"""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from {{ cookiecutter.package_name }}.cli import CLI
from {{ cookiecutter.package_name }}.engine.distributed import Requeued
from {{ cookiecutter.package_name }}.engine.runs import run_dir
from {{ cookiecutter.package_name }}.engine.scripts import (
    evaluate,
    evaluate_on_one_device,
    finish_on_first_process,
    load_weights,
    run_script,
    tune,
    write_metrics,
)
from {{ cookiecutter.package_name }}.engine.trackers import finish, record


def main(args: list[str] | None = None) -> dict[str, float]:
    """Fit (or resume), test the best checkpoint, save the test metrics in the run folder and return them.
{% if cookiecutter.__manual_optimization != "yes" %}
    With stochastic weight averaging (`--swa.enabled true`) the averaged weights the run ends with are
    tested instead, saved as averaged.ckpt.
{%- endif %}
    On several processes every process trains; then the first alone tests on one device and writes
    the results. The others return no metrics.
    """
    cli = CLI(args)
    trainer = cli.trainer
    if cli.config.tune:
        tune(cli, cli.config.tune)
    try:
        trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config.ckpt_path, weights_only=True)
    except Requeued as requeued:
        rank_zero_info(str(requeued))
        return {}
    run = run_dir(trainer)  # on every process: under several, a broadcast from the first
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if cli.averages_weights:
        best = str(run / "averaged.ckpt")  # the averaged weights, which no checkpoint holds
        trainer.save_checkpoint(best, weights_only=False)  # on every process, as Lightning saves
    elif not best:
        rank_zero_warn("no checkpoint was saved: testing the weights the run ended with")
    several = trainer.world_size > 1
    if several and not best:
        best = str(run / "final.ckpt")
        trainer.save_checkpoint(best, weights_only=False)  # on every process, as Lightning saves
    if not finish_on_first_process(trainer):
        return {}
    if several:
        metrics = evaluate_on_one_device(cli, Path(best))
    else:
        if best and not cli.averages_weights:
            load_weights(cli.model, best)
        metrics = evaluate(cli, best or "final weights")
    write_metrics(run / "test_metrics.json", metrics, best or None)
    if best:
        record(trainer, "best_checkpoint", str(Path(best).resolve()))
    finish(trainer)
    return metrics


if __name__ == "__main__":
    run_script(main)
