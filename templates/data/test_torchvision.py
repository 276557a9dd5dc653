{%- set cls = cookiecutter.__datamodule_class -%}
{%- set spec = cookiecutter._datasets[cookiecutter.dataset] -%}
"""The {{ cookiecutter.dataset }} data module on tiny files in the real format: torchvision's own loading code runs."""

from __future__ import annotations

{% if cookiecutter._datasets[cookiecutter.dataset].get("format") != "cifar" -%}
import struct
{% endif -%}
from pathlib import Path

import pytest
import torch
{%- if cookiecutter._datasets[cookiecutter.dataset].get("format") != "cifar" %}
from fake_data import write_dataset
{%- endif %}

from {{ cookiecutter.package_name }}.data import {{ cls }}
from {{ cookiecutter.package_name }}.engine.loaders import DataError


def test_splits_hold_the_official_test_set_and_a_stratified_val_split(datamodule: {{ cls }}) -> None:
    sizes = {name: len(split) for name, split in datamodule.splits.items()}
    total_train = {{ 500 if cookiecutter._datasets[cookiecutter.dataset].get("format") == "cifar" else 600 }}
    assert sizes == {"train": total_train - total_train // 10, "val": total_train // 10, "test": 100}
    for split in datamodule.splits.values():
        assert set(split.targets.tolist()) == set(range(10))


def test_images_are_uint8_tensors_that_become_normalised_model_input(datamodule: {{ cls }}) -> None:
    images, labels = next(iter(datamodule.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (32, *datamodule.input_shape)
    assert labels.dtype == torch.long
    inputs, _ = datamodule.on_after_batch_transfer((images, labels), 0)
    assert inputs.dtype == torch.float32 and inputs.shape == images.shape
{%- if cookiecutter.task == "gan" %}
    assert inputs.min() >= -1 and inputs.max() <= 1
{%- else %}
    scaled = images.float() / 255
    mean = torch.tensor(datamodule.mean).view(1, -1, 1, 1)
    std = torch.tensor(datamodule.std).view(1, -1, 1, 1)
    assert torch.allclose(inputs, (scaled - mean) / std)
{%- endif %}


def test_missing_files_say_where_they_were_expected_and_how_to_get_them(tmp_path: Path) -> None:
    data = {{ cls }}(str(tmp_path / "nowhere"), download=False)
    with pytest.raises(DataError) as error:
        data.prepare_data()
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message and "expected" in message
    assert "On a machine with network" in message and "download=True" in message


def test_prepare_data_reads_present_files_without_network(datamodule: {{ cls }}) -> None:
    datamodule.prepare_data()  # download=False in the fixture: only reads, raises if anything is missing
    assert datamodule.num_classes == 10 and datamodule.input_shape == ({{ spec.shape | join(', ') }})


def test_a_damaged_file_is_named(datamodule: {{ cls }}) -> None:
    root = Path(datamodule.hparams.data_dir)
{%- if cookiecutter._datasets[cookiecutter.dataset].get("format") == "cifar" %}
    damaged = root / "cifar-10-batches-py" / "test_batch"
{%- else %}
    damaged = root / "{{ spec.folder }}" / "t10k-images-idx3-ubyte"
{%- endif %}
    damaged.write_bytes(damaged.read_bytes()[:1000])  # cut short, as by an interrupted copy
    with pytest.raises(DataError, match="damaged or cut short; delete") as error:
        {{ cls }}(str(root), download=False).prepare_data()
    assert str(damaged) in str(error.value)
{%- if cookiecutter._datasets[cookiecutter.dataset].get("format") != "cifar" %}


def test_images_and_labels_of_different_counts_are_refused(tmp_path: Path) -> None:
    raw = write_dataset(tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte"
    labels.write_bytes(struct.pack(">II", 2049, 90) + labels.read_bytes()[8:98])  # 90 labels for 100 images
    with pytest.raises(DataError, match="the test split has 100 images but 90 labels: a file is damaged"):
        {{ cls }}(str(tmp_path), download=False).prepare_data()
{%- endif %}
