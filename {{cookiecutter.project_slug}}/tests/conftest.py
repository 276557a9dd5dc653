"""Shared helpers: load the scripts and run them in a temporary folder, so runs never land in logs/."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Flags that keep test output short; they change nothing that is asserted.
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def load_script(name: str) -> ModuleType:
    """Import train.py or test.py from the project root as a module."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory for the run's logs/."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
