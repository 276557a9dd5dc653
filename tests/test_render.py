"""Every valid combination of answers renders a clean, ruff-clean project with exactly the expected files."""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import jinja2
import pytest
import yaml
from combos import CHOICES, CONTEXT, DATASETS, TASKS, TEMPLATE, all_combinations, load_module, render_set
from conftest import assert_ruff_clean, bake

# Jinja residue: GitHub Actions expressions (${{ ... }}) are the one legitimate use of braces.
RESIDUE = ("{{", "{%", "%}", "cookiecutter")


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


POST_HOOK = load_module(TEMPLATE / "hooks" / "post_gen_project.py")
# The longest name the hook accepts: every rendered line must stay within ruff's line length with it.
LONGEST_NAME = "Forty character project name for linting"
LONGEST_PACKAGE = "forty_character_project_name_for_linting"


def expected_files(answers: dict[str, str], package: str = LONGEST_PACKAGE) -> set[str]:
    """The exact file set a project with these answers must have (paths relative to its root): every file
    of the template, less those the post-generation hook removes for these answers."""
    skeleton = TEMPLATE / "{{cookiecutter.project_slug}}"
    files = {
        str(path.relative_to(skeleton)).replace("{{cookiecutter.package_name}}", package)
        for path in skeleton.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    context = {**answers, "package_name": package, "_datasets": DATASETS}
    context["__manual_optimization"] = jinja2.Template(CONTEXT["__manual_optimization"]).render(cookiecutter=context)
    return files - set(POST_HOOK.unused_files(context))


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
    assert checkpoint["monitor"] == TASKS[answers["task"]]["monitor"]
    if answers["dataset"] != "signal":  # image data modules are chosen by class, so the user can swap them
        assert config["data"]["class_path"].endswith(f".data.{DATASETS[answers['dataset']]['datamodule_class']}")
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
        texts = {(project / "src" / LONGEST_PACKAGE / "engine" / f"{name}.py").read_text() for project in projects}
        assert len(texts) == 1, f"engine/{name}.py differs between answers"


def assert_renders_clean_projects(cookies, combinations: list[dict[str, str]]) -> None:
    """Each combination renders exactly its files, no template syntax and its answers as config defaults;
    then ruff checks all of the projects in one call."""
    projects = []
    for answers in combinations:
        project = bake(cookies, project_name=LONGEST_NAME, **answers)
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


def test_projects_hold_only_the_code_their_answers_use(cookies) -> None:
    default = relative_files(bake(cookies))
    engine = "src/digits_classifier/engine"
    assert {f"{engine}/manual.py", f"{engine}/images.py", "tests/test_manual.py"}.isdisjoint(default)
    assert {f"{engine}/image_data.py", "src/digits_classifier/image_folder.py"} <= default
    series = relative_files(bake(cookies, task="sequence"))  # one optimizer, stepped by hand for TBPTT
    assert f"{engine}/manual.py" in series and not any("image" in path for path in series)
