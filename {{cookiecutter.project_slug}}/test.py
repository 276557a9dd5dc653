"""Evaluate a checkpoint on the test split, with the config saved in its run folder.

Usage:
    python test.py                                  # best checkpoint of the newest run in logs/
    python test.py --ckpt_path logs/version_0/checkpoints/last.ckpt
    python test.py --ckpt_path PATH --trainer.accelerator cpu --data.batch_size 512
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from {{ cookiecutter.package_name }}.cli import ProjectCLI, evaluate
from {{ cookiecutter.package_name }}.loaders import DataError
from {{ cookiecutter.package_name }}.runs import find_checkpoint, saved_config


def main(args: list[str] | None = None) -> dict[str, float]:
    """Rebuild the run's model and data from its saved config and test the checkpoint's weights."""
    args = sys.argv[1:] if args is None else args
    if {"-h", "--help"} & set(args):
        print(__doc__)
        ProjectCLI(["--help"])
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--ckpt_path")
    pre.add_argument("--logs", default="logs")
    known, rest = pre.parse_known_args(args)
    ckpt = find_checkpoint(known.ckpt_path, Path(known.logs))
    config = saved_config(ckpt)
    cli = ProjectCLI(
        ["--config", str(config), *rest, "--trainer.logger=false", "--ckpt_path", str(ckpt)],
        training=False,
        save_config_callback=None,
    )
    return evaluate(cli, str(ckpt))


if __name__ == "__main__":
    try:
        main()
    except DataError as error:  # missing or unreadable data: the message says what to do, no traceback
        sys.exit(f"error: {error}")
