{%- set monitor = cookiecutter._tasks[cookiecutter.task].monitor -%}
{%- set direction = "maximize" if cookiecutter._tasks[cookiecutter.task].mode == "max" else "minimize" -%}
"""sweep.py: trials of train.py reporting to an Optuna study in a local database; pruning, best.yaml,
a sweep killed and started again, two sweeps sharing a study."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from conftest import ROOT, load_script
from optuna.trial import TrialState
from processes import QUICK, environment, run_folder

from {{ cookiecutter.package_name }}.engine.sweeps import main as sweep

train = load_script("train")
# Each trial: 2 short epochs on the CPU, quiet.
TRIAL = [*QUICK, "--trainer.limit_train_batches=4", "--trainer.limit_test_batches=2"]
pytestmark = pytest.mark.slow  # every trial is a process of its own


@pytest.fixture
def folder(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder to sweep in, with the data linked in; the trials' processes import what the tests' do."""
    folder = run_folder(workdir / "sweeping", workdir / "data")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("PYTHONPATH", environment(folder)["PYTHONPATH"])
    return folder


def study_of(folder: Path, name: str = "sweep") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{folder / 'sweeps' / name / 'study.db'}")


def test_a_sweep_runs_its_trials_and_best_yaml_trains_the_best_one_again(folder: Path) -> None:
    study = sweep(["--n_trials=3", "--heartbeat=2", *TRIAL])
    trials = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(trials) == 3 and study.direction.name == "{{ direction.upper() }}"
    best = study.best_trial
    results = folder / "sweeps" / "sweep"
    assert {"best.yaml", "history.png", "study.db"} <= {path.name for path in results.iterdir()}
    best_run = Path(best.user_attrs["run"])
    assert best_run.parent == results / "runs" and (best_run / "config.yaml").is_file()
    # The best trial's value is the best of the values it reported, epoch by epoch.
    assert best.value == {{ "max" if direction == "maximize" else "min" }}(best.intermediate_values.values())
    config = yaml.safe_load((results / "best.yaml").read_text())
    assert config["trainer"]["max_epochs"] == 2  # the sweep's own flags are in it too
    metrics = train.main(["--config", str(results / "best.yaml")])
    assert metrics == json.loads((best_run / "test_metrics.json").read_text())["metrics"]


def test_a_trial_the_pruner_stops_ends_early_and_is_marked_pruned(folder: Path) -> None:
    space = yaml.safe_load((ROOT / "configs" / "sweep.yaml").read_text())
    # Prune every trial at its first report: the metric can never pass this threshold.
    space["pruner"] = {"type": "ThresholdPruner", {{ '"lower": 2.0' if direction == "maximize" else '"upper": -1.0' }}}
    (folder / "prune_all.yaml").write_text(yaml.safe_dump(space))
    study = sweep(["--n_trials=2", "--heartbeat=2", "--space=prune_all.yaml", *TRIAL])
    trials = study.get_trials()
    assert [trial.state for trial in trials] == [TrialState.PRUNED, TrialState.PRUNED]
    assert all(list(trial.intermediate_values) == [0] for trial in trials)  # stopped after its first epoch
    log = (folder / "sweeps" / "sweep" / "trial_000.log").read_text()
    assert "pruned:" in log and "Test of" not in log  # said so, and never reached the test


def start_sweep(folder: Path, *args: str) -> subprocess.Popen:
    """python sweep.py ARGS in `folder`, as a user starts it."""
    command = [sys.executable, str(ROOT / "sweep.py"), "--heartbeat=1", *args, *TRIAL]
    return subprocess.Popen(command, cwd=folder, env=environment(folder), stdout=subprocess.DEVNULL)


def finished(folder: Path) -> int:
    """Trials of the study that completed or were pruned (0 until the sweep has started its first trial, so
    that reading never races with the sweep creating its database)."""
    if not (folder / "sweeps" / "sweep" / "trial_000.log").exists():
        return 0
    try:
        return len(study_of(folder).get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED)))
    except KeyError:  # the study is not created yet
        return 0


def test_a_killed_sweep_started_again_finishes_its_trials_once_each(folder: Path) -> None:
    process = start_sweep(folder, "--n_trials=3")
    deadline = time.monotonic() + 300
    while finished(folder) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)  # during its third trial
    assert process.wait() == -signal.SIGKILL, "the sweep ended before it could be killed"
    time.sleep(2.5)  # the killed trial's heartbeat goes stale
    assert start_sweep(folder, "--n_trials=3").wait(timeout=600) == 0
    trials = study_of(folder).get_trials()
    done = [trial for trial in trials if trial.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(done) == 3 and len({trial.number for trial in done}) == 3
    assert [trial.state for trial in trials].count(TrialState.FAIL) <= 1  # the killed one, retried
    runs = [trial.user_attrs["run"] for trial in done]
    assert len(set(runs)) == 3  # every finished trial trained in a folder of its own


def test_two_sweeps_started_together_share_the_study(folder: Path) -> None:
    processes = [start_sweep(folder, "--n_trials=4") for _ in range(2)]
    assert [process.wait(timeout=600) for process in processes] == [0, 0]
    done = study_of(folder).get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    # Each trial ran once; two processes asking at the same moment may run one trial more than asked.
    assert 4 <= len(done) <= 5 and len({trial.number for trial in done}) == len(done)
    assert len({trial.user_attrs["run"] for trial in done}) == len(done)
