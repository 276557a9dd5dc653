"""Evaluate a checkpoint on the test split, rebuilding the model and data from the hyper-parameters it stores.

Usage:
    python evaluate.py                                  # best checkpoint of the newest run in logs/
    python evaluate.py --ckpt_path logs/version_0/checkpoints/last.ckpt
    python evaluate.py --ckpt_path PATH --trainer.accelerator cpu --data.batch_size 512
    python evaluate.py --help
"""

from __future__ import annotations

from {{ cookiecutter.package_name }}.cli import CLI
from {{ cookiecutter.package_name }}.engine.scripts import evaluate, run_script


def main(args: list[str] | None = None) -> dict[str, float]:
    """Test the checkpoint's weights with the model and data its hyper-parameters describe."""
    cli = CLI(args, training=False)
    return evaluate(cli, cli.config.ckpt_path)


if __name__ == "__main__":
    run_script(main)
