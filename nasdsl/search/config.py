"""Every setting of a search, with the defaults of the reference implementations."""

from __future__ import annotations

import attrs


@attrs.frozen
class SearchConfig:
    space: str
    method: str = "darts"
    dataset: str = "digits"
    data_dir: str | None = None
    subset: int | None = None
    seed: int = 0
    epochs: int = 50
    batch: int = 64
    train_portion: float = 0.5
    # weights: SGD, cosine from lr to lr_min (DARTS); NB201's paper uses weight decay 5e-4
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float | None = None  # None: 5e-4 for NB201-shaped spaces, else 3e-4
    grad_clip: float = 5.0
    # architecture: Adam
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    # methods
    second_order: bool = False
    beta_decay_max: float = 50.0
    tau_max: float = 10.0
    tau_min: float = 0.1
    partial_k: int = 4
    arch_warmup: int = 15  # PC-DARTS's epochs before architecture steps
    method_options: tuple[tuple[str, object], ...] = ()  # the Options a method declares
    # simplification
    simplify: bool | None = None  # None: where the cost model says it pays
    rewrites: str | None = None
    kernel_norm: bool = False
    objective: str = "cost"
    # network and machine
    overrides: tuple[tuple[str, int], ...] = ()
    device: str = "cpu"
    benchmark: str | None = None

    def resolved_weight_decay(self, nb201_shaped: bool) -> float:
        if self.weight_decay is not None:
            return self.weight_decay
        return 5e-4 if nb201_shaped else 3e-4
