"""This project's command line: its model, its data, and what the model takes from the data."""

from __future__ import annotations

{% if cookiecutter.dataset != "signal" -%}
from . import data{% if cookiecutter.dataset != "image_folder" %}, image_folder{% endif %}  # noqa: F401 (--data names their classes alone)
{% else -%}
from .data import {{ cookiecutter.__datamodule_class }}
{% endif -%}
from .engine.cli import ProjectCLI
{%- if cookiecutter.dataset != "signal" %}
from .engine.image_data import ImageDataModule
{%- endif %}
from .model import {{ cookiecutter.__model_class }}


class CLI(ProjectCLI):
    """The scripts' command line (`python train.py --help` lists every option)."""

    model_class = {{ cookiecutter.__model_class }}
{%- if cookiecutter.dataset == "signal" %}
    datamodule_class = {{ cookiecutter.__datamodule_class }}
{%- else %}
    datamodule_class = ImageDataModule  # any image data module; configs/default.yaml picks {{ cookiecutter.__datamodule_class }}
    subclass_mode_data = True
{%- endif %}
    # The model's arguments that follow from the data module: data attribute -> model argument(s).
    links = {
{%- for source, targets in cookiecutter._tasks[cookiecutter.task].links.items() %}
        "{{ source }}": {{ '"' ~ targets[0] ~ '"' if targets | length == 1 else "(" ~ targets | map("tojson") | join(", ") ~ ")" }},
{%- endfor %}
    }
