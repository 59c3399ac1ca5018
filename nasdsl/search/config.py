"""Every setting of a search, with the defaults of the reference implementations.

The settings `nasdsl run` offers are declared here, each with its help text and, for
numbers, its valid range: the command line is generated from these declarations, and every
configuration (given on the command line, read back from a run directory, or built in
Python) is checked against them when it is made.
"""

from __future__ import annotations

import attrs

from nasdsl.arguments import POSITIVE, Bytes, Range
from nasdsl.errors import NasError

_POSITIVE_REAL = Range(float, low=0, low_open=True)
_NON_NEGATIVE = Range(float, low=0)
_SEED = Range(int, 0, 2**32 - 1)  # what every random generator the search seeds accepts


def setting(default, help: str, *, range: Range | None = None, choices: tuple = (),
            flag: str | None = None):
    """A field that `nasdsl run` offers as an option: --NAME (or `flag`), its help and its
    valid values. A number outside `range` is an error wherever the configuration comes
    from."""
    return attrs.field(default=default, metadata={
        "help": help, "range": range, "choices": choices, "flag": flag})


@attrs.frozen
class SearchConfig:
    space: str
    method: str = setting("darts", "the search method")
    dataset: str = setting("digits", "digits (embedded), cifar10, cifar100, imagefolder, "
                                     "imagenet16-120")
    data_dir: str | None = setting(None, "where the dataset's files are (or go, for downloads)")
    subset: int | None = setting(None, "use this many training images", range=POSITIVE)
    seed: int = setting(0, "the seed of every random draw of the search", range=_SEED)
    epochs: int = setting(50, "epochs of the search", range=POSITIVE)
    batch: int = setting(64, "batch size of both halves of the data", range=POSITIVE)
    train_portion: float = setting(0.5, "the fraction of the training images that trains the "
                                        "weights; the rest trains the architecture",
                                   range=Range(float, 0, 1, True, True))
    # weights: SGD, cosine from lr to lr_min (DARTS); NB201's paper uses weight decay 5e-4
    lr: float = setting(0.025, "the weights' first learning rate (SGD, cosine schedule)",
                        range=_POSITIVE_REAL)
    lr_min: float = setting(0.001, "the weights' last learning rate", range=_NON_NEGATIVE)
    momentum: float = setting(0.9, "the weights' SGD momentum", range=Range(float, 0, 1, False,
                                                                             True))
    weight_decay: float | None = setting(None, "the weights' decay; default 3e-4, or 5e-4 for "
                                               "NB201-shaped spaces", range=_NON_NEGATIVE)
    grad_clip: float = setting(5.0, "the largest norm of the weights' gradient",
                               range=_POSITIVE_REAL)
    # architecture: Adam
    arch_lr: float = setting(3e-4, "the architecture parameters' learning rate (Adam)",
                             range=_POSITIVE_REAL)
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = setting(1e-3, "the architecture parameters' weight decay",
                                       range=_NON_NEGATIVE)
    # the method's own settings, (option name, value), as the method declares them
    method_options: tuple[tuple[str, object], ...] = ()
    # simplification
    simplify: bool | None = setting(None, "the simplified supernet (default: where the cost "
                                          "model says it pays)")
    rewrites: str | None = setting(None, "force these rewrites (pms,fms,reparam | all | none)")
    kernel_norm: bool = setting(False, "kernel normalization of the convs in searchable edges "
                                       "(seed 000 Eq. 28)")
    objective: str = setting("cost", "what the cost model minimizes when it chooses rewrites: "
                                     "cost (seed 000 Eq. 29; default), time or memory",
                             choices=("cost", "time", "memory"))
    # network and machine
    overrides: tuple[tuple[str, int | float], ...] = ()
    device: str = setting("cpu", "cpu, cuda, cuda:N or auto")
    precision: str = setting("fp32", "the supernet's forward in fp32, or under autocast in bf16 "
                                     "or fp16 (with a dynamic gradient scale); weights and "
                                     "architecture parameters stay fp32",
                             choices=("fp32", "bf16", "fp16"))
    channels_last: bool = setting(False, "activations and convolution weights in NHWC")
    compile: bool = setting(False, "the supernet's forward through torch.compile (eager, with a "
                                   "warning, where compilation fails)")
    memory_budget: int | None = setting(
        None, "the most activation memory a training step may keep for backward (e.g. 2GiB): "
              "plans and recomputed cells chosen by the cost model to fit it at the least "
              "modelled time", range=Bytes())
    sync_bn: bool = setting(False, "under torchrun, batch norm's statistics over the global "
                                   "batch (synchronized over the processes)")
    benchmark: str | None = setting(None, "NAS-Bench-201 table (.csv), official file or "
                                          "NATS-Bench topology archive, for NB201-shaped "
                                          "spaces (or set NASDSL_NB201_BENCHMARK)")

    def __attrs_post_init__(self) -> None:
        check(self)
        if self.lr_min > self.lr:
            raise NasError(f"--lr-min {self.lr_min} is above --lr {self.lr}")

    def resolved_weight_decay(self, nb201_shaped: bool) -> float:
        if self.weight_decay is not None:
            return self.weight_decay
        return 5e-4 if nb201_shaped else 3e-4


def options(cls: type = None) -> list[attrs.Attribute]:
    """The settings a configuration class (`nasdsl run`'s, by default) offers on the command
    line, in declaration order."""
    return [field for field in attrs.fields(cls or SearchConfig) if "help" in field.metadata]


def flag(field: attrs.Attribute) -> str:
    return field.metadata["flag"] or "--" + field.name.replace("_", "-")


def check(config) -> None:
    """Every number of `config` (a configuration declared with `setting`) in its declared
    range and every choice among its choices; a NasError naming the first that is not."""
    for field in options(type(config)):
        value = getattr(config, field.name)
        if value is None:
            continue
        if field.metadata["range"] is not None:
            field.metadata["range"].check(flag(field), value)
        if field.metadata["choices"] and value not in field.metadata["choices"]:
            raise NasError(f"{flag(field)} is one of {', '.join(field.metadata['choices'])}, "
                           f"not {value!r}")
