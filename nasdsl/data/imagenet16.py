"""ImageNet16-120 (NAS-Bench-201): ImageNet downsampled to 16x16, the first 120 classes.

NAS-Bench-201's layout: pickles `train_data_batch_1`..`train_data_batch_10` and `val_data`,
each with 'data' (N x 768 uint8, 16x16x3 channel-planar) and 'labels' numbered from 1.
There is no canonical download to fall back on (the files come from image-net.org after
registering), so a missing file is an error saying where they go.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from nasdsl.data.images import ImageData, build
from nasdsl.data.pickles import read_batch
from nasdsl.data.subset import subset_indices
from nasdsl.errors import NasError

CLASSES = 120
TRAIN = tuple(f"train_data_batch_{i}" for i in range(1, 11))
TEST = "val_data"
_HINT = ("NAS-Bench-201's ImageNet16 files (train_data_batch_1..train_data_batch_10 and "
         "val_data, the 16x16 'Downsampled ImageNet' from image-net.org) in DIR or DIR/ImageNet16")


def load(name: str, data_dir: Path | None, subset: int | None, seed: int) -> ImageData:
    if data_dir is None:
        raise NasError("imagenet16-120 needs --data-dir", hint=f"--data-dir DIR, with {_HINT}")
    folder = data_dir / "ImageNet16" if (data_dir / "ImageNet16").is_dir() else data_dir
    missing = [f for f in (*TRAIN, TEST) if not (folder / f).is_file()]
    if missing:
        raise NasError(f"{folder} lacks the ImageNet16 file{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(missing)}", hint=f"--data-dir DIR, with {_HINT}")
    train = _first_classes(read_batch(folder / f, "labels", (3, 16, 16)) for f in TRAIN)
    test = _first_classes([read_batch(folder / TEST, "labels", (3, 16, 16))])
    train_keep, test_keep = subset_indices(len(train[1]), len(test[1]), subset, seed)
    return build(name, (train[0][train_keep], train[1][train_keep]),
                 (test[0][test_keep], test[1][test_keep]), CLASSES)


def _first_classes(batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of labels 1..120, relabelled 0..119; filtered as each batch is read, so
    the other 880 classes (seven eighths of 1.2 million images) are never held at once."""
    images, labels = [], []
    for batch_images, batch_labels in batches:
        keep = (batch_labels >= 1) & (batch_labels <= CLASSES)
        images.append(batch_images[keep])
        labels.append(batch_labels[keep] - 1)
    return torch.cat(images), torch.cat(labels)
