"""After rendering: print the next steps."""

import json

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")


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


if __name__ == "__main__":
    print(next_steps(ANSWERS["project_slug"]))
