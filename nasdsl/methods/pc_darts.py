"""PC-DARTS (Xu et al., ICLR 2020): partial channel connections, 1/K of each cell's channels
through the edges' mixes (K = 4) with a channel shuffle, and edge normalization, a learnable
weight per edge softmaxed over each node's inputs; architecture steps start after a warm-up
(15 epochs in the paper). Derivation weighs each edge's softmaxed operations by its edge
weight."""

from __future__ import annotations

import attrs
import torch

from nasdsl.arguments import POSITIVE, Range
from nasdsl.backends.torch.contract import ALPHA, ArchParameter, Run, softmax_weights
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option

EDGE = ArchParameter("edge", "edge")  # edge normalization's parameter per edge
PARTIAL_K = Option("partial-k", POSITIVE, 4, "PC-DARTS: 1/K of the channels through each edge")
ARCH_WARMUP = Option("arch-warmup", Range(int, low=0), 15,
                     "PC-DARTS: epochs of weight training before the architecture steps")


@register
class PcDarts(Method):
    name = "pc-darts"
    options = (PARTIAL_K, ARCH_WARMUP)

    def arch_parameters(self):
        return (ALPHA, EDGE)

    def build_options(self, options):
        return attrs.evolve(options, partial_channels=self.option("partial-k"))

    @property
    def warmup_epochs(self) -> int:
        return self.option("arch-warmup")

    def edge_weights(self, net) -> dict[str, torch.Tensor]:
        """Per node, a softmax over the edge parameters of its searchable inputs."""
        weights = {}
        for name, view in net.views.items():
            beta = view["edge"]
            parts = beta.new_zeros(beta.shape)
            for node in view.choosing:
                index = view.rows(node)
                parts = parts.index_put((index,), torch.softmax(beta[index], dim=0))
            weights[name] = parts
        return weights

    def run(self, net) -> Run:
        return Run(self.mixing_weights(net), edge_weights=self.edge_weights(net))

    def eval_run(self, net) -> Run:
        return self.run(net)

    def eval_weights(self, net):
        """Operation weights scaled by their edge's weight: what derivation ranks."""
        edges = self.edge_weights(net)
        return {name: w * edges[name][:, None] for name, w in softmax_weights(net.views).items()}
