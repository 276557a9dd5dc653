"""Every valid combination of answers renders a clean, ruff-clean project with exactly the expected files."""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import pytest
import yaml
from combos import CHOICES, all_combinations, render_set
from conftest import assert_ruff_clean, bake

# Jinja residue: GitHub Actions expressions (${{ ... }}) are the one legitimate use of braces.
RESIDUE = ("{{", "{%", "%}", "cookiecutter")
MONITORED = {"classification": "val/acc", "autoencoder": "val/loss", "gan": "val/mmd", "sequence": "val/loss"}
DATA_MODULES = {
    "digits": "DigitsDataModule",
    "mnist": "MNISTDataModule",
    "fashion_mnist": "FashionMNISTDataModule",
    "cifar10": "CIFAR10DataModule",
    "image_folder": "ImageFolderDataModule",
}


SCHEDULES = {
    "warmup_cosine": "WarmupCosine",
    "cosine": "Cosine",
    "onecycle": "OneCycle",
    "step": "StepLR",
    "plateau": "Plateau",
    "none": None,
}
# What earlier layouts rendered and no project may hold again: code and words for answers not given.
LEFTOVERS = (
    *("TASK_DATA_OPTIONS", "DATA_MODULES", "manual_optim", "bench", "test.py", "schedule_steps", "OptimizerName"),
    *("head_lr", "model.d_lr", "decoder_lr", "hparams.lr", "--model.lr", "model.compile", "configure_optimizer("),
)


def expected_files(answers: dict[str, str], package: str = "digits_classifier") -> set[str]:
    """The exact file set a project with these answers must have (paths relative to its root)."""
    src = f"src/{package}"
    engine = f"{src}/engine"
    files = {
        ".gitattributes",
        ".gitignore",
        ".pre-commit-config.yaml",
        ".github/workflows/ci.yml",
        "Makefile",
        "README.md",
        "pyproject.toml",
        "configs/default.yaml",
        "configs/ddp.yaml",
        "configs/fsdp.yaml",
        "configs/slurm.yaml",
        "scripts/slurm.sbatch",
        "train.py",
        "sweep.py",
        "configs/sweep.yaml",
        "evaluate.py",
        "predict.py",
        "export.py",
        f"{src}/__init__.py",
        f"{src}/cli.py",
        f"{src}/data.py",
        f"{src}/model.py",
        f"{src}/nets.py",
        *(f"{engine}/{name}.py" for name in ENGINE),
        "tests/conftest.py",
        "tests/test_data.py",
        "tests/test_distributed.py",
        "tests/processes.py",
        "tests/test_lifecycle.py",
        "tests/test_loaders.py",
        "tests/test_model.py",
        "tests/test_optim.py",
        "tests/test_safety.py",
        "tests/test_sweep.py",
        "tests/test_trackers.py",
        "tests/test_train.py",
        "tests/test_speed.py",
    }
    if answers["task"] in ("autoencoder", "gan"):
        files.add(f"{engine}/images.py")
    if answers["optimizers"] == "2" or answers["task"] == "sequence":
        files |= {f"{engine}/manual.py", "tests/test_manual.py"}
    if answers["dataset"] != "signal":
        files |= {f"{engine}/image_data.py", "tests/fake_data.py", "tests/test_image_data.py"}
    if answers["dataset"] not in ("signal", "image_folder"):  # the folder module besides the chosen data
        files |= {f"{src}/image_folder.py", "tests/test_image_folder.py"}
    return files


# The machinery every project has, whatever the answers.
ENGINE = (
    *("__init__", "checkpoints", "cli", "distributed", "guards", "loaders", "optim", "progress", "runs"),
    *("scripts", "sharding", "speed", "sweeps", "trackers", "trainer"),
)


def relative_files(project: Path) -> set[str]:
    return {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}


def assert_no_template_syntax(project: Path) -> None:
    """No Jinja left in any file's name or text."""
    for path in project.rglob("*"):
        assert not any(mark in str(path.relative_to(project)) for mark in RESIDUE), path
        if path.is_file():
            text = path.read_text().replace("${{", "")
            found = [mark for mark in RESIDUE if mark in text]
            assert not found, f"{path.relative_to(project)} still holds {found}"


def assert_answers_in_config(project: Path, answers: dict[str, str]) -> None:
    """The answers are the defaults of configs/default.yaml."""
    config = yaml.safe_load((project / "configs" / "default.yaml").read_text())
    trainer, model = config["trainer"], config["model"]
    assert trainer["precision"] == answers["precision"]
    schedules = [value for key, value in model.items() if key.endswith("scheduler")]
    assert len(schedules) == (1 if answers["optimizers"] == "1" else 2)
    assert {(s and s["class_path"].rsplit(".", 1)[1]) for s in schedules} == {SCHEDULES[answers["scheduler"]]}
    logger = {
        "tensorboard": "TensorBoardLogger",
        "csv": "CSVLogger",
        "wandb": "WandbLogger",
        "mlflow": "MLFlowLogger",
    }.get(answers["logger"])
    assert (trainer["logger"] and trainer["logger"]["class_path"].rsplit(".", 1)[1]) == (logger or False)
    callbacks = [callback["class_path"].rsplit(".", 1)[1] for callback in trainer["callbacks"]]
    assert ("LearningRateMonitor" in callbacks) == (answers["logger"] != "none")
    checkpoint = trainer["callbacks"][0]["init_args"]
    assert checkpoint["monitor"] == MONITORED[answers["task"]]
    if answers["dataset"] != "signal":  # image data modules are chosen by class, so the user can swap them
        assert config["data"]["class_path"].endswith(f".data.{DATA_MODULES[answers['dataset']]}")
    # Clipping and accumulation are the trainer's flags for every model (the engine hands them to one that
    # steps its own optimizers), and the optimizers are the model's own entries, one per part.
    assert "gradient_clip_val" in trainer and "accumulate_grad_batches" in trainer
    optimizers = [value["class_path"] for key, value in model.items() if key.endswith("optimizer")]
    assert len(optimizers) == len(schedules) and all(path.startswith("torch.optim.") for path in optimizers)


def assert_nothing_left_over(project: Path, answers: dict[str, str]) -> None:
    """No file holds code or words of an earlier layout, or of answers that were not given; the user's
    package has at most 6 modules beside the engine."""
    manual = answers["optimizers"] == "2" or answers["task"] == "sequence"
    unwanted = [*LEFTOVERS, *(("--swa",) if manual else ("steps its optimizers itself", "ManualOptimization"))]
    for path in project.rglob("*"):
        if path.is_file() and "engine" not in path.parts:
            found = [word for word in unwanted if word in path.read_text()]
            if path.parent.name == "tests":  # a test may check that an option is absent
                found = [word for word in found if word != "--swa"]
            assert not found, f"{path.relative_to(project)} holds {found} ({answers})"
    (package,) = (project / "src").iterdir()
    assert len(list(package.glob("*.py"))) <= 6


def assert_engines_are_alike(projects: list[Path]) -> None:
    """The engine is the same code in every project: it does not depend on the answers."""
    for name in ENGINE:
        texts = {(project / "src" / "digits_classifier" / "engine" / f"{name}.py").read_text() for project in projects}
        assert len(texts) == 1, f"engine/{name}.py differs between answers"


def assert_renders_clean_projects(cookies, combinations: list[dict[str, str]]) -> None:
    """Each combination renders exactly its files, no template syntax and its answers as config defaults;
    then ruff checks all of the projects in one call."""
    projects = []
    for answers in combinations:
        project = bake(cookies, **answers)
        assert relative_files(project) == expected_files(answers), answers
        assert_no_template_syntax(project)
        assert_answers_in_config(project, answers)
        assert_nothing_left_over(project, answers)
        projects.append(project)
    assert_engines_are_alike(projects)
    assert_ruff_clean(*projects)


@pytest.mark.parametrize("task", CHOICES["task"])
def test_the_combinations_that_shape_the_code_render_clean_projects(cookies, task: str) -> None:
    assert_renders_clean_projects(cookies, [answers for answers in render_set() if answers["task"] == task])


@pytest.mark.slow
@pytest.mark.parametrize("task", CHOICES["task"])
def test_every_combination_renders_a_clean_project(cookies, task: str) -> None:
    assert_renders_clean_projects(cookies, [answers for answers in all_combinations() if answers["task"] == task])


def test_identity_answers_are_rendered_and_escaped(cookies) -> None:
    project = bake(
        cookies,
        project_name='Quote "Test" Project',
        project_slug="quote-test",
        package_name="quote_test",
        description='Says "hi" and C:\\path',
        author="O'Brien",
        email="ob@example.org",
        python_version="3.12",
    )
    assert project.name == "quote-test"
    assert (project / "README.md").read_text().startswith('# Quote "Test" Project\n')
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == 'Says "hi" and C:\\path'
    assert pyproject["project"]["authors"] == [{"name": "O'Brien", "email": "ob@example.org"}]
    assert pyproject["project"]["requires-python"] == ">=3.12"
    assert pyproject["tool"]["ruff"]["target-version"] == "py312"
    init = project / "src" / "quote_test" / "__init__.py"
    namespace: dict = {}
    exec(compile(init.read_text(), str(init), "exec"), namespace)
    assert namespace["__doc__"] == 'Says "hi" and C:\\path'
    assert 'python-version: "3.12"' in (project / ".github" / "workflows" / "ci.yml").read_text()
    assert "from quote_test.cli import" in (project / "train.py").read_text()
    assert_ruff_clean(project)


def test_email_is_optional(cookies) -> None:
    pyproject = tomllib.loads((bake(cookies, email="") / "pyproject.toml").read_text())
    assert pyproject["project"]["authors"] == [{"name": "Your Name"}]
