"""`load_dataset`: a dataset's name (as `--dataset` gives it) to its images in memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nasdsl.data import cifar, digits, imagefolder, imagenet16
from nasdsl.data.images import ImageData
from nasdsl.errors import NasError, did_you_mean

# Each takes (name, data_dir, subset, seed).
LOADERS: dict[str, Callable[..., ImageData]] = {
    "digits": digits.load,
    "cifar10": cifar.load,
    "cifar100": cifar.load,
    "imagefolder": imagefolder.load,
    "imagenet16-120": imagenet16.load,
}


def load_dataset(name: str, data_dir: str | Path | None = None, subset: int | None = None,
                 seed: int = 0) -> ImageData:
    """The named dataset, keeping `subset` training images (seeded) and proportionally fewer
    test images; None keeps all. CIFAR downloads into `data_dir` (or the user's cache) when
    its files are not there."""
    key = name.lower()
    if key not in LOADERS:
        raise NasError(f"unknown dataset '{name}'",
                       hint=did_you_mean(key, LOADERS) or f"datasets: {', '.join(LOADERS)}")
    return LOADERS[key](key, Path(data_dir).expanduser() if data_dir is not None else None,
                        subset, seed)
