{%- set spec = cookiecutter._datasets[cookiecutter.dataset] -%}
"""Tiny, learnable stand-ins for real data, written in the real on-disk formats, so that tests run the
real loading code without a download. Each class is a stripe pattern of its own period and direction
on noise, which neither shifts nor left-right flips change.
{{ "" }}
{%- if spec.get("fake_data") %}
    python tests/fake_data.py [PROJECT]    writes them where configs/default.yaml looks: PROJECT/{{ spec.fake_data }}
{%- else %}
    python tests/fake_data.py DIR    writes an image folder into DIR
{%- endif %}
"""

from __future__ import annotations

{% if spec.get("format") == "cifar" -%}
import pickle
{% elif spec.get("format") == "idx" -%}
import struct
{% endif -%}
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def class_images(count: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` uint8 images (count, size, size, channels) of 10 classes, and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = rng.integers(0, 50, (count, size, size, channels), dtype=np.uint8)
    position = np.arange(size)
    for image, label in zip(images, labels, strict=True):
        period = 2 + int(label) // 2  # 2 to 6 pixels
        stripes = position % period < period / 2
        lit = stripes[None, :] if label % 2 else stripes[:, None]  # vertical or horizontal
        image[np.broadcast_to(lit, (size, size))] += 180
    return images, labels.astype(np.uint8)


def write_image_folder(root: Path, per_class: int = 30, classes: int = 3) -> Path:
    """PNG files in root/class_<k>/, 20x20 RGB (the loader resizes them)."""
    images, labels = class_images(per_class * 10, 20, 3, seed=0)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        if label < classes:
            folder = root / f"class_{label}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{index:04d}.png")
    return root
{%- if spec.get("format") == "idx" %}


def write_dataset(root: Path, train: int = 600, test: int = 100) -> Path:
    """IDX files, uncompressed as torchvision leaves them after a download, in root/{{ spec.folder }}."""
    raw = root / "{{ spec.folder }}"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = class_images(count, 28, 1, seed)
        header = struct.pack(">IIII", 2051, count, 28, 28)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + labels.tobytes())
    return raw
{%- elif spec.get("format") == "cifar" %}


def write_dataset(root: Path, per_batch: int = 100, test: int = 100) -> Path:
    """The pickled batches of the CIFAR-10 python version, in root/cifar-10-batches-py. Their checksums
    cannot match the real files', so tests let torchvision skip that one check."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    batches = [(f"data_batch_{i}", per_batch, i) for i in range(1, 6)] + [("test_batch", test, 0)]
    for name, count, seed in batches:
        images, labels = class_images(count, 32, 3, seed)
        data = images.transpose(0, 3, 1, 2).reshape(count, -1)  # stored as rows of R, G, B planes
        with (folder / name).open("wb") as file:
            pickle.dump({"data": data, "labels": labels.tolist()}, file)
    with (folder / "batches.meta").open("wb") as file:
        pickle.dump({"label_names": [f"class_{i}" for i in range(10)]}, file)
    return folder
{%- endif %}

{%- if spec.get("fake_data") %}


def write_fake_data(project: Path) -> Path:
    """Fake {{ "images" if cookiecutter.dataset == "image_folder" else spec.title + " files" }} where configs/default.yaml looks for the data, below a project folder."""
    return {{ "write_image_folder" if cookiecutter.dataset == "image_folder" else "write_dataset" }}(project / "{{ spec.fake_data }}")
{%- endif %}


if __name__ == "__main__":
{%- if spec.get("fake_data") %}
    print(write_fake_data(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
{%- else %}
    print(write_image_folder(Path(sys.argv[1])))
{%- endif %}
