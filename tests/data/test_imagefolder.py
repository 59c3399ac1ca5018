"""Folders of image files: class order, decoding, size checks, decoding only a subset."""

import shutil
import subprocess

import numpy as np
import pytest
import torch

from nasdsl.data import imagefolder, load_dataset
from nasdsl.errors import NasError
from tests.data.fakes import write_image
from tests.paths import SHARED_DATA

CIFAR_JPEG = SHARED_DATA / "cifar10" / "cifar10-jpeg.tar.gz"


def solid(value, size=(4, 6)):
    """An RGB image of one colour, value in every channel: recognisable after PNG round trips."""
    return np.full((*size, 3), value, dtype=np.uint8)


def small_folder(root):
    """Three classes written out of order, PNG (lossless) with each file's value unique."""
    for split, count in (("train", 3), ("test", 1)):
        for c, name in enumerate(["zebra", "apple", "mango"]):
            for i in range(count):
                write_image(root / split / name / f"{i}.png",
                            solid(100 * (split == "test") + 10 * c + i))
    return root


def test_classes_are_numbered_in_name_order(tmp_path):
    """apple, mango, zebra become 0, 1, 2 whatever order they were made in; pixels and labels
    travel together, images come out as C x H x W."""
    data = load_dataset("imagefolder", small_folder(tmp_path))
    assert data.classes == 3 and data.image_shape == (3, 4, 6)
    assert data.train_labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # written value 10 * c + i, c the creation order zebra=0, apple=1, mango=2
    assert data.train_images[:, 0, 0, 0].tolist() == [10, 11, 12, 20, 21, 22, 0, 1, 2]
    assert data.test_labels.tolist() == [0, 1, 2]
    assert data.test_images[:, :, 2, 3].tolist() == [[110] * 3, [120] * 3, [100] * 3]


def test_jpeg_and_grayscale_images(tmp_path):
    """JPEGs decode close to what was written; an all-grayscale folder is one channel, and
    one RGB image among grayscale ones makes every image three channels."""
    write_image(tmp_path / "train" / "a" / "x.jpg", np.full((8, 8), 200, dtype=np.uint8))
    write_image(tmp_path / "train" / "b" / "y.JPEG", np.full((8, 8), 50, dtype=np.uint8))
    write_image(tmp_path / "test" / "a" / "z.jpg", np.full((8, 8), 90, dtype=np.uint8))
    data = load_dataset("imagefolder", tmp_path)
    assert data.image_shape == (1, 8, 8)
    assert (data.train_images.int() - torch.tensor([200, 50])[:, None, None, None]).abs().max() <= 2
    write_image(tmp_path / "test" / "b" / "w.png", solid(30, (8, 8)))
    mixed = load_dataset("imagefolder", tmp_path)
    assert mixed.image_shape == (3, 8, 8)
    assert (mixed.train_images[0].int() - 200).abs().max() <= 2


def test_images_of_another_size_are_named(tmp_path):
    """One image of a different size is an error naming that file and both sizes."""
    small_folder(tmp_path)
    write_image(tmp_path / "test" / "mango" / "odd.png", solid(0, (5, 6)))
    with pytest.raises(NasError, match=r"mango/odd.png is 6x5 pixels, but .* is 6x4"):
        load_dataset("imagefolder", tmp_path)


def test_other_files_are_ignored_and_broken_images_named(tmp_path):
    """Files that are not images (by suffix) and hidden entries are skipped; a file with an
    image suffix that does not decode is an error naming it."""
    small_folder(tmp_path)
    (tmp_path / "train" / "apple" / "notes.txt").write_text("not an image")
    (tmp_path / "train" / ".ipynb_checkpoints").mkdir()
    assert load_dataset("imagefolder", tmp_path).classes == 3
    (tmp_path / "train" / "apple" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(NasError, match="cannot decode the image .*broken.png"):
        load_dataset("imagefolder", tmp_path)


@pytest.mark.parametrize("mistake, message", [
    (lambda root: shutil.rmtree(root / "test"), "has no test/ folder"),
    (lambda root: (root / "test" / "kiwi").mkdir(),
     "kiwi is a class the training set does not have"),
    (lambda root: [p.unlink() for p in (root / "train" / "mango").iterdir()],
     "mango holds no images"),
])
def test_layout_mistakes_are_clear_errors(tmp_path, mistake, message):
    """A missing split, a test class without training images, an empty class folder."""
    small_folder(tmp_path)
    mistake(tmp_path)
    with pytest.raises(NasError, match=message):
        load_dataset("imagefolder", tmp_path)


def test_imagefolder_needs_a_directory():
    """Without --data-dir the error says which layout to point at."""
    with pytest.raises(NasError, match="needs --data-dir") as caught:
        load_dataset("imagefolder", None)
    assert "DIR/train/<class>/" in caught.value.hint


def counting_decoder(monkeypatch):
    decoded = []
    real = imagefolder._decode
    monkeypatch.setattr(imagefolder, "_decode", lambda path: decoded.append(path) or real(path))
    return decoded


def test_subset_decodes_only_the_kept_files(tmp_path, monkeypatch):
    """--subset 4 of 9 training images decodes 4 training files and 1 test file, no more."""
    small_folder(tmp_path)
    decoded = counting_decoder(monkeypatch)
    data = load_dataset("imagefolder", tmp_path, subset=4, seed=1)
    assert len(data.train_labels) == 4 and len(data.test_labels) == 1
    assert len(decoded) == 5


# Slow: writing 60,000 files takes 1 to 12 s here, as the disk is busy or not.
@pytest.mark.slow
@pytest.mark.skipif(not CIFAR_JPEG.is_file(), reason=f"{CIFAR_JPEG} is not here")
@pytest.mark.skipif(shutil.which("tar") is None, reason="no tar command to unpack it")
def test_cifar10_jpegs_subset(tmp_path, monkeypatch):
    """The 60,000 CIFAR-10 JPEGs with --subset 200: 10 classes, 200 training and 40 test
    images of 3x32x32 with CIFAR-like channel means, and only those 240 files decoded."""
    # tar(1) unpacks the 60,000 files about four times faster than Python's tarfile.
    subprocess.run(["tar", "-xzf", str(CIFAR_JPEG), "-C", str(tmp_path)], check=True)
    decoded = counting_decoder(monkeypatch)
    data = load_dataset("imagefolder", tmp_path, subset=200, seed=0)
    assert data.classes == 10 and data.image_shape == (3, 32, 32)
    assert len(data.train_labels) == 200 and len(data.test_labels) == 40
    assert len(decoded) == 240
    assert set(data.train_labels.tolist()) == set(range(10))
    assert np.allclose(data.mean, (0.491, 0.483, 0.447), atol=0.05)
