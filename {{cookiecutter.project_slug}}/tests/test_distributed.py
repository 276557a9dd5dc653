{%- set task = cookiecutter.task -%}
{%- set images = cookiecutter.dataset != "signal" -%}
"""Several processes on CPUs (gloo): DDP with Lightning's launcher, torchrun (one node and two), SLURM's
variables with a requeue, FSDP2. Every multi-process run here trains alike, so each is compared with one
reference run: the same weights, bit for bit, whatever launched it."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import stat
from pathlib import Path

import pytest
import torch
from conftest import QUIET, ROOT, load_script{% if cookiecutter._datasets[cookiecutter.dataset].get("format") == "cifar" %}, skip_checksums{% endif %}
{%- if cookiecutter.dataset == "image_folder" %}
from fake_data import write_image_folder
{%- elif cookiecutter._datasets[cookiecutter.dataset].download %}
from fake_data import write_dataset
{%- endif %}
from processes import (
    DDP,
    QUICK,
    alive_in_session,
    finish,
    free_port,
    kill_session,
    read_output,
    relative_difference,
    run_folder,
    slurm_variables,
    start,
    train,
    wait_for,
    weights,
)

from {{ cookiecutter.package_name }}.engine.checkpoints import load_checkpoint

pytestmark = pytest.mark.slow
evaluate = load_script("evaluate")
TORCHRUN = ("-m", "torch.distributed.run")
{%- if task in ("classification", "autoencoder") %}
# Normalisation that does not depend on how a batch is split over processes (SyncBatchNorm needs GPUs).
GROUP_NORM = """import torch.nn
torch.nn.BatchNorm2d = lambda channels, *args, **kwargs: torch.nn.GroupNorm(1, channels)
"""
{%- endif %}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The data the default config reads (fake files in the real formats), shared by every run here."""
{%- if cookiecutter.dataset == "image_folder" %}
    folder = tmp_path_factory.mktemp("data")
    write_image_folder(folder / "images", per_class=100)  # 2 batches a process: a requeue can come mid-epoch
    return folder
{%- elif cookiecutter.dataset in ("digits", "signal") %}
    return None  # {{ "bundled with scikit-learn" if cookiecutter.dataset == "digits" else "generated" }}
{%- else %}
    folder = tmp_path_factory.mktemp("data")
    write_dataset(folder)
    return folder
{%- endif %}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, data: Path | None) -> Path:
    """A run on 2 processes started by Lightning's own launcher, recording the samples each one trains on."""
    folder = run_folder(tmp_path_factory.mktemp("reference"), data)
    samples = ["--trainer.callbacks+=processes.RecordSamples", f"--trainer.callbacks.folder={folder / 'samples'}"]
    train(folder, *QUICK, *DDP, *samples)
    return folder


def enter(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work in `folder`, as the scripts run there{% if cookiecutter._datasets[cookiecutter.dataset].get("format") == "cifar" %} (CIFAR-10's checksums skipped: the files are fake){% endif %}."""
    monkeypatch.chdir(folder)
{%- if cookiecutter._datasets[cookiecutter.dataset].get("format") == "cifar" %}
    skip_checksums(monkeypatch)
{%- endif %}


def only_run(folder: Path) -> Path:
    """The one run folder under folder/logs."""
    runs = [path for path in (folder / "logs").iterdir() if path.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def assert_same_weights(run: Path, other: Path) -> None:
    """Two runs' final weights are equal, bit for bit."""
    mine, theirs = weights(run), weights(other)
    assert mine.keys() == theirs.keys()
    for name, tensor in mine.items():
        assert torch.equal(tensor, theirs[name]), name


def test_each_process_trains_on_its_own_share_of_every_epoch(reference: Path) -> None:
    shares = [json.loads((reference / "samples" / f"samples-rank{rank}.json").read_text()) for rank in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 2  # epochs
    for first, second in zip(*shares, strict=True):
        assert first and second and set(first).isdisjoint(second)
        everything = sorted(first + second)
        assert everything == list(range(len(everything)))  # each training sample once
    assert shares[0][0] != shares[0][1] and shares[1][0] != shares[1][1]  # a new order every epoch


def test_the_first_process_alone_writes_the_results_once(reference: Path) -> None:
    run = only_run(reference)
    assert [path.name for path in run.glob("*.json")] == ["test_metrics.json"]
    assert re.search(r"^  devices: '?2'?$", (run / "config.yaml").read_text(), re.MULTILINE)
    output = read_output(reference)
    assert len(re.findall(r"^Test of ", output, re.MULTILINE)) == 1
    assert "sync_dist=True" not in output  # Lightning's advice when a logged value is not reduced over processes


def test_the_test_on_one_device_gives_what_evaluating_the_checkpoint_gives(
    reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = json.loads((only_run(reference) / "test_metrics.json").read_text())
    enter(reference, monkeypatch)
    assert evaluate.main(["--ckpt_path", saved["checkpoint"], *QUIET]) == saved["metrics"]
    assert all(map(math.isfinite, saved["metrics"].values()))


def test_a_killed_run_resumes_to_the_same_weights(reference: Path, data: Path | None, tmp_path: Path) -> None:
    folder = run_folder(tmp_path / "killed", data)
    process = start(folder, *QUICK, *DDP)
    wait_for(folder / "logs" / "version_0" / "checkpoints" / "last.ckpt", process)
    kill_session(process)  # every process of the run, as when its machine fails
    assert alive_in_session(process.pid) == []
    assert load_checkpoint(folder / "logs" / "version_0" / "checkpoints" / "last.ckpt")["epoch"] == 0
    train(folder, "--resume", "auto")
    assert not list((only_run(folder) / "checkpoints").glob("last-v*"))  # the resumed run moved last.ckpt on
    assert_same_weights(only_run(folder), only_run(reference))
    saved = [json.loads((only_run(f) / "test_metrics.json").read_text()) for f in (folder, reference)]
    assert saved[0]["metrics"] == saved[1]["metrics"]


def test_torchrun_on_one_node_and_on_two(reference: Path, data: Path | None, tmp_path: Path) -> None:
    one_node = run_folder(tmp_path / "standalone", data)
    torchrun = (*TORCHRUN, "--standalone", "--nproc_per_node", "2")
    train(one_node, *QUICK, *DDP, launcher=torchrun)
    assert_same_weights(only_run(one_node), only_run(reference))

    two_nodes, port = run_folder(tmp_path / "two_nodes", data), str(free_port())
    node = ("--nnodes", "2", "--nproc_per_node", "1", "--master_addr", "127.0.0.1", "--master_port", port)
    flags = [*QUICK, "--trainer.devices=1", "--trainer.num_nodes=2", "--trainer.strategy=ddp"]
    # One thread a process, as on one node (Lightning and torchrun set it there): the same arithmetic, bit for bit.
    launchers = [(*TORCHRUN, *node, "--node_rank", str(rank)) for rank in (0, 1)]
    nodes = [start(two_nodes, *flags, launcher=launcher, OMP_NUM_THREADS="1") for launcher in launchers]
    finish(*nodes)
    assert_same_weights(only_run(two_nodes), only_run(reference))


{%- if task == "classification" and cookiecutter.optimizers == "2" %}


def test_ddp_spawn_trains_alike(reference: Path, data: Path | None, tmp_path: Path) -> None:
    folder = run_folder(tmp_path / "spawn", data)
    train(folder, *QUICK, "--trainer.devices=2", "--trainer.strategy=ddp_spawn")  # needs train.py's main guard
    assert_same_weights(only_run(folder), only_run(reference))
{%- endif %}


def test_a_slurm_job_requeued_on_its_signal_resumes_exactly(reference: Path, data: Path | None, tmp_path: Path) -> None:
    folder = run_folder(tmp_path / "slurm", data)
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    scontrol = bin_folder / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.txt"}\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    path = f"{bin_folder}{os.pathsep}{os.environ['PATH']}"
    flags = [*QUICK, "--config", str(ROOT / "configs" / "slurm.yaml"), "--trainer.accelerator=cpu"]
    flags += ["--trainer.num_nodes=1", "--trainer.devices=2"]

    def job_step() -> list:
        port = free_port()
        return [start(folder, *flags, PATH=path, **slurm_variables("7321", rank, 2, port)) for rank in (0, 1)]

    tasks = job_step()
    run = folder / "logs" / "slurm-7321"
    wait_for(run / "checkpoints" / "last.ckpt", tasks[0])
    for task in tasks:
        task.send_signal(signal.SIGUSR1)  # what --signal=SIGUSR1@90 sends before the time limit
    finish(*tasks)
    assert (tmp_path / "scontrol.txt").read_text() == "requeue 7321\n"
    steps = load_checkpoint(only_run(reference) / "checkpoints" / "last.ckpt")["global_step"]
    assert 0 < load_checkpoint(run / "hpc_ckpt_1.ckpt")["global_step"] < steps  # saved within the run
    assert not (run / "test_metrics.json").exists()  # the requeued job tests, not this one

    finish(*job_step())  # the requeued job: same job id, same folder
    assert f"going on with {Path('logs') / 'slurm-7321'} from" in read_output(folder)
    assert_same_weights(run, only_run(reference))


def test_the_sbatch_script_asks_slurm_for_what_the_run_uses() -> None:
    script = (ROOT / "scripts" / "slurm.sbatch").read_text()
    assert os.system(f"bash -n {ROOT / 'scripts' / 'slurm.sbatch'}") == 0
    options = dict(re.findall(r"^#SBATCH --([\w-]+)(?:=(\S+))?", script, re.MULTILINE))
    assert options["ntasks-per-node"] == options["gpus-per-node"]  # one process per GPU
    assert options["signal"] == "SIGUSR1@90" and "requeue" in options
    srun = script[script.index("srun ") :]
    assert "--config configs/slurm.yaml" in srun
    assert '--trainer.num_nodes "$SLURM_JOB_NUM_NODES"' in srun  # = --nodes
    assert '--trainer.devices "$SLURM_NTASKS_PER_NODE"' in srun  # = --ntasks-per-node


def test_fsdp_shards_the_checkpoints_and_they_serve_one_process(
    reference: Path, data: Path | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = run_folder(tmp_path / "fsdp", data)
    train(folder, *QUICK, "--config", str(ROOT / "configs" / "fsdp.yaml"), "--trainer.accelerator=cpu", *DDP[:1])
    run = only_run(folder)
    saved = json.loads((run / "test_metrics.json").read_text())
    best = Path(folder / saved["checkpoint"])
    assert best.is_dir() and len(list(best.glob("*.distcp"))) == 2  # one shard per process
    # FSDP averages the gradients as DDP does: after the first epoch the weights agree to rounding (later,
    # {{ "Adam and the adversarial game magnify" if task == "gan" else "Adam magnifies" }} the rounding differences). Batch-norm running statistics are each
    # process's own under FSDP, where DDP copies the first process's to the others at every step.
    first = [next((f / "checkpoints").glob("epoch000-*.ckpt")) for f in (run, only_run(reference))]
    sharded, replicated = (load_checkpoint(path)["state_dict"] for path in first)  # consolidated beside it
    trained = [name for name in sharded if not re.search(r"running_|num_batches_tracked", name)]
    assert relative_difference(*({name: w[name] for name in trained} for w in (sharded, replicated))) < 1e-4
    enter(folder, monkeypatch)
    assert evaluate.main(["--ckpt_path", str(best), *QUIET]) == saved["metrics"]
    export = load_script("export")
    files = export.main(["--ckpt_path", str(best), "--output", str(tmp_path / "exports")])  # checks outputs itself
    assert files["onnx"].is_file() and files["program"].is_file()
{%- if task in ("classification", "autoencoder") %}


def test_two_processes_at_batch_b_train_like_one_at_batch_2b(data: Path | None, tmp_path: Path) -> None:
    """The proof that sharding, gradient averaging and schedules are right: no augmentation, no dropout,
    normalisation per sample, only whole batches."""
    b = 32
    flags = [*QUICK, "--trainer.limit_train_batches=5", "--data.shift=0", "--data.flip=false"]
{%- if task == "classification" %}
    flags.append("--model.net.dropout=0")
{%- endif %}
    one = run_folder(tmp_path / "one", data, GROUP_NORM)
    two = run_folder(tmp_path / "two", data, GROUP_NORM)
    train(one, *flags, f"--data.batch_size={2 * b}")
    train(two, *flags, *DDP, f"--data.batch_size={b}")
    single, double = weights(only_run(one)), weights(only_run(two))
    assert not any("running_mean" in name for name in single)  # no batch norm left
    assert relative_difference(double, single) < 1e-4
{%- endif %}
