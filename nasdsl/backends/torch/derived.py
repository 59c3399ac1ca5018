"""Derived architectures as stand-alone networks for evaluation training.

A derived space (one candidate on each kept edge, `nasdsl.architecture.derive`) loaded in the eval
phase builds the reference evaluation networks: NAS-Bench-201's TinyNetwork, DARTS's
NetworkCIFAR (with C=36, N=6: 20 cells) and NetworkImageNet (`nasdsl.architecture.evaluation`).
DARTS's training extras are options here: the auxiliary head after the cell at 2/3 of the
depth, and drop path on the cells' edges.
"""

from __future__ import annotations

import torch
from torch import nn

from nasdsl.backends.torch.cells import CellBase
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.space import Space


class AuxiliaryHead(nn.Module):
    """DARTS's AuxiliaryHeadCIFAR, for an 8x8 input (NetworkCIFAR's)."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(768, classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class AuxiliaryHeadImageNet(nn.Module):
    """DARTS's AuxiliaryHeadImageNet, for the 7x7 input NetworkImageNet gives it (its
    reference docstring says 14x14): pooled with stride 2, and no BN after its 2x2 conv (the
    reference leaves it out, as in the paper's experiments)."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False), nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(768, classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class DerivedNetwork(nn.Module):
    """forward(x) -> logits, or (logits, auxiliary logits) in training with the head on."""

    def __init__(self, space: Space, auxiliary: bool = False, drop_path: float = 0.0,
                 normalize_kernels: bool = False):
        super().__init__()
        for kind in space.cell_kinds:
            if kind.edges:
                raise ValueError(f"cell '{kind.name}' is not derived: an edge has several ops")
        # Every edge has one op, so every edge is fixed: the body has no architecture
        # parameters and runs each op unweighted.
        self.body = Supernet(space, BuildOptions(simplify=False,
                                                 normalize_kernels=normalize_kernels), ())
        cells = [i for i, stage in enumerate(self.body.stages) if isinstance(stage, CellBase)]
        for index in cells:
            self.body.stages[index].drop_path = drop_path
        # DARTS attaches it after cell 2L/3 (0-based): the second reduction cell of 20.
        self.aux_stage = cells[2 * len(cells) // 3] if auxiliary else None
        self.auxiliary = None
        if auxiliary:
            cell = space.network.stages[self.aux_stage]
            # Each of DARTS's heads pools to 2x2 for its 2x2 conv: the CIFAR one from
            # NetworkCIFAR's 8x8, the ImageNet one from NetworkImageNet's 7x7.
            head = AuxiliaryHeadImageNet if cell.out_size == 7 else AuxiliaryHead
            self.auxiliary = head(cell.out_channels, space.network.classes)

    def forward(self, x: torch.Tensor):
        outputs = self.body.features(x)
        if self.auxiliary is not None and self.training:
            return outputs[-1], self.auxiliary(outputs[self.aux_stage])
        return outputs[-1]
