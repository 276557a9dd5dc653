"""Running train.py as users do: in processes of its own, under Lightning's launcher, torchrun or the
variables SLURM's srun sets, on CPUs (gloo)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

ROOT = Path(__file__).resolve().parents[1]
{%- if cookiecutter._datasets[cookiecutter.dataset].get("format") == "cifar" %}
# Processes started by the tests skip CIFAR-10's MD5 checks (the fake files cannot match the real ones').
SKIP_CHECKSUMS = """import os
import torchvision.datasets.cifar
torchvision.datasets.cifar.check_integrity = lambda path, md5=None: os.path.isfile(path)
"""
{%- endif %}
# Short, quiet runs on the CPU; the data and the seed make every run of these flags train alike.
QUICK = [
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.accelerator=cpu",
    "--trainer.max_epochs=2",
    "--trainer.limit_val_batches=2",
    "--trainer.log_every_n_steps=1",
]
DDP = ["--trainer.devices=2", "--trainer.strategy=ddp"]


def run_folder(path: Path, data: Path | None = None, sitecustomize: str = "") -> Path:
    """`path`, made a folder to run train.py in: the fake data linked in, and `sitecustomize` run at the
    start of every Python process started there."""
    path.mkdir(parents=True, exist_ok=True)
    if data is not None and data.exists():
        (path / "data").symlink_to(data)
{%- if cookiecutter._datasets[cookiecutter.dataset].get("format") == "cifar" %}
    sitecustomize = SKIP_CHECKSUMS + sitecustomize
{%- endif %}
    if sitecustomize:
        (path / "sitecustomize.py").write_text(sitecustomize)
    return path


def environment(folder: Path, **variables: str) -> dict[str, str]:
    """This environment, with the project, its tests and `folder` on the import path."""
    path = [str(ROOT / "src"), str(ROOT / "tests"), str(folder), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), "COLUMNS": "120", **variables}


def start(folder: Path, *args: str, launcher: tuple[str, ...] = (), **variables: str) -> subprocess.Popen:
    """`python [launcher] train.py ARGS` in `folder`, in a session of its own (so that every process it
    starts can be killed together); output goes to folder/output-N.txt."""
    log = folder / f"output-{len(list(folder.glob('output-*.txt')))}.txt"
    command = [sys.executable, *launcher, str(ROOT / "train.py"), *args]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=environment(folder, **variables),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log = log
    return process


def finish(*processes: subprocess.Popen, timeout: float = 600) -> None:
    """Wait for `processes`; fail with their output unless all of them end well."""
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            for other in processes:
                kill_session(other)
    for process in processes:
        assert process.returncode == 0, f"{process.args} ended with {process.returncode}:\n{output_of(process)}"


def output_of(process: subprocess.Popen) -> str:
    """The last 6,000 characters the process printed."""
    return process.log.read_text()[-6000:]


def train(folder: Path, *args: str, launcher: tuple[str, ...] = (), **variables: str) -> str:
    """Run train.py to its end in `folder`; return its output."""
    process = start(folder, *args, launcher=launcher, **variables)
    finish(process)
    return read_output(folder)


def read_output(folder: Path) -> str:
    """Everything the runs in `folder` printed, oldest first."""
    logs = sorted(folder.glob("output-*.txt"), key=lambda p: int(p.stem.split("-")[1]))
    return "".join(log.read_text() for log in logs)


def kill_session(process: subprocess.Popen) -> None:
    """SIGKILL to every process of the session, as a node failure ends them."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def alive_in_session(session: int, timeout: float = 10) -> list[int]:
    """The processes of `session` still running after at most `timeout` seconds (a process sent SIGKILL
    may take a moment to go; zombies, which have ended, do not count)."""
    deadline = time.monotonic() + timeout
    while (alive := running_in_session(session)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def running_in_session(session: int) -> list[int]:
    """The processes of `session` running now."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":  # fields after the name: state, ppid, pgrp, session
            alive.append(int(stat.parent.name))
    return alive


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    """Wait until `path` exists; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"the run ended before {path} was written:\n{output_of(process)}"
        assert time.monotonic() < deadline, f"{path} was not written within {timeout} s"
        time.sleep(0.01)


def weights(run: Path, name: str = "last.ckpt") -> dict[str, torch.Tensor]:
    """The weights of a run's checkpoint."""
    from {{ cookiecutter.package_name }}.engine.checkpoints import load_checkpoint

    return load_checkpoint(run / "checkpoints" / name)["state_dict"]


def relative_difference(weights: dict[str, torch.Tensor], others: dict[str, torch.Tensor]) -> float:
    """|a - b| / |b| for the weights of two models taken as one vector each (Euclidean norms): 0 when equal.
    Single elements say little: Adam turns rounding differences in gradients near 0 into steps of a
    whole learning rate."""
    assert weights.keys() == others.keys()
    names = [name for name, tensor in others.items() if tensor.is_floating_point()]
    mine = torch.cat([weights[name].double().flatten() for name in names])
    theirs = torch.cat([others[name].double().flatten() for name in names])
    return float(torch.linalg.vector_norm(mine - theirs) / torch.linalg.vector_norm(theirs))


def slurm_variables(job: str, rank: int, tasks: int, port: int) -> dict[str, str]:
    """What srun sets for task `rank` of `tasks` on one node (127.0.0.1) of job `job`."""
    return {
        "SLURM_JOB_ID": job,
        "SLURM_JOB_NAME": "train",
        "SLURM_NTASKS": str(tasks),
        "SLURM_NTASKS_PER_NODE": str(tasks),
        "SLURM_NNODES": "1",
        "SLURM_JOB_NUM_NODES": "1",
        "SLURM_NODEID": "0",
        "SLURM_PROCID": str(rank),
        "SLURM_LOCALID": str(rank),
        "SLURM_NODELIST": "127.0.0.1",
        "MASTER_PORT": str(port),
    }


class RecordSamples(L.Callback):
    """Writes, for each process, the indices of the training samples its loader fetched in each epoch:
    folder/samples-rank<R>.json, a list per epoch."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.epochs: list[list[int]] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dataset = trainer.train_dataloader.dataset
        fetch = type(dataset).__getitems__
        seen: list[int] = []
        self.epochs.append(seen)

        def recording(indices: list[int]) -> Any:
            seen.extend(int(index) for index in indices)
            return fetch(dataset, indices)

        dataset.__getitems__ = recording

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"samples-rank{trainer.global_rank}.json").write_text(json.dumps(self.epochs))
