"""Baking helpers shared by the template's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from combos import TEMPLATE


@pytest.fixture(scope="session", autouse=True)
def template_dir(pytestconfig: pytest.Config) -> Path:
    """pytest-cookies bakes the template given by --template; this repository by default."""
    pytestconfig.option.template = str(TEMPLATE)
    return TEMPLATE


def bake(cookies, **answers: str) -> Path:
    """Render the template with these answers; fail the test with the hook's message if refused."""
    result = cookies.bake(extra_context=answers)
    assert result.exit_code == 0, f"{answers} was refused: {result.exception}"
    return Path(result.project_path)


def run_in_project(project: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `python ARGS` in a generated project with this interpreter, its package on the path."""
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )


def assert_ruff_clean(*projects: Path) -> None:
    """`ruff check` and `ruff format --check` pass, each project with its own pyproject settings."""
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", *map(str, projects)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
