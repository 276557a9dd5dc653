"""Hyper-parameter sweeps on Optuna: each trial is a run of train.py in its own process, reporting the
monitored validation metric to the study after every epoch; the study lives in a local database, so a
sweep stopped half-way goes on where it was, and several sweep processes share it."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback
from rich.console import Console
from rich.table import Table

from .cli import PROJECT_ROOT
from .runs import run_dir
from .scripts import PRUNED_STATUS, SettingError, flag

KINDS = ("float", "int", "categorical")
DONE = (TrialState.COMPLETE, TrialState.PRUNED)


class ReportToStudy(PyTorchLightningPruningCallback):
    """Optuna's pruning callback for a trial that runs in this process while the study is driven by
    sweep.py in another: the trial is found by its number in the study's database.

    Args:
        storage: The study's database URL.
        study_name: The study's name.
        trial_number: The trial this run is.
        monitor: The validation metric reported after every epoch (the ModelCheckpoint's).
        space: The sweep's YAML file, for its pruner.
    """

    def __init__(self, storage: str, study_name: str, trial_number: int, monitor: str, space: str) -> None:
        pruner = build(optuna.pruners, load_space(Path(space)).get("pruner"), "MedianPruner")  # not in the database
        study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
        trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, trial_number)
        super().__init__(optuna.trial.Trial(study, trial_id), monitor)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        super().on_fit_start(trainer, pl_module)
        run = run_dir(trainer)  # on every process: a collective under several
        if trainer.is_global_zero:
            self._trial.set_user_attr("run", str(run.resolve()))


def load_space(path: Path) -> dict[str, Any]:
    """The sweep's settings from a YAML file: `monitor`, `direction`, `params` (config path -> its range),
    and optionally `pruner` and `sampler` ({type: <Optuna class>, ...its arguments}). Refuses, with one
    line, anything Optuna could not use."""
    if not path.is_file():
        raise SettingError(f"--space {path}: no such file; give a YAML search space like configs/sweep.yaml")
    space = yaml.safe_load(path.read_text()) or {}
    for key in ("monitor", "direction", "params"):
        if not space.get(key):
            raise SettingError(f"{path}: `{key}` is missing")
    if space["direction"] not in ("minimize", "maximize"):
        raise SettingError(f"{path}: direction {space['direction']!r}: give minimize or maximize")
    for name, spec in space["params"].items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in KINDS:
            raise SettingError(f"{path}: params.{name}: give type {', '.join(KINDS)} (found {kind!r})")
        needed = ("choices",) if kind == "categorical" else ("low", "high")
        if missing := [key for key in needed if key not in spec]:
            raise SettingError(f"{path}: params.{name}: a {kind} range needs {' and '.join(missing)}")
    for part in ("pruner", "sampler"):
        module = getattr(optuna, f"{part}s")
        kind = (space.get(part) or {}).get("type")
        if kind is not None and not hasattr(module, kind):
            raise SettingError(f"{path}: {part} {kind!r} is not one of optuna.{part}s")
    return space


def build(module: Any, spec: dict[str, Any] | None, default: str) -> Any:
    """An Optuna pruner or sampler from {type: <class name>, ...arguments}."""
    spec = dict(spec or {"type": default})
    return getattr(module, spec.pop("type"))(**spec)


def suggest(trial: optuna.Trial, params: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The trial's value for every config path of the search space."""
    values = {}
    for name, spec in params.items():
        options = {key: value for key, value in spec.items() if key not in ("type", "low", "high", "choices")}
        if spec["type"] == "categorical":
            values[name] = trial.suggest_categorical(name, spec["choices"])
        elif spec["type"] == "int":
            values[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]), **options)
        else:
            values[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]), **options)
    return values


def short_name(key: str) -> str:
    """A config path without the parts every path has: model.net.init_args.width -> net.width."""
    return key.removeprefix("model.").replace("init_args.", "")


def shown(value: Any) -> str:
    """A parameter's value for the table: numbers to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def flags(values: dict[str, Any]) -> list[str]:
    """Command-line flags that set each config path to its value."""
    return [flag(key, value) for key, value in values.items()]


def die_with_parent() -> None:
    """In a trial's process, before it starts: end with SIGTERM when the sweep's process dies (Linux)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def open_storage(url: str, heartbeat: int, attempts: int = 5) -> RDBStorage:
    """The study's database, with heartbeats; stale trials are failed and retried once. Several sweep
    processes started together may race to create a new database: the losers try again."""

    def connect() -> RDBStorage:
        return RDBStorage(
            url,
            heartbeat_interval=heartbeat,
            grace_period=2 * heartbeat,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        )

    for attempt in range(attempts - 1):
        try:
            return connect()
        except Exception:  # noqa: BLE001 - sqlalchemy's IntegrityError/OperationalError while another creates it
            time.sleep(0.5 * (attempt + 1))
    return connect()


class Sweep:
    """One sweep process: runs trials of the study until it holds `n_trials` finished ones (completed or
    pruned), counting those other processes run."""

    def __init__(self, options: argparse.Namespace, train_args: list[str]) -> None:
        self.options, self.train_args = options, train_args
        self.space = load_space(Path(options.space))
        self.folder = Path(options.folder) / options.study
        self.folder.mkdir(parents=True, exist_ok=True)
        self.url = options.storage or f"sqlite:///{self.folder / 'study.db'}"
        self.storage = open_storage(self.url, options.heartbeat)
        self.study = optuna.create_study(
            study_name=options.study,
            storage=self.storage,
            direction=self.space["direction"],
            sampler=build(optuna.samplers, self.space.get("sampler"), "TPESampler"),
            pruner=build(optuna.pruners, self.space.get("pruner"), "MedianPruner"),
            load_if_exists=True,
        )

    def run(self) -> None:
        """Run trials until the study has enough; wait for other processes' trials before stopping."""
        failures = 0
        while True:
            fail_stale_trials(self.study)  # trials of a sweep that was killed: failed, then retried
            done = len(self.study.get_trials(deepcopy=False, states=DONE))
            running = len(self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
            if done >= self.options.n_trials:
                return
            if done + running >= self.options.n_trials:
                time.sleep(self.options.heartbeat)  # others' trials will finish the study, or go stale
                continue
            self.study.optimize(self.objective, n_trials=1, catch=(SettingError,))
            last = self.study.get_trials(deepcopy=False)[-1]
            failures = failures + 1 if last.state == TrialState.FAIL else 0
            if failures == 3:
                raise SettingError(f"3 trials in a row failed: see {self.folder}/trial_{last.number:03d}.log")

    def objective(self, trial: optuna.Trial) -> float:
        """Run train.py with the trial's values; its value is the best monitored metric it reported."""
        values = suggest(trial, self.space["params"])
        callback = f"{__name__}.ReportToStudy"
        command = [
            sys.executable,
            str(PROJECT_ROOT / "train.py"),
            *self.train_args,
            *flags(values),
            f"--runs_dir={self.folder / 'runs'}",
            f"--trainer.callbacks+={callback}",
            f"--trainer.callbacks.storage={self.url}",
            f"--trainer.callbacks.study_name={self.options.study}",
            f"--trainer.callbacks.trial_number={trial.number}",
            f"--trainer.callbacks.monitor={self.space['monitor']}",
            f"--trainer.callbacks.space={Path(self.options.space).resolve()}",
        ]
        log = self.folder / f"trial_{trial.number:03d}.log"
        print(f"trial {trial.number}: {' '.join(flags(values))} (output: {log})", flush=True)
        with log.open("w") as output:
            status = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        stored = RDBStorage(self.url).get_trial(trial._trial_id)  # what the run reported, read afresh
        if status.returncode == PRUNED_STATUS or stored.system_attrs.get("ddp_pl:pruned"):
            print(f"trial {trial.number}: pruned after epoch {max(stored.intermediate_values, default=0)}")
            raise optuna.TrialPruned()
        if status.returncode != 0 or not stored.intermediate_values:
            lines = log.read_text().strip().splitlines() or [""]
            print(f"trial {trial.number}: failed (status {status.returncode}): {lines[-1]}", flush=True)
            raise SettingError(f"trial {trial.number}: train.py ended with status {status.returncode}; see {log}")
        reported = stored.intermediate_values.values()
        return max(reported) if self.space["direction"] == "maximize" else min(reported)

    def report(self) -> None:
        """Print the table of trials; write the best trial's full config as best.yaml and the study's plots."""
        trials = self.study.get_trials(deepcopy=False)
        table = Table(
            title=f"study {self.options.study} ({self.folder}): {self.space['direction']} {self.space['monitor']}"
        )
        names = list(self.space["params"])
        for column in ("trial", "state", self.space["monitor"], *map(short_name, names), "run"):
            table.add_column(column)
        for trial in trials:
            value = "" if trial.value is None else f"{trial.value:.4f}"
            params = [shown(trial.params.get(name, "")) for name in names]
            run = Path(trial.user_attrs.get("run", "")).name
            table.add_row(str(trial.number), trial.state.name, value, *params, run)
        Console().print(table)
        completed = [trial for trial in trials if trial.state == TrialState.COMPLETE]
        if not completed:
            print("no trial completed: no best.yaml")
            return
        best = self.study.best_trial
        path = self.write_best(best)
        print(f"best: trial {best.number}, {self.space['monitor']} {best.value:.4f}; python train.py --config {path}")
        self.write_plots()

    def write_best(self, best: optuna.trial.FrozenTrial) -> Path:
        """best.yaml: the full config of the best trial (train.py's, with its flags), which train.py reproduces."""
        command = [sys.executable, str(PROJECT_ROOT / "train.py"), *self.train_args, *flags(best.params)]
        config = subprocess.run([*command, "--print_config"], capture_output=True, text=True, check=True).stdout
        header = f"# Best trial {best.number} of study {self.options.study}: {self.space['monitor']} {best.value:.6g}\n"
        path = self.folder / "best.yaml"
        path.write_text(header + config)
        return path

    def write_plots(self) -> None:
        """The optimization history and the parameter importances, as PNG files in the sweep's folder."""
        import matplotlib

        matplotlib.use("Agg")
        from optuna.visualization import matplotlib as plots

        history = plots.plot_optimization_history(self.study)
        history.figure.savefig(self.folder / "history.png", bbox_inches="tight")
        try:
            importances = plots.plot_param_importances(self.study)
            importances.figure.savefig(self.folder / "importances.png", bbox_inches="tight")
        except (RuntimeError, ValueError, ZeroDivisionError) as error:  # too few trials, or no variation
            print(f"no importances plot yet: {error}")


def parse(args: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """sweep.py's own options; every other argument goes to each trial's train.py."""
    parser = argparse.ArgumentParser(
        description="Search hyper-parameters with Optuna; any other flag (e.g. --trainer.max_epochs 5) goes to"
        " every trial's train.py.",
    )
    parser.add_argument("--n_trials", type=int, default=20, help="finished trials the study should hold")
    parser.add_argument("--space", default=str(PROJECT_ROOT / "configs" / "sweep.yaml"), help="the search space")
    parser.add_argument("--study", default="sweep", help="the study's name, and its folder under --folder")
    parser.add_argument("--folder", default="sweeps", help="where studies keep their database, runs and results")
    parser.add_argument("--storage", default=None, help="a database URL (default: sqlite in the study's folder)")
    parser.add_argument("--heartbeat", type=int, default=30, help="seconds between a running trial's heartbeats")
    options, rest = parser.parse_known_args(args)
    if options.n_trials < 1:
        raise SettingError(f"--n_trials {options.n_trials}: give 1 or more trials")
    return options, rest


def main(args: list[str] | None = None) -> optuna.Study:
    """Run (or go on with) the sweep, then report it; return the study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats, plots
    sweep = Sweep(*parse(args))
    sweep.run()
    sweep.report()
    return sweep.study
