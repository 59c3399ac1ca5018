"""Every setting of a training run. A setting left unset takes its preset's value when the
run starts (`resolve`), so `config.json` records each value the run used."""

from __future__ import annotations

import attrs

from nasdsl.arguments import POSITIVE, Range
from nasdsl.errors import NasError
from nasdsl.search.config import check, setting
from nasdsl.train.presets import PRESETS, get_preset

_POSITIVE_REAL = Range(float, low=0, low_open=True)
_NON_NEGATIVE = Range(float, low=0)
_FRACTION = Range(float, 0, 1, False, True)


@attrs.frozen
class TrainConfig:
    arch: str  # a derived .nas file, a run directory, an NB201 arch string or a genotype
    preset: str = setting("darts-cifar", "the protocol whose settings are the defaults",
                          choices=tuple(PRESETS))
    dataset: str | None = setting(None, "digits, cifar10, cifar100, imagefolder, "
                                        "imagenet16-120 (default: the preset's)")
    data_dir: str | None = setting(None, "where the dataset's files are (or go, for downloads)")
    subset: int | None = setting(None, "use this many training images", range=POSITIVE)
    seed: int = setting(0, "the seed of every random draw", range=Range(int, 0, 2**32 - 1))
    epochs: int | None = setting(None, "epochs of training", range=POSITIVE)
    batch: int | None = setting(None, "the (global) batch size", range=POSITIVE)
    lr: float | None = setting(None, "the first learning rate (SGD)", range=_POSITIVE_REAL)
    lr_min: float | None = setting(None, "the last learning rate of a cosine schedule",
                                   range=_NON_NEGATIVE)
    schedule: str | None = setting(None, "cosine, or exponential (lr * lr-decay ** epoch)",
                                   choices=("cosine", "exponential"))
    lr_decay: float | None = setting(None, "the exponential schedule's factor per epoch",
                                     range=Range(float, 0, 1, True, False))
    momentum: float | None = setting(None, "SGD's momentum", range=_FRACTION)
    nesterov: bool | None = setting(None, "Nesterov momentum")
    weight_decay: float | None = setting(None, "the weights' decay", range=_NON_NEGATIVE)
    grad_clip: float | None = setting(None, "the largest norm of the gradient (0: none)",
                                      range=_NON_NEGATIVE)
    cutout: int | None = setting(None, "the side of DARTS's cutout square (0: none)",
                                 range=Range(int, low=0))
    drop_path: float | None = setting(None, "the last drop-path probability, reached "
                                            "linearly from 0", range=_FRACTION)
    auxiliary_weight: float | None = setting(None, "the auxiliary head's loss weight (0: no "
                                                   "head)", range=_NON_NEGATIVE)
    label_smoothing: float | None = setting(None, "label smoothing of the loss",
                                            range=_FRACTION)
    overrides: tuple[tuple[str, int | float], ...] = ()  # --set, on top of the preset's
    device: str = setting("cpu", "cpu, cuda, cuda:N or auto")
    precision: str = setting("fp32", "the forward in fp32, or under autocast in bf16 or fp16 "
                                     "(with a gradient scaler)",
                             choices=("fp32", "bf16", "fp16"))
    channels_last: bool = setting(False, "activations and convolution weights in NHWC")
    compile: bool = setting(False, "the network through torch.compile")
    sync_bn: bool = setting(False, "under torchrun, batch norm over the global batch")

    def __attrs_post_init__(self) -> None:
        check(self)


# The settings a preset fills in where the command line leaves them unset.
FROM_PRESET = ("dataset", "epochs", "batch", "lr", "lr_min", "schedule", "lr_decay", "momentum",
               "nesterov", "weight_decay", "grad_clip", "cutout", "drop_path",
               "auxiliary_weight", "label_smoothing")


def resolve(config: TrainConfig) -> TrainConfig:
    """The configuration with every unset setting at its preset's value (the preset's
    network sizes are applied where the network is loaded, under the `--set` ones)."""
    preset = get_preset(config.preset)
    filled = {name: getattr(preset, name) if getattr(config, name) is None
              else getattr(config, name) for name in FROM_PRESET}
    if filled["grad_clip"] is None:
        filled["grad_clip"] = 0.0
    resolved = attrs.evolve(config, **filled)
    if resolved.lr_min > resolved.lr:
        raise NasError(f"--lr-min {resolved.lr_min} is above --lr {resolved.lr}")
    return resolved
