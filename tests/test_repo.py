"""The template repository keeps its promises: README covers every question, CI runs the README's
test command, and the development requirements cover what generated projects need."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
from combos import CHOICES, CONTEXT, DATASETS, TEMPLATE, all_combinations, covering_set, render_set
from conftest import bake

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

README = (TEMPLATE / "README.md").read_text()
QUESTIONS = [key for key in CONTEXT if not key.startswith("_")]


@pytest.mark.parametrize("question", QUESTIONS)
def test_readme_explains_every_question_and_choice(question: str) -> None:
    assert f"`{question}`" in README
    for choice in CHOICES.get(question, CONTEXT[question] if isinstance(CONTEXT[question], list) else []):
        assert f"`{choice}`" in README, f"README does not mention {question} choice {choice!r}"


def test_every_choice_has_a_human_label() -> None:
    prompts = CONTEXT["__prompts__"]
    for question in QUESTIONS:
        assert question in prompts, question
        if isinstance(CONTEXT[question], list):
            assert set(CONTEXT[question]) <= set(prompts[question]) - {"__prompt__"}, question
        elif question in CHOICES:  # a text question whose default follows the task: its prompt names every answer
            assert all(re.search(rf"\b{choice}\b", prompts[question]) for choice in CHOICES[question]), question


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in README and "make demo" in README
    assert re.search(r"^make test$", (TEMPLATE / ".ci" / "run").read_text(), re.MULTILINE)


def test_readme_counts_the_combinations_the_tests_use() -> None:
    assert f"the {len(render_set())} combinations of answers that shape the code" in README
    assert f"a covering set of {len(covering_set())} combinations" in README
    assert f"every one of the {len(all_combinations()):,} combinations" in README


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=;! ]", line.strip(), maxsplit=1)[0].lower() for line in requirements}


def test_dev_requirements_cover_generated_dependencies(cookies) -> None:
    lines = (TEMPLATE / "requirements-dev.txt").read_text().splitlines()
    dev = requirement_names([line for line in lines if line.strip() and not line.startswith("#")])
    loggers = {answers["logger"]: answers for answers in all_combinations()}
    for answers in loggers.values():
        project = tomllib.loads((bake(cookies, **answers) / "pyproject.toml").read_text())["project"]
        needed = requirement_names(project["dependencies"] + project["optional-dependencies"]["dev"])
        assert needed <= dev, f"requirements-dev.txt lacks {needed - dev} for {answers}"


def imported_distributions(project: Path, package: str) -> set[frozenset[str]]:
    """For each module the project's Python files import, the installed distributions that provide it
    (lower-case names; mlflow's modules come with mlflow, mlflow-skinny and mlflow-tracing)."""
    modules = set()
    for path in project.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    local = {package, "conftest", "fake_data", "processes"} | set(sys.stdlib_module_names)
    owners = importlib.metadata.packages_distributions()
    missing = modules - local - set(owners)
    assert not missing, f"{project.name} imports modules no installed distribution provides: {missing}"
    return {frozenset(name.lower() for name in owners[module]) for module in modules - local}


def test_every_import_of_a_generated_project_is_a_declared_dependency(cookies) -> None:
    # Every task, dataset and optimizer count (the code they render), and every logger (its dependency).
    variants = {(a["task"], a["dataset"], a["optimizers"]): a for a in all_combinations() if a["logger"] == "none"}
    loggers = {a["logger"]: a for a in all_combinations() if a["task"] == "classification"}
    for answers in [*variants.values(), *loggers.values()]:
        project = bake(cookies, **answers)
        meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
        # The trackers a project was not made with are extras: imported only when that logger is chosen.
        declared = requirement_names([*meta["dependencies"], *sum(meta["optional-dependencies"].values(), [])])
        undeclared = [
            owners for owners in imported_distributions(project, "digits_classifier") if not owners & declared
        ]
        assert not undeclared, f"{answers}: pyproject.toml does not declare {undeclared}"


JINJA = re.compile(r"\{[{%].*?[}%]\}", re.DOTALL)


def files_naming(names: list[str]) -> dict[str, set[str]]:
    """Template files (relative paths) whose Jinja names any of `names` in quotes, with the names."""
    alternatives = "|".join(map(re.escape, names))
    quoted = re.compile(rf"""["']({alternatives})["']""")
    found = {}
    for path in [*(TEMPLATE / "{{cookiecutter.project_slug}}").rglob("*"), *(TEMPLATE / "templates").rglob("*")]:
        if path.is_file() and not {"__pycache__", ".ruff_cache"} & set(path.parts):
            jinja = " ".join(JINJA.findall(path.read_text()))
            if named := set(quoted.findall(jinja)):
                found[str(path.relative_to(TEMPLATE))] = named
    return found


def test_no_file_names_a_torchvision_dataset() -> None:
    """A new torchvision dataset is a row of cookiecutter.json's table (CONTRIBUTING: 2 files)."""
    torchvision = [name for name, row in DATASETS.items() if row["partial"] == "torchvision"]
    assert files_naming(torchvision) == {}


def test_contributing_lists_the_files_that_name_every_task() -> None:
    """The generated files with a case for every task are among those CONTRIBUTING says a new task touches."""
    contributing = (TEMPLATE / "CONTRIBUTING.md").read_text()
    section = contributing.split("## Adding a task", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\d+\. `([^`]+)`", section, re.MULTILINE))
    every_task = {path for path, named in files_naming(CHOICES["task"]).items() if named == set(CHOICES["task"])}
    assert every_task and every_task <= listed, every_task - listed
    assert f"touches **{len(listed)} existing files**" in section


@pytest.mark.parametrize("table", ["_tasks", "_datasets"])
def test_contributing_explains_every_key_of_the_table(table: str) -> None:
    """Every key a row of cookiecutter.json's table may hold has its line in CONTRIBUTING's table."""
    section = (TEMPLATE / "CONTRIBUTING.md").read_text().split(f"| `{table}.", 1)[1].split("\n\n", 1)[0]
    explained = {key for line in section.splitlines() for key in re.findall(r"`([a-z_]+)`", line.split(" | ")[0])}
    keys = {key for row in CONTEXT[table].values() for key in row}
    assert keys <= explained, sorted(keys - explained)
