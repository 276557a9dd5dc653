"""After rendering: remove what the answers did not ask for, then print the next steps."""

import json
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
    if answers["dataset"] == "signal":
        unused += [f"{engine}/image_data.py", "tests/fake_data.py", "tests/test_image_data.py"]
    if answers["dataset"] in ("image_folder", "signal"):  # image_folder: data.py holds the folder module
        unused += [f"{package}/image_folder.py", "tests/test_image_folder.py"]
    return unused


def remove(root: Path, paths: list[str]) -> None:
    """Delete these files under `root`."""
    for path in paths:
        (root / path).unlink()


def next_steps(slug: str) -> str:
    """What to type now, in order."""
    return f"""
Created {slug}/. Next:

    cd {slug}
    make install     # .venv with PyTorch, Lightning and this package (editable)
    make train       # python train.py: train, then test the best checkpoint
    make test        # the project's own tests

Change anything with flags (python train.py --help) or in configs/default.yaml.
"""


def main() -> None:
    # The answers, as JSON in a raw string: valid Python before and after rendering, whatever they hold.
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    remove(Path.cwd(), unused_files(answers))
    print(next_steps(answers["project_slug"]))


if __name__ == "__main__":
    main()
