"""The answers cookiecutter.json offers, every valid combination of them, and small covering sets."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text())
# The questions that change what is rendered or its defaults, in the order they are asked.
ML_QUESTIONS = ("task", "dataset", "optimizers", "scheduler", "logger", "precision")
CHOICES = {question: CONTEXT[question] for question in ML_QUESTIONS}
DEFAULTS = {question: choices[0] for question, choices in CHOICES.items()}


def is_valid(answers: dict[str, str]) -> bool:
    """The one predicate the pre-generation hook enforces on the machine-learning answers."""
    return all(answers[question] in CHOICES[question] for question in ML_QUESTIONS)


def all_combinations() -> list[dict[str, str]]:
    """Every valid combination of the machine-learning answers."""
    product = itertools.product(*CHOICES.values())
    return [answers for values in product if is_valid(answers := dict(zip(ML_QUESTIONS, values, strict=True)))]


def covering_set() -> list[dict[str, str]]:
    """Few valid combinations in which every choice of every question appears at least once.

    Row i takes the i-th choice of each question (wrapping), starting from the defaults, so the
    first row is the default project.
    """
    rows = max(len(choices) for choices in CHOICES.values())
    combos = []
    for i in range(rows):
        answers = {question: choices[i % len(choices)] for question, choices in CHOICES.items()}
        if not is_valid(answers):
            raise AssertionError(f"covering row {answers} is invalid: adjust covering_set")
        combos.append(answers)
    return combos


def combo_id(answers: dict[str, str]) -> str:
    """A short test id: the non-default answers, or 'default'."""
    changed = [f"{q}={a}" for q, a in answers.items() if a != DEFAULTS[q]]
    return "-".join(changed) or "default"
