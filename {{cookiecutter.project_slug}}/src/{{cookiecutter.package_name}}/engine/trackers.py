"""What reaches the experiment tracker, in its own form: TensorBoard, Weights & Biases, MLflow; with CSV or
no logger, files in the run folder. The run's identity follows its folder, so a resumed run (or a requeued
SLURM job) goes on in the same tracked run."""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from lightning.pytorch.loggers.logger import DummyLogger
from torch import Tensor

# Loggers whose save_dir/name/version is a run folder; the others (W&B, MLflow, ...) are pointed at one.
NAMES_RUN_FOLDERS = ("TensorBoardLogger", "CSVLogger")
# Trackers that are optional extras of the project: the package each needs, and the extra that installs it.
EXTRAS = {"WandbLogger": ("wandb", "wandb"), "MLFlowLogger": ("mlflow", "mlflow")}


def logger_name(logger: Any) -> str:
    """The class name a logger's config entry names ("" for none, e.g. `logger: false`)."""
    return str(getattr(logger, "class_path", "")).rsplit(".", 1)[-1]


def check_installed(logger: Any) -> None:
    """Refuse, with one line, a logger (its config entry) whose tracker package is not installed."""
    name = logger_name(logger)
    if name in EXTRAS and importlib.util.find_spec(EXTRAS[name][0]) is None:
        package, extra = EXTRAS[name]
        raise SystemExit(
            f"error: trainer.logger {name} needs the {package} package, which is not installed:"
            f" pip install -e '.[{extra}]' (or choose another logger)"
        )


def follow_run(logger: Any, run: Path, first: bool = True) -> None:
    """Point a logger's config entry at the run folder `run`, as its own identity: TensorBoard and CSV
    write into it; W&B keeps its files there under a run id read back from them (new if none); MLflow
    tags its run with the folder and finds that run again by the tag (on the `first` process, the one
    that logs)."""
    init_args = getattr(logger, "init_args", None)
    name = logger_name(logger)
    if init_args is None:
        return
    if name == "WandbLogger":
        # Absolute: W&B's service process, started by a process's first run, resolves relative folders
        # against its own working folder.
        init_args.save_dir, init_args.name = str(run.resolve()), run.name
        init_args.id = wandb_id(run) or secrets.token_hex(4)
        init_args.version = None
    elif name == "MLFlowLogger":
        init_args.tracking_uri = absolute_sqlite(init_args.tracking_uri)
        init_args.run_name = run.name
        init_args.tags = {**(init_args.get("tags") or {}), "run_folder": str(run.resolve())}
        init_args.run_id = mlflow_run_id(init_args.tracking_uri, init_args.experiment_name, run) if first else None
    elif "version" in init_args:  # TensorBoard, CSV: save_dir/name/version is exactly the run folder
        init_args.save_dir, init_args.version = str(run.parent), run.name
        if "name" in init_args:
            init_args.name = ""


def absolute_sqlite(uri: str | None) -> str | None:
    """`uri` with a relative SQLite path made absolute: MLflow keeps one store per URI in a process, so the
    same relative URI used again from another folder would reach the first folder's database."""
    prefix = "sqlite:///"
    if uri and uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri.removeprefix(prefix)).resolve())
    return uri


def wandb_id(run: Path) -> str | None:
    """The id of the W&B run whose files are in `run` (wandb/<offline->run-<time>-<id>/run-<id>.wandb), if any."""
    logs = sorted((run / "wandb").glob("*run-*/run-*.wandb"), key=lambda path: path.parent.name.split("-")[-2])
    return logs[-1].stem.removeprefix("run-") if logs else None


def mlflow_run_id(tracking_uri: str | None, experiment: str, run: Path) -> str | None:
    """The id of the MLflow run tagged with the folder `run`, if the store has one."""
    if tracking_uri and tracking_uri.startswith("sqlite:///") and not Path(tracking_uri[10:]).exists():
        return None  # no database yet, so no run: asking would create it
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs([found.experiment_id], f"tags.run_folder = '{run.resolve()}'", max_results=1)
    return runs[0].info.run_id if runs else None


class SaveRunConfig(SaveConfigCallback):
    """Saves the resolved config as config.yaml in the run folder (Lightning's own callback asks the logger
    for a folder, which MLflow with a database store has not), and sends it to the tracker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "save_to_log_dir": False})

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        path = Path(trainer.default_root_dir) / self.config_filename  # the first process's: the run folder
        path.parent.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, path, skip_none=False, overwrite=True, multifile=self.multifile)
        log_file(trainer, path)


def tracker(trainer: L.Trainer) -> Logger | None:
    """The run's logger on the first process, if it has one (not during the tuner's trial fits)."""
    logger = trainer.logger
    if not trainer.is_global_zero or logger is None or isinstance(logger, DummyLogger):
        return None
    return logger


def log_image_grid(trainer: L.Trainer, name: str, grid: Tensor) -> bool:
    """Log an image grid (channels, height, width, in [0, 1]) for this epoch, if the tracker keeps images
    (TensorBoard, W&B, MLflow); whether it did."""
    logger, epoch = tracker(trainer), trainer.current_epoch
    if isinstance(logger, TensorBoardLogger):
        logger.experiment.add_image(name, grid, global_step=epoch)
    elif isinstance(logger, WandbLogger):
        logger.log_image(key=name, images=[grid], step=trainer.global_step)
    elif isinstance(logger, MLFlowLogger):
        pixels = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        logger.experiment.log_image(logger.run_id, pixels, artifact_file=f"{name}/epoch{epoch:03d}.png")
    else:
        return False
    return True


def log_figure(trainer: L.Trainer, name: str, figure: Any) -> Path | None:
    """Log a matplotlib figure; returns the PNG written into the run folder when the logger keeps no images."""
    logger = tracker(trainer)
    if isinstance(logger, TensorBoardLogger):
        logger.experiment.add_figure(name, figure, global_step=trainer.current_epoch)
    elif isinstance(logger, WandbLogger):
        logger.log_image(key=name, images=[figure], step=trainer.global_step)
    elif isinstance(logger, MLFlowLogger):
        logger.experiment.log_figure(logger.run_id, figure, f"{name}.png")
    elif logger is not None:  # CSV: a PNG beside its metrics; without a logger (evaluate.py) nothing is written
        path = Path(trainer.default_root_dir) / f"{name.replace('/', '_')}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
        return path
    return None


def log_file(trainer: L.Trainer, path: Path) -> None:
    """Send a file of the run folder (its config.yaml) to the tracker, where it keeps files."""
    logger = tracker(trainer)
    if isinstance(logger, WandbLogger):
        logger.experiment.save(str(path), base_path=str(path.parent), policy="now")
    elif isinstance(logger, MLFlowLogger):
        logger.experiment.log_artifact(logger.run_id, str(path))


def record(trainer: L.Trainer, key: str, value: str) -> None:
    """Record one fact about the run (the best checkpoint's path) where the tracker shows it."""
    logger = tracker(trainer)
    if isinstance(logger, TensorBoardLogger):
        logger.experiment.add_text(key, value)
    elif isinstance(logger, WandbLogger):
        logger.experiment.summary[key] = value
    elif isinstance(logger, MLFlowLogger):
        logger.experiment.set_tag(logger.run_id, key, value)


def finish(trainer: L.Trainer) -> None:
    """End the tracked run once the script is done with it (W&B would keep it open until the process ends,
    and write its summary only then; TensorBoard's writer, reopened by `record`, would flush it later)."""
    logger = tracker(trainer)
    if isinstance(logger, WandbLogger):
        import wandb  # installed: the logger runs on it

        logger.experiment.finish()
        wandb.teardown()  # wait for W&B's service to write out the run's files (finish can return before)
    elif isinstance(logger, TensorBoardLogger):
        logger.experiment.close()
