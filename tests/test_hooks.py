"""Bad answers are refused by the pre-generation hook: one line naming the value, no directory left."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from combos import CHOICES, DATASETS, HOOK, TASKS, TEMPLATE
from conftest import assert_ruff_clean
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

# answers -> the line the hook must print
REFUSED = {
    "package-digit": ({"package_name": "1digits"}, "package_name '1digits' is not a valid Python identifier"),
    "package-dash": ({"package_name": "my-pkg"}, "package_name 'my-pkg' is not a valid Python identifier"),
    "package-keyword": ({"package_name": "class"}, "package_name 'class' is a Python keyword"),
    "package-shadows-torch": ({"package_name": "torch"}, "package_name 'torch' would shadow"),
    "package-shadows-stdlib": ({"package_name": "json"}, "package_name 'json' would shadow"),
    "package-is-a-script": (
        {"package_name": "evaluate"},
        "package_name 'evaluate' is the name of one of the project's scripts",
    ),
    "package-is-test": ({"package_name": "test"}, "package_name 'test' is the name of one of the project's scripts"),
    "package-is-a-test-module": ({"package_name": "processes"}, "package_name 'processes' would shadow"),
    "slug-space": (
        {"project_slug": "my project", "package_name": "ok"},
        "project_slug 'my project' is not a valid slug",
    ),
    "slug-upper": ({"project_slug": "MyProject", "package_name": "ok"}, "project_slug 'MyProject' is not a valid slug"),
    "email-no-at": ({"email": "me.example.org"}, "email 'me.example.org' is not an email address"),
    "name-empty": ({"project_name": " ", "project_slug": "x", "package_name": "x"}, "project_name is empty"),
    "gan-one-optimizer": ({"task": "gan", "optimizers": "1"}, "optimizers '1' does not fit task 'gan'"),
    "three-optimizers": ({"optimizers": "3"}, "optimizers '3' does not fit task 'classification'; answer '1' or '2'"),
    "unknown-dataset": ({"dataset": "mnsit"}, "dataset 'mnsit' does not fit task 'classification': answer one of"),
    "sequence-on-images": ({"task": "sequence", "dataset": "digits"}, "dataset 'digits' does not fit task 'sequence'"),
    "images-on-signal": (
        {"task": "autoencoder", "dataset": "signal"},
        "dataset 'signal' does not fit task 'autoencoder'",
    ),
}


@pytest.mark.parametrize(("answers", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_bad_answer_is_refused_and_nothing_is_left(
    tmp_path: Path, capfd: pytest.CaptureFixture, answers: dict[str, str], message: str
) -> None:
    with pytest.raises(FailedHookException):
        cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(tmp_path))
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and message in errors[0], errors
    assert list(tmp_path.iterdir()) == []


def test_every_problem_gets_its_own_line(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    answers = {"project_slug": "Bad Slug", "package_name": "def", "email": "nope"}
    with pytest.raises(FailedHookException):
        cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(tmp_path))
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert [line.split()[1] for line in errors] == ["project_slug", "package_name", "email"]


def test_command_line_exits_non_zero_and_leaves_no_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path), str(TEMPLATE), "package_name=class"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "ERROR: package_name 'class' is a Python keyword" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_good_answers_pass_the_hook(tmp_path: Path) -> None:
    answers = {"project_name": "My Net", "package_name": "my_net2", "email": "a@b.io"}
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(tmp_path)))
    assert project.name == "my-net"
    assert (project / "src" / "my_net2" / "model.py").is_file()


@pytest.mark.parametrize("task", CHOICES["task"])
def test_every_task_renders_with_its_other_answers_left_at_their_defaults(tmp_path: Path, task: str) -> None:
    """The dataset and optimizers defaults follow the task: nothing else needs answering."""
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context={"task": task}, output_dir=str(tmp_path)))
    package = project / "src" / "digits_classifier"
    dataset = TASKS[task]["datasets"][0]
    assert f"class {DATASETS[dataset]['datamodule_class']}(" in (package / "data.py").read_text()
    assert f"class {TASKS[task]['model_class']}(" in (package / "model.py").read_text()


def test_pressing_enter_after_choosing_the_task_renders_it(tmp_path: Path) -> None:
    """In a terminal: pick the GAN (choice 3) and press Enter at every other question."""
    questions = [key for key in json.loads((TEMPLATE / "cookiecutter.json").read_text()) if not key.startswith("_")]
    keys = "".join("3\n" if question == "task" else "\n" for question in questions)
    command = [sys.executable, "-m", "cookiecutter", "-o", str(tmp_path), str(TEMPLATE)]
    result = subprocess.run(command, input=keys, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    model = (tmp_path / "digits-classifier" / "src" / "digits_classifier" / "model.py").read_text()
    assert "class GAN(" in model and "(2)" in result.stdout  # the optimizers question offered 2


def test_next_steps_name_the_folder_from_where_the_user_stands(tmp_path: Path) -> None:
    def run(cwd: Path, output: str, *answers: str) -> str:
        command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", output, str(TEMPLATE), *answers]
        result = subprocess.run(command, cwd=cwd, env={**os.environ, "PWD": str(cwd)}, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    (tmp_path / "here").mkdir()
    below = run(tmp_path / "here", "projects")
    assert "cd projects/digits-classifier\n" in below and "make train       # python train.py" in below
    beside = run(tmp_path / "here", "../elsewhere", "dataset=mnist")
    assert f"cd {tmp_path / 'elsewhere' / 'digits-classifier'}\n" in beside
    assert "downloads MNIST once (needs network)" in beside


# Pieces of the names a user may type: spaces, punctuation, quotes, braces, unicode, emoji, long words.
# (Jinja itself, "{{ x }}", is rendered by cookiecutter before any hook runs.)
NAME_PIECES = (
    *("Digits", "net", "Ünïcode", "日本", "🚀", "x" * 30, "Model 2", "v2"),
    *(" ", "-", "_", "!", "'", '"', "/", ".", "{x}", "%", "\t", "0"),
)


def random_names(count: int, seed: int = 12) -> list[str]:
    """`count` project names of 1 to 6 random pieces: reproducible from `seed`."""
    rng = random.Random(seed)
    return ["".join(rng.choices(NAME_PIECES, k=rng.randint(1, 6))) for _ in range(count)]


def test_any_project_name_renders_a_clean_project_or_is_refused_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    longest = "n" * HOOK.MAX_PACKAGE_LENGTH
    names = [*random_names(24), longest, longest + "n", "My Net", "net_2 model"]
    rendered, refused = [], []
    for index, name in enumerate(names):
        output = tmp_path / str(index)
        try:
            project = cookiecutter(
                str(TEMPLATE), no_input=True, extra_context={"project_name": name}, output_dir=str(output)
            )
        except FailedHookException:
            errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
            assert errors and all(line.split()[1] in ("project_slug", "package_name") for line in errors), (
                name,
                errors,
            )
            assert not output.exists() or list(output.iterdir()) == [], name
            refused.append(name)
            continue
        rendered.append(Path(project))
    assert longest in [p.name for p in rendered] and longest + "n" in refused
    assert len(rendered) >= 10 and len(refused) >= 2  # both kinds occur among the random names
    assert_ruff_clean(*rendered)
    packages = {str(project / "src"): project.name.replace("-", "_") for project in rendered}
    script = (
        "import importlib, sys\n"
        "for src, package in {!r}.items():\n"
        "    sys.path.insert(0, src)\n"
        "    importlib.import_module(package + '.cli')\n"
    )
    result = subprocess.run([sys.executable, "-c", script.format(packages)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
