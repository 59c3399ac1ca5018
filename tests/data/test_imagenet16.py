"""NAS-Bench-201's ImageNet16-120 from fake pickles of its layout."""

import numpy as np
import pytest
import torch

from nasdsl.data import load_dataset
from nasdsl.errors import NasError
from tests.data.fakes import random_images, write_batch


def fake_imagenet16(folder):
    """Ten training batches with 1-based labels 1..200 and a validation batch; returns the
    images and labels written, training batches concatenated."""
    images, labels = [], []
    for i in range(1, 11):
        batch = random_images(6, 16, seed=i)
        batch_labels = [118, 119, 120, 121, 200, i]
        write_batch(folder / f"train_data_batch_{i}", batch, batch_labels, "labels")
        images.append(batch)
        labels += batch_labels
    val = random_images(4, 16, seed=99)
    write_batch(folder / "val_data", val, [1, 500, 120, 121], "labels")
    return np.concatenate(images), np.array(labels), val


def test_keeps_the_first_120_classes_relabelled_from_zero(tmp_path):
    """Labels 1..120 are kept as 0..119 with their images; 121 and above are dropped."""
    images, labels, val = fake_imagenet16(tmp_path)
    data = load_dataset("imagenet16-120", tmp_path)
    keep = labels <= 120
    assert data.classes == 120 and data.image_shape == (3, 16, 16)
    assert data.train_labels.tolist() == (labels[keep] - 1).tolist()
    assert torch.equal(data.train_images, torch.from_numpy(images[keep]))
    assert data.test_labels.tolist() == [0, 119]
    assert torch.equal(data.test_images, torch.from_numpy(val[[0, 2]]))
    assert len(data.mean) == 3 and all(0.3 < m < 0.7 for m in data.mean)


def test_reads_nb201s_imagenet16_subfolder(tmp_path):
    """--data-dir may be the folder holding ImageNet16/, as NAS-Bench-201's code expects."""
    fake_imagenet16(tmp_path / "ImageNet16")
    assert len(load_dataset("imagenet16-120", tmp_path).test_labels) == 2


def test_missing_files_are_listed(tmp_path):
    """An incomplete folder names the missing files and says what the layout is."""
    fake_imagenet16(tmp_path)
    (tmp_path / "train_data_batch_7").unlink()
    (tmp_path / "val_data").unlink()
    with pytest.raises(NasError, match="lacks the ImageNet16 files train_data_batch_7, val_data"):
        load_dataset("imagenet16-120", tmp_path)
    with pytest.raises(NasError, match="needs --data-dir"):
        load_dataset("imagenet16-120", None)
