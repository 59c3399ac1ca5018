"""The python-pickle batches CIFAR and NAS-Bench-201's ImageNet16 ship in: a dict with
'data' (N x C*H*W uint8, channel-planar) and a label list.

Unpickling runs whatever code a file names: these readers are for the official files, or
files a user made, never for files of unknown origin.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from nasdsl.errors import NasError


def read_batch(path: Path, label_key: str,
               shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N x C x H x W uint8) and labels (int64, as the file numbers them) of one batch."""
    batch = _unpickle(path)
    if "data" not in batch or label_key not in batch:
        raise NasError(f"{path} is not an image batch: it lacks "
                       f"'{'data' if 'data' not in batch else label_key}'",
                       hint=f"a batch is a pickled dict with 'data' and '{label_key}'")
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
    except (TypeError, ValueError):
        raise NasError(f"{path}: its 'data' is a {type(batch['data']).__name__}, not an array of "
                       "pixel values") from None
    try:
        labels = np.asarray(batch[label_key], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise NasError(f"{path}: its '{label_key}' is a {type(batch[label_key]).__name__}, not "
                       "a list of whole numbers") from None
    if data.size != len(labels) * int(np.prod(shape)):
        raise NasError(f"{path}: {data.size} pixel values for {len(labels)} labels do not make "
                       f"{len(labels)} images of {'x'.join(map(str, shape))}")
    return torch.from_numpy(data.reshape(len(labels), *shape)), torch.from_numpy(labels)


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise NasError(f"missing data file {path}")
    try:
        with open(path, "rb") as f:
            # latin1: the official files were pickled by Python 2, their keys byte strings.
            batch = pickle.load(f, encoding="latin1")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError) as error:
        raise NasError(f"{path} is not a readable pickle batch ({error})") from None
    if not isinstance(batch, dict):
        raise NasError(f"{path} holds a {type(batch).__name__}, not a pickled dict of a batch")
    return {key.decode("latin1") if isinstance(key, bytes) else key: value
            for key, value in batch.items()}
