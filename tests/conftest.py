"""Baking helpers shared by the template's tests."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
from combos import TEMPLATE


@pytest.fixture(scope="session", autouse=True)
def reuse_compiled_templates() -> None:
    """Cookiecutter builds a new Jinja environment for every project and compiles every file again;
    thousands of renders spend most of their time there. Compiling a given source once is enough:
    the output is the same, twice as fast."""
    compile_source = jinja2.Environment.compile

    @functools.wraps(compile_source)
    def compile_once(self, source, name=None, filename=None, raw=False, defer_init=False):  # noqa: ANN001
        key = (source, name, filename, raw, defer_init)
        if key not in compiled:
            compiled[key] = compile_source(self, source, name, filename, raw, defer_init)
        return compiled[key]

    compiled: dict = {}
    jinja2.Environment.compile = compile_once
    yield
    jinja2.Environment.compile = compile_source


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


# Rough seconds each kind of test takes on 2 CPU cores (the rest: about 1 s), to start the long ones first.
COST = {
    "test_default_project_passes_its_quick_tests": 300,
    "test_generated_project_runs_on_two_processes": 200,
    "test_generated_project_passes_its_slow_tests": 150,
    "test_default_project_passes_its_longest_tests": 400,
    "test_default_project_beats_svc_on_digits": 100,
    "test_generated_variant_passes_its_model_data_and_script_tests": 60,
    "test_the_trainer_and_the_plain_loop_train_the_same_and_are_timed": 30,
    "test_every_import_of_a_generated_project_is_a_declared_dependency": 30,
    "test_short_fit_checkpoints_and_logs_finite_metrics": 25,
    "test_any_project_name_renders_a_clean_project_or_is_refused_in_one_line": 25,
    "test_the_combinations_that_shape_the_code_render_clean_projects": 15,
}


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the tests for pytest-xdist's work stealing: each worker receives a contiguous share of the
    list and idle workers steal from the end of the others' shares. Dealing the tests, longest first, in
    turn to each share starts every worker on long tests and leaves short ones to be stolen at the end."""
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    ranked = sorted(items, key=lambda item: -COST.get(item.originalname, 1))
    shares = [ranked[index::workers] for index in range(workers)]
    items[:] = [item for share in shares for item in share]
