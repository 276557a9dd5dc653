"""The README states what the code does: its table of useful keys shows configs/default.yaml's values."""

from __future__ import annotations

import re
from typing import Any

import yaml
from conftest import DEFAULT_CONFIG, ROOT

README = (ROOT / "README.md").read_text()
# A row of the "Useful keys" table: | `key` | `default` | what it does |
ROW = re.compile(r"^\| `([a-z_]+(?:\.[a-z_]+)*)` \| `([^`]*)` \|", re.MULTILINE)


def config_value(key: str) -> Any:
    """The value of a dotted key in configs/default.yaml: a class's name where the entry is a class."""
    value: Any = DEFAULT_CONFIG
    for part in key.split("."):
        if isinstance(value, dict) and part not in value and "init_args" in value:
            value = value["init_args"]
        value = value[part]
    if isinstance(value, dict) and "class_path" in value:
        return value["class_path"].rsplit(".", 1)[1]
    return value


def test_useful_keys_show_the_config_defaults() -> None:
    rows = ROW.findall(README)
    assert len(rows) >= 10, rows
    for key, shown in rows:
        assert yaml.safe_load(shown) == config_value(key), f"README shows {key} = {shown}"
