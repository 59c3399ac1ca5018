"""A folder of image files, one sub-folder a class: DIR/train/<class>/*.png and
DIR/test/<class>/*.png (torchvision's ImageFolder layout), classes numbered in name order.

Only the files a subset keeps are decoded. Decoding is serial: a 32x32 JPEG takes Pillow
about 0.1 ms, four fifths of it Python under the GIL, and a thread pool measured slower
than one thread on two cores (all 60,000 CIFAR-10 JPEGs: 5.4 s serially, 7-9 s on
2-8 threads).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from nasdsl.data.images import ImageData, build
from nasdsl.data.subset import subset_indices
from nasdsl.errors import NasError

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff",
                        ".webp"})
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
_LAYOUT = "DIR/train/<class>/*.png and DIR/test/<class>/*.png (or .jpg), a folder per class"


def load(name: str, data_dir: Path | None, subset: int | None, seed: int) -> ImageData:
    if data_dir is None:
        raise NasError("the imagefolder dataset needs --data-dir",
                       hint=f"--data-dir DIR, with {_LAYOUT}")
    for split in ("train", "test"):
        if not (data_dir / split).is_dir():
            raise NasError(f"{data_dir} has no {split}/ folder", hint=f"the layout is {_LAYOUT}")
    classes = [d.name for d in _visible(data_dir / "train") if d.is_dir()]  # in name order
    if not classes:
        raise NasError(f"{data_dir / 'train'} has no class folders",
                       hint=f"the layout is {_LAYOUT}")
    train_files, train_labels = _listing(data_dir / "train", classes, every_class=True)
    test_files, test_labels = _listing(data_dir / "test", classes, every_class=False)
    train_keep, test_keep = subset_indices(len(train_files), len(test_files), subset, seed)
    files = [train_files[i] for i in train_keep] + [test_files[i] for i in test_keep]
    images = _decode_all(files)
    split = len(train_keep)
    return build(name, (images[:split], train_labels[train_keep]),
                 (images[split:], test_labels[test_keep]), len(classes))


def _visible(folder: Path) -> list[os.DirEntry]:
    # Hidden entries are tools' litter (.DS_Store, .ipynb_checkpoints), never classes or images.
    with os.scandir(folder) as entries:
        return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def _listing(folder: Path, classes: list[str],
             every_class: bool) -> tuple[list[Path], torch.Tensor]:
    """The image files of a split, in class then name order, and their labels."""
    folders = [d.name for d in _visible(folder) if d.is_dir()]
    unknown = sorted(set(folders) - set(classes))
    if unknown:
        raise NasError(f"{folder / unknown[0]} is a class the training set does not have",
                       hint=f"training classes: {', '.join(classes)}")
    files, labels = [], []
    for label, name in enumerate(classes):
        if name not in folders:
            continue
        images = [Path(e.path) for e in _visible(folder / name)
                  if e.is_file() and os.path.splitext(e.name)[1].lower() in EXTENSIONS]
        if every_class and not images:
            raise NasError(f"the class folder {folder / name} holds no images",
                           hint=f"image files end in {', '.join(sorted(EXTENSIONS))}")
        files += images
        labels += [label] * len(images)
    if not files:
        raise NasError(f"{folder} holds no images", hint=f"the layout is {_LAYOUT}")
    return files, torch.tensor(labels, dtype=torch.long)


def _decode_all(files: list[Path]) -> torch.Tensor:
    """N x C x H x W uint8: one channel if every image is grayscale, else three."""
    arrays = [_decode(path) for path in tqdm(files, unit="image", desc="decoding",
                                             disable=None, leave=False)]
    height, width = arrays[0].shape[:2]
    for path, array in zip(files, arrays):
        if array.shape[:2] != (height, width):
            raise NasError(f"{path} is {array.shape[1]}x{array.shape[0]} pixels, but {files[0]} "
                           f"is {width}x{height}: an image folder's images must all be one size",
                           hint="resize them to one size first")
    if all(a.ndim == 2 for a in arrays):
        return torch.from_numpy(np.stack(arrays)).unsqueeze(1)
    rgb = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
    return torch.from_numpy(np.stack(rgb)).permute(0, 3, 1, 2).contiguous()


def _decode(path: Path) -> np.ndarray:
    """H x W for a grayscale image, H x W x 3 for any other (palette and alpha dropped)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L" if image.mode in _GRAY_MODES else "RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise NasError(f"cannot decode the image {path} ({error})") from None
