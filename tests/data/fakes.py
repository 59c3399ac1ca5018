"""Tiny stand-ins for the datasets' files, written into a test's directory."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def write_batch(path: Path, images: np.ndarray, labels, label_key: str,
                byte_keys: bool = False) -> None:
    """A pickled batch as CIFAR and ImageNet16 ship them: channel-planar rows of pixels.
    `byte_keys` writes keys as Python 2's pickles read with encoding='bytes' show them."""
    batch = {"data": images.reshape(len(images), -1), label_key: list(labels),
             "batch_label": "fake"}
    if byte_keys:
        batch = {key.encode(): value for key, value in batch.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(batch, f)


def random_images(count: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 3, size, size), dtype=np.uint8)


def write_image(path: Path, pixels: np.ndarray) -> None:
    """An image file from H x W (grayscale) or H x W x 3 uint8 pixels; the suffix picks the
    format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
