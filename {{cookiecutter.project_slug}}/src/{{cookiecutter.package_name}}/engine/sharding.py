"""FSDP2 for models too big for one GPU: `fully_shard` under Lightning's ModelParallelStrategy
(configs/fsdp.yaml), and the sharded checkpoints it writes turned into ordinary ones.

Usage:
    python -m {{ cookiecutter.package_name }}.engine.sharding logs/version_0/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

# What Lightning's ModelParallelStrategy writes into a sharded checkpoint folder besides the shards.
METADATA = "meta.pt"


def shard_nets(nets: Iterable[nn.Module], mesh: Any) -> None:
    """Shard each net's parameters over the processes of `mesh` (the `device_mesh` Lightning's
    ModelParallelStrategy gives a LightningModule): every layer that holds weights on its own, so that
    only one layer's are gathered at a time, then the net as a whole. Nets sharded already are left as
    they are.

    Lightning's mesh has two dimensions (nodes x processes per node): the parameters are sharded across
    the processes of a node and replicated across nodes (HSDP; plain FSDP on one node).
    """
    from torch.distributed.fsdp import FSDPModule, fully_shard

    for net in nets:
        if isinstance(net, FSDPModule):
            continue
        for layer in net.modules():
            if layer is not net and any(True for _ in layer.parameters(recurse=False)):
                fully_shard(layer, mesh=mesh)
        fully_shard(net, mesh=mesh)


def is_sharded(path: Path) -> bool:
    """Whether `path` is a sharded checkpoint folder (torch.distributed.checkpoint plus Lightning's metadata)."""
    return path.is_dir() and (path / METADATA).is_file() and (path / ".metadata").is_file()


def consolidated_path(path: Path) -> Path:
    """Where the consolidated copy of the sharded checkpoint `path` goes: beside it."""
    return path.with_name(f"{path.name}.consolidated")


def consolidate(path: Path) -> Path:
    """Write the sharded checkpoint `path` as one ordinary checkpoint file (weights, hyper-parameters,
    loop and callback states; not the optimizer states, which only resuming the sharded run uses) and
    return its path. Done once: an existing consolidated copy that is newer than the shards is reused."""
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    from .checkpoints import AtomicCheckpointIO, load_checkpoint

    target = consolidated_path(path)
    if target.is_file() and target.stat().st_mtime >= (path / ".metadata").stat().st_mtime:
        return target
    full = target.with_name(f".{target.name}.shards")
    try:
        dcp_to_torch_save(path, full)
        weights = torch.load(full, map_location="cpu", weights_only=True)["state_dict"]
    finally:
        full.unlink(missing_ok=True)
    checkpoint = {**load_checkpoint(path / METADATA, require_weights=False), "state_dict": weights}
    AtomicCheckpointIO().save_checkpoint(checkpoint, target)
    return target


def main(args: list[str] | None = None) -> None:
    """Consolidate the sharded checkpoints given on the command line."""
    parser = argparse.ArgumentParser(description="Turn sharded (FSDP2) checkpoints into ordinary checkpoint files.")
    parser.add_argument("checkpoints", nargs="+", type=Path, help="sharded checkpoint folders (*.ckpt/)")
    for path in parser.parse_args(args).checkpoints:
        if not is_sharded(path):
            raise SystemExit(f"error: {path} is not a sharded checkpoint folder (it has no {METADATA} and .metadata)")
        print(f"{path} -> {consolidate(path)}")


if __name__ == "__main__":
    main()
