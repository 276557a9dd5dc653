"""Refuse answers that would render a broken project: one line per problem, exit 1, nothing left behind."""

import json
import keyword
import re
import sys

# Import names the generated project needs: a package with one of these names would shadow it, or be
# shadowed by a script or test module of the project (the scripts' folder comes first on sys.path).
TAKEN_NAMES = {
    *("lightning", "torch", "torchvision", "torchmetrics", "jsonargparse", "sklearn", "numpy", "rich"),
    *("tensorboard", "PIL", "yaml", "onnx", "onnxruntime", "packaging", "optuna", "optuna_integration"),
    *("wandb", "mlflow", "sqlalchemy"),
    *("tests", "conftest", "fake_data", "processes"),
}
# The project's scripts and the names scripts may take as it grows: `python train.py` would import the
# script instead of a package of the same name.
SCRIPT_NAMES = {"train", "evaluate", "predict", "export", "sweep", "test", "tune", "benchmark"}
# Longer import names would push the generated code's import lines past its line length.
MAX_PACKAGE_LENGTH = 40
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9_-]*")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def check_project_name(name: str) -> list[str]:
    """The human-readable name only needs to be non-empty."""
    if not name.strip():
        return ["project_name is empty: give the project a name, e.g. 'Digits Classifier'"]
    return []


def check_slug(slug: str) -> list[str]:
    """The folder and distribution name: lowercase letters, digits, '-' and '_'."""
    if not SLUG_PATTERN.fullmatch(slug):
        return [
            f"project_slug {slug!r} is not a valid slug: use lowercase letters, digits, '-' and '_',"
            " starting with a letter (e.g. 'digits-classifier')"
        ]
    return []


def check_package(name: str) -> list[str]:
    """The import name: a Python identifier that is not a keyword and shadows nothing the project imports."""
    if not (name.isidentifier() and name.isascii()):
        return [
            f"package_name {name!r} is not a valid Python identifier: use ASCII letters, digits and '_',"
            " not starting with a digit (e.g. 'digits_classifier')"
        ]
    if len(name) > MAX_PACKAGE_LENGTH:
        return [
            f"package_name {name!r} has {len(name)} characters: use at most {MAX_PACKAGE_LENGTH}"
            f" (e.g. {name[:MAX_PACKAGE_LENGTH].rstrip('_')!r})"
        ]
    if keyword.iskeyword(name):
        return [f"package_name {name!r} is a Python keyword: pick another name (e.g. '{name}_model')"]
    if name in SCRIPT_NAMES:
        return [
            f"package_name {name!r} is the name of one of the project's scripts ({', '.join(sorted(SCRIPT_NAMES))}),"
            f" which would be imported instead of the package: pick another name (e.g. '{name}_project')"
        ]
    if name in TAKEN_NAMES or name in sys.stdlib_module_names:
        return [
            f"package_name {name!r} would shadow the module of the same name that the project imports:"
            f" pick another name (e.g. '{name}_project')"
        ]
    return []


def check_email(email: str) -> list[str]:
    """The email is optional; when given it must look like one."""
    if email and not EMAIL_PATTERN.fullmatch(email):
        return [f"email {email!r} is not an email address: use name@example.org, or leave it empty"]
    return []


def check_combination(answers: dict[str, str], tasks: dict[str, dict]) -> list[str]:
    """Machine-learning answers that cannot work together: `tasks` is cookiecutter.json's `_tasks` table,
    which names the datasets and optimizer counts each task accepts."""
    task = tasks[answers["task"]]
    problems = []
    if answers["optimizers"] not in task["optimizers"]:
        why = {"gan": ": a GAN trains a generator and a discriminator, each with its own optimizer"}
        problems.append(
            f"optimizers {answers['optimizers']!r} does not fit task {answers['task']!r}{why.get(answers['task'], '')};"
            f" answer {' or '.join(map(repr, task['optimizers']))}"
        )
    if answers["dataset"] not in task["datasets"]:
        problems.append(
            f"dataset {answers['dataset']!r} does not fit task {answers['task']!r}: answer one of"
            f" {', '.join(task['datasets'])}"
        )
    return problems


def problems_with(answers: dict[str, str]) -> list[str]:
    """Every problem with the answers, each a one-line message naming the value and the rule."""
    return [
        *check_project_name(answers["project_name"]),
        *check_slug(answers["project_slug"]),
        *check_package(answers["package_name"]),
        *check_email(answers["email"]),
        *check_combination(answers, answers["_tasks"]),
    ]


def main() -> int:
    """Print every problem on its own line; a non-zero exit makes cookiecutter delete the output."""
    # The answers, as JSON in a raw string: valid Python before and after rendering, whatever they hold.
    problems = problems_with(json.loads(r"""{{ cookiecutter | tojson }}"""))
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
