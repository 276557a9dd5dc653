"""Evaluate a checkpoint on the test split, rebuilding the model and data from the hyper-parameters it stores.

Usage:
    python test.py                                  # best checkpoint of the newest run in logs/
    python test.py --ckpt_path logs/version_0/checkpoints/last.ckpt
    python test.py --ckpt_path PATH --trainer.accelerator cpu --data.batch_size 512
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from {{ cookiecutter.package_name }}.cli import ProjectCLI
from {{ cookiecutter.package_name }}.runs import find_checkpoint
from {{ cookiecutter.package_name }}.scripts import cli_from_checkpoint, evaluate, run_script


def main(args: list[str] | None = None) -> dict[str, float]:
    """Test the checkpoint's weights with the model and data its hyper-parameters describe."""
    args = sys.argv[1:] if args is None else args
    if {"-h", "--help"} & set(args):
        print(__doc__)
        ProjectCLI(["--help"])
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--ckpt_path")
    pre.add_argument("--logs", default="logs")
    known, rest = pre.parse_known_args(args)
    ckpt = find_checkpoint(known.ckpt_path, Path(known.logs))
    return evaluate(cli_from_checkpoint(ckpt, rest), str(ckpt))


if __name__ == "__main__":
    run_script(main)
