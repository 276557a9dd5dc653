"""GPU speed-ups that change nothing on the CPU: TF32 matrix products, channels_last convolutions,
torch.compile, and tensor datasets held on the GPU."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from .sharding import shard_nets


def use_tensor_cores() -> None:
    """Let float32 matrix products use TF32 tensor cores on GPUs that have them (a 10-bit mantissa in the
    products, float32 accumulation): several times faster, with no visible effect on training."""
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")


def prepare_for_trainer(module: L.LightningModule, *nets: nn.Module) -> None:
    """Make the module's `nets` fast where its trainer runs them (call from `configure_model`): see
    `prepare_nets`; compiled when the trainer's `compile` flag is on."""
    trainer = module.trainer
    compile = getattr(trainer, "compile", False)
    prepare_nets(nets, trainer.strategy.root_device, compile, mesh=module.device_mesh)


def prepare_nets(
    nets: Iterable[nn.Module], device: torch.device, compile: bool, channels_last: bool = True, mesh: Any = None
) -> None:
    """Make `nets` fast on `device`: channels_last weights for convolutions on a GPU (the layout its
    tensor cores want), sharded over the processes of `mesh` (FSDP2, see sharding.py; a LightningModule's
    `device_mesh`, None outside ModelParallelStrategy), and `torch.compile` if asked. The weights' names
    stay as they are."""
    nets = list(nets)
    if channels_last and device.type == "cuda":
        for net in nets:
            net.to(memory_format=torch.channels_last)
    if mesh is not None:
        shard_nets(nets, mesh)
    for net in nets:
        if compile and not getattr(net, "_compile_requested", False):
            net.compile()  # compiled on the first forward pass; state_dict keys are unchanged
            net._compile_requested = True


def channels_last_on_gpu(images: Tensor) -> Tensor:
    """A 4-d batch in channels_last layout if it is on a GPU (it matches the weights), else as it is."""
    return images.contiguous(memory_format=torch.channels_last) if images.is_cuda else images


def fits_on_device(tensors: Iterable[Tensor], device: torch.device, share: float = 0.25) -> bool:
    """Whether `tensors` take at most `share` of the free memory of the GPU `device`."""
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    needed = sum(t.numel() * t.element_size() for t in tensors)
    if needed > share * free:
        share_text = f"{share * 100:.0f}% of free GPU memory"
        rank_zero_info(f"data: {needed / 2**30:.1f} GiB stays in host memory, over {share_text}")
        return False
    return True
