"""The evaluation protocols researchers report against, as named presets of the training
settings. Each value is the one its source uses; every one can be overridden on the command
line.

- darts-cifar: DARTS (Liu et al., ICLR 2019), Sec. 3.3 and the reference code's
  cnn/train.py: 20 cells of 36 initial channels, 600 epochs of batch 96, SGD with learning
  rate 0.025 on a cosine schedule to 0, momentum 0.9, weight decay 3e-4, cutout of length
  16, drop path 0.2 (rising linearly from 0 over the epochs), an auxiliary head weighted 0.4
  after two thirds of the cells, gradient clipping at 5.
- nb201: NAS-Bench-201 (Dong & Yang, ICLR 2020), Sec. 3 "training": 200 epochs of batch
  256, SGD with Nesterov momentum 0.9, learning rate 0.1 on a cosine schedule to 0, weight
  decay 5e-4, random crop and flip; the network of 5 cells a stage of 16 channels.
- imagenet-mobile: DARTS's ImageNet setting (Sec. 3.3, cnn/train_imagenet.py): 14 cells of
  48 initial channels at 224x224 (the mobile setting, under 600M multiply-adds), 250
  epochs of batch 128, SGD with learning rate 0.1 decayed by 0.97 each epoch, momentum
  0.9, weight decay 3e-5, label smoothing 0.1, the auxiliary head weighted 0.4, gradient
  clipping at 5.
"""

from __future__ import annotations

import attrs

from nasdsl.errors import NasError, did_you_mean


@attrs.frozen
class Preset:
    """The settings of one protocol; `overrides` are the network's `let`s it sets (a DARTS
    network of 20 cells has N = 6 normal cells a stage, 3 * 6 + 2 = 20)."""

    name: str
    dataset: str
    epochs: int
    batch: int
    lr: float
    lr_min: float
    schedule: str  # cosine, or exponential (lr * decay ** epoch)
    lr_decay: float
    momentum: float
    nesterov: bool
    weight_decay: float
    grad_clip: float | None
    cutout: int
    drop_path: float
    auxiliary_weight: float
    label_smoothing: float
    overrides: tuple[tuple[str, int], ...]
    imagenet: bool = False  # NetworkImageNet's stem and head at 224x224


PRESETS = {preset.name: preset for preset in (
    Preset("darts-cifar", dataset="cifar10", epochs=600, batch=96, lr=0.025, lr_min=0.0,
           schedule="cosine", lr_decay=1.0, momentum=0.9, nesterov=False, weight_decay=3e-4,
           grad_clip=5.0, cutout=16, drop_path=0.2, auxiliary_weight=0.4,
           label_smoothing=0.0, overrides=(("C", 36), ("N", 6))),
    Preset("nb201", dataset="cifar10", epochs=200, batch=256, lr=0.1, lr_min=0.0,
           schedule="cosine", lr_decay=1.0, momentum=0.9, nesterov=True, weight_decay=5e-4,
           grad_clip=None, cutout=0, drop_path=0.0, auxiliary_weight=0.0,
           label_smoothing=0.0, overrides=(("C", 16), ("N", 5))),
    Preset("imagenet-mobile", dataset="imagefolder", epochs=250, batch=128, lr=0.1,
           lr_min=0.0, schedule="exponential", lr_decay=0.97, momentum=0.9, nesterov=False,
           weight_decay=3e-5, grad_clip=5.0, cutout=0, drop_path=0.0, auxiliary_weight=0.4,
           label_smoothing=0.1, overrides=(("C", 48), ("N", 4)), imagenet=True),
)}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise NasError(f"unknown preset '{name}'",
                       hint=did_you_mean(name, PRESETS) or f"presets: {', '.join(PRESETS)}")
    return PRESETS[name]
