"""Render a project from this template for a benchmark, and run a benchmark module inside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
IN_PROJECT = Path(__file__).resolve().parent / "in_project"


def render(output: Path, **answers: str) -> Path:
    """The project these answers render (the rest at their defaults), in `output`."""
    return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output)))


def package_of(project: Path) -> str:
    """The import name of a rendered project's package."""
    (package,) = [path.parent.name for path in (project / "src").glob("*/cli.py")]
    return package


def run_module(project: Path, module: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Copy benchmarks/in_project/<module>.py into the project's package and run it there as
    `python -m <package>.<module> ARGS`, in `cwd`, printing its output as it comes."""
    package = package_of(project)
    shutil.copy(IN_PROJECT / f"{module}.py", project / "src" / package / f"{module}.py")
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return subprocess.run([sys.executable, "-m", f"{package}.{module}", *args], cwd=cwd, env=env, check=False)
