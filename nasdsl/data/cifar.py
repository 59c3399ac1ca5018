"""CIFAR-10 and CIFAR-100 in their python-pickle layout, downloaded when absent."""

from __future__ import annotations

from pathlib import Path

import attrs
import torch

from nasdsl.data import imagefolder
from nasdsl.data.download import Archive, default_data_dir, fetch
from nasdsl.data.images import ImageData, build, check_labels
from nasdsl.data.pickles import read_batch
from nasdsl.data.subset import subset_indices
from nasdsl.errors import NasError


@attrs.frozen
class Layout:
    title: str
    folder: str  # what the archive unpacks to
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: str
    classes: int
    archive: Archive
    # The per-channel constants the reference implementations normalize with.
    stats: tuple[tuple[float, ...], tuple[float, ...]]


LAYOUTS = {
    "cifar10": Layout(
        "CIFAR-10", "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",), "labels", 10,
        Archive("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "c58f30108f718f92721af3b95e74349a"),
        ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))),
    "cifar100": Layout(
        "CIFAR-100", "cifar-100-python", ("train",), ("test",), "fine_labels", 100,
        Archive("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                "eb9058c3a382ffc7106e4002c42a8d85"),
        ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))),
}


def load(name: str, data_dir: Path | None, subset: int | None, seed: int) -> ImageData:
    layout = LAYOUTS[name]
    if data_dir is not None and (data_dir / "train").is_dir():
        # CIFAR as image files (train/<class>/, test/<class>/), e.g. a JPEG export of it.
        data = imagefolder.load(name, data_dir, subset, seed)
        if data.classes != layout.classes:
            raise NasError(f"{data_dir / 'train'} has {data.classes} class folders; "
                           f"{layout.title} has {layout.classes}")
        return attrs.evolve(data, mean=layout.stats[0], std=layout.stats[1])
    folder = _folder(layout, data_dir or default_data_dir())
    train = _read(folder, layout.train, layout.label_key)
    test = _read(folder, layout.test, layout.label_key)
    # All of them, not only the subset kept: a bad file is bad whatever --subset keeps.
    check_labels(name, "training", train[1], layout.classes)
    check_labels(name, "test", test[1], layout.classes)
    train_keep, test_keep = subset_indices(len(train[1]), len(test[1]), subset, seed)
    return build(name, (train[0][train_keep], train[1][train_keep]),
                 (test[0][test_keep], test[1][test_keep]), layout.classes, stats=layout.stats)


def _folder(layout: Layout, root: Path) -> Path:
    """The folder holding the batches: root/<folder>, or root itself when a user points
    straight at it; downloaded into root when neither has them."""
    if (root / layout.folder).is_dir():
        return root / layout.folder
    if (root / layout.train[0]).is_file():
        return root
    fetch(layout.archive, root, layout.title, hint=_local_hint(layout))
    return root / layout.folder


def _local_hint(layout: Layout) -> str:
    files = f"{layout.train[0]}..{layout.train[-1]}" if len(layout.train) > 1 else layout.train[0]
    return (f"to use local files, give --data-dir DIR with DIR/{layout.folder}/ holding {files} "
            f"and {', '.join(layout.test)} (the python version of {layout.title}), or "
            f"--dataset imagefolder --data-dir DIR with images in DIR/train/<class>/ and "
            f"DIR/test/<class>/")


def _read(folder: Path, files: tuple[str, ...],
          label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    batches = [read_batch(folder / file, label_key, (3, 32, 32)) for file in files]
    return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
