"""After rendering: remove what the answers did not ask for, then print the next steps."""

import json
import os
from pathlib import Path


def unused_files(answers: dict[str, str]) -> list[str]:
    """Files of the rendered project that these answers do not use (paths relative to its root)."""
    package = f"src/{answers['package_name']}"
    engine = f"{package}/engine"
    unused = []
    if answers["task"] not in ("autoencoder", "gan"):
        unused.append(f"{engine}/images.py")
    if answers["__manual_optimization"] != "yes":
        unused += [f"{engine}/manual.py", "tests/test_manual.py"]
    partial = answers["_datasets"][answers["dataset"]]["partial"]  # the data code: digits, torchvision, ...
    if partial == "signal":
        unused += [f"{engine}/image_data.py", "tests/fake_data.py", "tests/test_image_data.py"]
    if partial in ("image_folder", "signal"):  # image_folder: data.py holds the folder module
        unused += [f"{package}/image_folder.py", "tests/test_image_folder.py"]
    return unused


def remove(root: Path, paths: list[str]) -> None:
    """Delete these files under `root`."""
    for path in paths:
        (root / path).unlink()


def where(project: Path, user_dir: str | None) -> str:
    """The project folder as the user should type it: relative to the folder they ran cookiecutter in
    (their shell's PWD) when it lies below it, else absolute (as after `cookiecutter -o ../elsewhere`)."""
    start = Path(user_dir).resolve() if user_dir else None
    if start and project.is_relative_to(start):
        return str(project.relative_to(start))
    return str(project)


def next_steps(answers: dict, folder: str) -> str:
    """What to type now, in order."""
    data = answers["_datasets"][answers["dataset"]]
    if data["download"]:
        train = f"make train       # downloads {data['title']} once (needs network), trains, tests the best checkpoint"
    elif answers["dataset"] == "image_folder":
        train = "make train       # after putting your images in data/images/<class>/ (README: Data)"
    else:
        train = "make train       # python train.py: train, then test the best checkpoint"
    return f"""
Created {folder}/. Next:

    cd {folder}
    make install     # .venv with PyTorch, Lightning and this package (make install TORCH=cpu: CPU-only PyTorch)
    {train}
    make test        # the project's own tests

Change anything with flags (python train.py --help) or in configs/default.yaml.
"""


def main() -> None:
    # The answers, as JSON in a raw string: valid Python before and after rendering, whatever they hold.
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    remove(Path.cwd(), unused_files(answers))
    print(next_steps(answers, where(Path.cwd().resolve(), os.environ.get("PWD"))))


if __name__ == "__main__":
    main()
