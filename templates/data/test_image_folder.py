{%- set module = "data" if cookiecutter.dataset == "image_folder" else "image_folder" -%}
"""The image-folder data module: layouts, resizing, channels, and the errors that name the bad path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from fake_data import write_image_folder
from PIL import Image

from {{ cookiecutter.package_name }}.{{ "data import ImageFolderDataModule, folder_batches" if module == "data" else "engine.loaders import DataError" }}
from {{ cookiecutter.package_name }}.{{ "engine.loaders import DataError" if module == "data" else "image_folder import ImageFolderDataModule, folder_batches" }}


@pytest.fixture
def folder(tmp_path: Path) -> ImageFolderDataModule:
    data = ImageFolderDataModule(str(write_image_folder(tmp_path / "images")), batch_size=32)
    data.setup()
    return data


def test_class_folders_become_labels_and_images_are_resized(folder: ImageFolderDataModule) -> None:
    assert folder.classes == ["class_0", "class_1", "class_2"]
    assert folder.num_classes == 3 and folder.input_shape == (3, 32, 32)
    sizes = {name: len(split) for name, split in folder.splits.items()}
    assert sizes == {"train": 72, "val": 9, "test": 9}  # 90 images: 10% test, then 10% of the rest
    images, labels = next(iter(folder.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (32, 3, 32, 32)
    assert set(folder.splits["test"].targets.tolist()) == {0, 1, 2}


def test_grayscale_and_a_given_size(tmp_path: Path) -> None:
    data = ImageFolderDataModule(str(write_image_folder(tmp_path)), size=16, channels=1)
    data.setup()
    assert data.input_shape == (1, 16, 16) and data.splits["train"].inputs.shape[1:] == (1, 16, 16)
    assert len(data.mean) == 1 and 0 < data.mean[0] < 1


def test_train_val_test_folders_are_used_as_they_are(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "train")
    write_image_folder(tmp_path / "test", per_class=5)
    data = ImageFolderDataModule(str(tmp_path))
    data.setup()
    # test/ is used as is; val/ is missing, so it is split off train/.
    assert {name: len(split) for name, split in data.splits.items()} == {"train": 81, "test": 15, "val": 9}


def test_empty_and_imageless_folders_are_refused_with_their_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=re.escape(f"image folder {tmp_path / 'missing'} does not exist")):
        ImageFolderDataModule(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=re.escape(f"image folder {tmp_path / 'empty'} holds no class folders")):
        ImageFolderDataModule(str(tmp_path / "empty"))
    (tmp_path / "empty" / "cats").mkdir()
    (tmp_path / "empty" / "cats" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=re.escape(f"class folder {tmp_path / 'empty' / 'cats'} holds no images")):
        ImageFolderDataModule(str(tmp_path / "empty"))


def test_a_corrupt_image_stops_setup_or_is_skipped_with_a_warning(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path)
    bad = root / "class_1" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really an image")
    with pytest.raises(DataError, match=re.escape(f"cannot read image {bad}")):
        ImageFolderDataModule(str(root)).setup()
    data = ImageFolderDataModule(str(root), skip_bad_images=True)
    with pytest.warns(UserWarning, match=re.escape(f"skipping unreadable image {bad}")):
        data.setup()
    assert sum(len(split) for split in data.splits.values()) == 90


def test_jpeg_and_odd_sizes_are_read_too(tmp_path: Path) -> None:
    for label, colour in (("red", (250, 0, 0)), ("blue", (0, 0, 250))):
        (tmp_path / label).mkdir()
        for index in range(10):
            Image.new("RGB", (17 + index, 23), colour).save(tmp_path / label / f"{index}.jpg")
    data = ImageFolderDataModule(str(tmp_path), size=8, val_fraction=0.2, test_fraction=0.2)
    data.setup()
    red = data.splits["train"].inputs[data.splits["train"].targets == data.classes.index("red")]
    assert red.shape[1:] == (3, 8, 8) and red[:, 0].float().mean() > 200 and red[:, 2].float().mean() < 50


def test_an_image_too_large_to_decode_safely_is_skipped_like_a_corrupt_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_image_folder(tmp_path)
    bomb = root / "class_0" / "bomb.png"
    Image.new("L", (64, 64)).save(bomb)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64x64 is then over twice the limit, as a bomb is
    with pytest.raises(DataError, match=re.escape(f"cannot read image {bomb}")):
        ImageFolderDataModule(str(root), size=8).setup()
    data = ImageFolderDataModule(str(root), size=8, skip_bad_images=True)
    with pytest.warns(UserWarning, match=re.escape(f"skipping unreadable image {bomb}")):
        data.setup()
    assert sum(len(split) for split in data.splits.values()) == 90


def test_prediction_input_skips_unreadable_files_and_follows_no_link_loop(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path, per_class=2, classes=2)
    (root / "class_0" / "broken.png").write_bytes(b"not an image")
    (root / "class_1" / "loop").symlink_to(root, target_is_directory=True)
    with pytest.warns(UserWarning, match=re.escape(f"skipping unreadable image {root / 'class_0' / 'broken.png'}")):
        batches = list(folder_batches(root, (1, 8, 8)))
    paths = [path for chunk, _ in batches for path in chunk]
    assert len(paths) == 4 and all(path.parent.parent == root for path in paths)
    assert batches[0][1].shape == (4, 1, 8, 8) and batches[0][1].dtype == torch.uint8
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'nowhere'} is not a folder")):
        list(folder_batches(tmp_path / "nowhere", (1, 8, 8)))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_bytes(b"not an image")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="none of the 1 images under .*junk can be read"):
        list(folder_batches(tmp_path / "junk", (1, 8, 8)))
