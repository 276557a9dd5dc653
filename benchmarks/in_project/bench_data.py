"""Benchmark a rendered project's data pipeline against torchvision's usual per-sample one, on the same images.

Copied into a rendered project's package and run there by benchmarks/speed.py (see it for usage):
    python -m <package>.bench_data                    # the data in configs/default.yaml
    python -m <package>.bench_data --synthetic 60000  # random images of its shape, no files

The project's pipeline slices whole batches out of uint8 tensors and turns them into model input
as tensors (`to_model_input`, what training does on the device). The per-sample one is what
torchvision's datasets do: a PIL image per sample, `ToTensor()`, `Normalize`, then collation. Both
run here on the CPU, on the same images, with the same batch size and loader workers.
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable, Iterable

import torch
import yaml
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from .engine.cli import DEFAULT_CONFIG
from .engine.image_data import to_model_input
from .engine.loaders import TensorBatches, tensor_loader


class PerSampleImages(Dataset):
    """What torchvision's MNIST and CIFAR10 do per item: the uint8 array to a PIL image, then `transform`."""

    def __init__(self, images: Tensor, labels: Tensor, transform: Callable) -> None:
        self.arrays = images.permute(0, 2, 3, 1).numpy()  # N, H, W, C, as PIL wants them
        self.labels, self.transform = labels.tolist(), transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        array = self.arrays[index]
        return self.transform(Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)), self.labels[index]


def per_sample_loader(
    images: Tensor, labels: Tensor, mean: tuple, std: tuple, pixel_max: float, batch_size: int, **loader: object
) -> DataLoader:
    """torchvision's way: ToTensor (pixels / 255), then Normalize, one sample at a time."""
    scale = pixel_max / 255  # so that both pipelines give the same numbers when pixels do not reach 255
    normalize = transforms.Normalize([m * scale for m in mean], [s * scale for s in std])
    dataset = PerSampleImages(images, labels, transforms.Compose([transforms.ToTensor(), normalize]))
    return DataLoader(dataset, batch_size=batch_size, **loader)


def batches_per_second(batches: Iterable, prepare: Callable, limit: int) -> float:
    """Batches a second over the first `limit` batches, each passed through `prepare`."""
    start, count = time.perf_counter(), 0
    for batch in batches:
        prepare(batch)
        count += 1
        if count == limit:
            break
    return count / (time.perf_counter() - start)


def benchmark_images(synthetic: int) -> tuple[Tensor, Tensor, tuple, tuple, float]:
    """Training images and labels, their mean and std, and their top pixel value: those of the data
    module in configs/default.yaml, or `synthetic` random images of its shape."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())["data"]
    module, name = config["class_path"].rsplit(".", 1)
    data_class, arguments = getattr(importlib.import_module(module), name), config["init_args"]
    if synthetic:
        size = arguments.get("size")  # an image folder's; the other data modules have a fixed shape
        shape = getattr(data_class, "input_shape", None) or (arguments["channels"], size, size)
        images = torch.randint(0, 256, (synthetic, *shape), dtype=torch.uint8)
        return images, torch.randint(0, 10, (synthetic,)), (0.5,) * shape[0], (0.29,) * shape[0], 255.0
    data = data_class(**arguments)
    data.prepare_data()
    data.setup()
    train = data.splits["train"]
    return train.inputs, train.targets, data.mean, data.std, data.pixel_max


def main(args: list[str] | None = None) -> dict[str, float]:
    """Time both pipelines and print batches per second and the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=100, help="batches timed per pipeline")
    parser.add_argument("--num_workers", type=int, default=0)
    parser.add_argument("--synthetic", type=int, default=0, help="time this many random images instead")
    options = parser.parse_args(args)
    images, labels, mean, std, pixel_max = benchmark_images(options.synthetic)
    size, workers = options.batch_size, options.num_workers
    ours = tensor_loader(TensorBatches(images, labels), size, shuffle=True, num_workers=workers)
    theirs = per_sample_loader(images, labels, mean, std, pixel_max, size, shuffle=True, num_workers=workers)
    limit = min(options.batches, len(ours))
    result = {
        "project": batches_per_second(ours, lambda batch: to_model_input(batch[0], mean, std, pixel_max), limit),
        "per_sample": batches_per_second(theirs, lambda batch: batch, limit),
    }
    result["speedup"] = result["project"] / result["per_sample"]
    print(f"{len(images):,} training images of shape {tuple(images.shape[1:])}, batch {size}, {limit} batches")
    print(f"project pipeline (batch slicing, tensor normalisation): {result['project']:10.1f} batches/s")
    print(f"torchvision per-sample (PIL, ToTensor, Normalize):      {result['per_sample']:10.1f} batches/s")
    print(f"speed-up: {result['speedup']:.1f}x")
    return result


if __name__ == "__main__":
    main()
