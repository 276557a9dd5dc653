"""The answers cookiecutter.json offers, every valid combination of them, and a small covering set."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text())
# The questions that change what is rendered or its defaults, in the order they are asked.
ML_QUESTIONS = ("task", "dataset", "optimizers", "scheduler", "logger", "precision")
# What each task accepts (its first dataset and optimizer count are its defaults) and what each dataset is.
TASKS: dict[str, dict] = CONTEXT["_tasks"]
DATASETS: dict[str, dict] = CONTEXT["_datasets"]
# The dataset and optimizers questions are text whose default follows the task: their choices are the table's.
CHOICES = {
    question: list(DATASETS) if question == "dataset" else ["1", "2"] if question == "optimizers" else CONTEXT[question]
    for question in ML_QUESTIONS
}
DEFAULTS = {question: choices[0] for question, choices in CHOICES.items()}
# Every valid pair of choices of these questions appears in some covering combination, and so do every
# task with every dataset it accepts and every task with every logger.
PAIRWISE = ("task", "optimizers", "scheduler", "precision")
PAIRS = (*itertools.combinations(PAIRWISE, 2), ("task", "dataset"), ("task", "logger"))


def load_module(path: Path):
    """A Python file as a module, by its path."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The pre-generation hook: its rules are the one definition of a valid answer.
HOOK = load_module(TEMPLATE / "hooks" / "pre_gen_project.py")


def is_valid(answers: dict[str, str]) -> bool:
    """Whether the hook accepts these machine-learning answers."""
    return not HOOK.check_combination(answers, TASKS)


def all_combinations() -> list[dict[str, str]]:
    """Every valid combination of the machine-learning answers."""
    product = itertools.product(*CHOICES.values())
    return [answers for values in product if is_valid(answers := dict(zip(ML_QUESTIONS, values, strict=True)))]


def _pairs(answers: dict[str, str]) -> set[tuple[str, str, str, str]]:
    return {(a, answers[a], b, answers[b]) for a, b in PAIRS}


def covering_set() -> list[dict[str, str]]:
    """Few valid combinations, the default first, that hold every valid pair of choices of the PAIRS of
    questions and every choice of every question at least once (greedy: each pick covers the most new)."""
    candidates = all_combinations()
    needed_pairs = set().union(*map(_pairs, candidates))
    needed_choices = {(q, choice) for q in ML_QUESTIONS for choice in CHOICES[q]}
    chosen = [DEFAULTS]
    needed_pairs -= _pairs(DEFAULTS)
    needed_choices -= set(DEFAULTS.items())
    while needed_pairs or needed_choices:
        best = max(
            candidates,
            key=lambda a: (len(_pairs(a) & needed_pairs), len(set(a.items()) & needed_choices)),
        )
        chosen.append(best)
        needed_pairs -= _pairs(best)
        needed_choices -= set(best.items())
    return chosen


# The questions that change the rendered code (the others change config values and README lines).
CODE_QUESTIONS = ("task", "dataset", "optimizers", "logger")


def render_set() -> list[dict[str, str]]:
    """What `make test` renders and lints: every valid combination of the questions that shape the code,
    with the other answers at their defaults, and the covering set (every pair of choices)."""
    others = [question for question in ML_QUESTIONS if question not in CODE_QUESTIONS]
    shaping = [a for a in all_combinations() if all(a[q] == DEFAULTS[q] for q in others)]
    return shaping + [a for a in covering_set() if a not in shaping]


def combo_id(answers: dict[str, str]) -> str:
    """A short test id: the non-default answers, or 'default'."""
    changed = [f"{q}={a}" for q, a in answers.items() if a != DEFAULTS[q]]
    return "-".join(changed) or "default"
