{%- set spec = cookiecutter._datasets[cookiecutter.dataset] -%}
"""Data: {{ spec.title }}, downloaded once by torchvision, then kept in memory as uint8 tensors."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
from torchvision.datasets import {{ spec.torchvision_class }}
{%- if spec.torchvision_class == "CIFAR10" %}
from torchvision.datasets.utils import check_integrity
{%- else %}
from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor
{%- endif %}

from .engine.image_data import ImageDataModule, Normalize, stratified_split
from .engine.loaders import DataError, check_settings

# What torchvision reads, in {{ spec.folder }}
FILES = "{{ spec.files }}"


def read_split(root: Path, train: bool, download: bool = False) -> {{ spec.torchvision_class }}:
    """torchvision's {{ spec.torchvision_class }} dataset object for one split; missing or damaged files raise a DataError
    that says which and how to get them."""
    folder = root / "{{ spec.folder }}"
    try:
        dataset = {{ spec.torchvision_class }}(str(root), train=train, download=download)
    except Exception as error:  # torchvision's "not found", a failed download, or a file it cannot parse
        if damaged := damaged_files(folder):
            raise DataError(
                f"{', '.join(str(path) for path in damaged)}: damaged or cut short;"
                f" delete {folder} and download the dataset again"
            ) from None
        fetch = f"{{ spec.torchvision_class }}('{root}', download=True); {{ spec.torchvision_class }}('{root}', train=False, download=True)"
        raise DataError(
            f"{{ spec.title }} is not in {folder} (expected {FILES})"
            f"{' and could not be downloaded' if download else ''} ({' '.join(str(error).split())})."
            " On a machine with network, run"
            f' python -c "from torchvision.datasets import {{ spec.torchvision_class }}; {fetch}"'
            f" and copy its {root / '{{ spec.folder.split('/')[0] }}'} folder here."
        ) from None
    if len(dataset.data) != len(dataset.targets):
        raise DataError(
            f"{folder}: the {'training' if train else 'test'} split has {len(dataset.data)} images but"
            f" {len(dataset.targets)} labels: a file is damaged; delete {folder} and download the dataset again"
        )
    return dataset


def damaged_files(folder: Path) -> list[Path]:
    """The dataset's files in `folder` that are there but cannot be read whole."""
{%- if spec.torchvision_class == "CIFAR10" %}
    expected = [*{{ spec.torchvision_class }}.train_list, *{{ spec.torchvision_class }}.test_list]
    present = [(folder / name, md5) for name, md5 in expected if (folder / name).is_file()]
    return [path for path, md5 in present if not check_integrity(str(path), md5)]
{%- else %}
    damaged = []
    for path in sorted(folder.glob("*-ubyte")) if folder.is_dir() else []:
        try:
            read_sn3_pascalvincent_tensor(str(path))
        except (AssertionError, RuntimeError, ValueError, KeyError, IndexError):
            damaged.append(path)
    return damaged
{%- endif %}


class {{ cookiecutter.__datamodule_class }}(ImageDataModule):
    """{{ spec.title }}: {{ spec.what }}, loaded with torchvision.

    `prepare_data` downloads the files once, on one process, into `data_dir`. `setup` reads
    torchvision's arrays straight into tensors: no per-sample PIL decoding, ever. The official test
    set is the test split; `val_fraction` of the training set, stratified, is held out for validation.

    Args:
        data_dir: Folder that holds (or receives) the dataset's files.
        download: Fetch the files when they are missing (needs network); False only reads.
        batch_size: Samples per batch.
        num_workers: Loader worker processes; 0 is fastest for data held in memory.
        val_fraction: Share of the training set held out for validation.
        split_seed: Seed of the train/val split (independent of the training seed).
        shift: Training images are translated by up to this many pixels (0 turns it off).
        flip: Mirror training images left-right at random.
        normalize: "standard" gives pixels zero mean and unit variance per channel; "symmetric" maps
            them to [-1, 1] (the range of a generator that ends in tanh).
    """

    num_classes = 10
{%- if spec.class_names and (spec.class_names | tojson | length) > 100 %}
    class_names = [
{%- for name in spec.class_names %}
        {{ name | tojson }},
{%- endfor %}
    ]
{%- elif spec.class_names %}
    class_names = {{ spec.class_names | tojson }}
{%- endif %}
    input_shape = ({{ spec.shape | join(', ') }})
    mean, std = {{ spec.mean }}, {{ spec.std }}  # per channel, of the pixels scaled to [0, 1]

    def __init__(
        self,
        data_dir: str = "data",
        download: bool = True,
        batch_size: int = {{ spec.batch_size }},
        num_workers: int = 0,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        shift: int = {{ spec.shift }},
        flip: bool = {{ spec.flip }},
        normalize: Normalize = "standard",
    ) -> None:
        super().__init__()
        check_settings(batch_size, num_workers, val_fraction=val_fraction)
        self.save_hyperparameters()

    def prepare_data(self) -> None:
        """Download the dataset if it is missing (Lightning calls this on one process only)."""
        for train in (True, False):
            read_split(Path(self.hparams.data_dir), train, download=self.hparams.download)

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        root = Path(self.hparams.data_dir)
        train_images, train_labels = as_tensors(read_split(root, train=True))
        test = as_tensors(read_split(root, train=False))
        train, val = stratified_split(train_labels, self.hparams.val_fraction, self.hparams.split_seed)
        return {
            "train": (train_images[train], train_labels[train]),
            "val": (train_images[val], train_labels[val]),
            "test": test,
        }


def as_tensors(dataset: {{ spec.torchvision_class }}) -> tuple[Tensor, Tensor]:
    """uint8 images (N, C, H, W) and int64 labels, from the arrays torchvision keeps in memory."""
{%- if spec.torchvision_class == "CIFAR10" %}
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()  # stored as N, H, W, C
{%- else %}
    images = dataset.data.unsqueeze(1)  # stored as N, H, W
{%- endif %}
    return images, torch.as_tensor(dataset.targets, dtype=torch.long)
