"""The standard training augmentation of DARTS and NAS-Bench-201, on uint8 tensors in torch:
a random crop of the image zero-padded on every side, a random horizontal flip; then
per-channel normalization; and for training derived networks, DARTS's cutout. The random
draws are the caller's, so a batch is reproducible from them alone."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F

from nasdsl.data.images import ImageData


@attrs.frozen
class Augment:
    padding: int = attrs.field(default=4, validator=attrs.validators.ge(0))
    flip: bool = True
    cutout: int = attrs.field(default=0, validator=attrs.validators.ge(0))  # 0: none

    @classmethod
    def standard(cls, data: ImageData) -> Augment:
        """Padding 4 (an eighth of a 32x32 image), 1 for images of 8x8 or smaller, which a
        shift of 4 would mostly push out; flips only where a mirrored image keeps its class."""
        padding = 4 if min(data.image_shape[1:]) > 8 else 1
        return cls(padding, data.flips_keep_class)


def random_crop(images: torch.Tensor, offsets: torch.Tensor, padding: int) -> torch.Tensor:
    """Each image zero-padded by `padding` and cropped back to its size, its top-left corner
    at `offsets[i]` = (row, column), each in 0..2*padding, of the padded image."""
    if padding == 0:
        return images
    n, c, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    rows = (offsets[:, 0, None] + torch.arange(h))[:, None, :, None]
    cols = (offsets[:, 1, None] + torch.arange(w))[:, None, None, :]
    return padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None],
                  rows, cols]


def random_flip(images: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """The images with `flips[i]` true mirrored left to right."""
    return torch.where(flips[:, None, None, None], images.flip(3), images)


def normalize(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]
              ) -> torch.Tensor:
    """uint8 pixels to float32 (pixel / 255 - mean) / std, per channel."""
    mean_ = torch.tensor(mean, dtype=torch.float32)[:, None, None]
    std_ = torch.tensor(std, dtype=torch.float32)[:, None, None]
    return (images.float() / 255 - mean_) / std_


def cutout(images: torch.Tensor, centers: torch.Tensor, length: int) -> torch.Tensor:
    """DARTS's cutout (DeVries & Taylor 2017, as the DARTS reference code applies it after
    normalization): a `length` x `length` square around `centers[i]` = (row, column) set to
    zero, clipped where it crosses the border."""
    _, _, h, w = images.shape
    rows = torch.arange(h)[None, :, None]
    cols = torch.arange(w)[None, None, :]
    top, left = (centers[:, 0] - length // 2)[:, None, None], \
        (centers[:, 1] - length // 2)[:, None, None]
    inside = (rows >= top) & (rows < top + length) & (cols >= left) & (cols < left + length)
    return images * (~inside)[:, None].to(images.dtype)
