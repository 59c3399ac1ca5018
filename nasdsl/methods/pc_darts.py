"""PC-DARTS (Xu et al., ICLR 2020): partial channel connections, 1/K of each cell's channels
through the edges' mixes (K = 4) with a channel shuffle, and edge normalization, a learnable
weight per edge softmaxed over each node's inputs; architecture steps start after a warm-up
(15 epochs in the paper). Derivation weighs each edge's softmaxed operations by its edge
weight."""

from __future__ import annotations

import attrs
import torch

from nasdsl.backends.torch.network import softmax_weights
from nasdsl.methods import register
from nasdsl.methods.base import Method


@register
class PcDarts(Method):
    name = "pc-darts"

    def load_options(self) -> dict:
        return {"partial": self.config.partial_k}

    def build_options(self, options):
        return attrs.evolve(options, partial_channels=self.config.partial_k,
                            edge_normalization=True)

    @property
    def warmup_epochs(self) -> int:
        return self.config.arch_warmup

    def edge_weights(self, net) -> dict[str, torch.Tensor]:
        """Per node, a softmax over the edge parameters of its inputs."""
        weights = {}
        for name, beta in net.edge_arch.items():
            kind = net.kinds[name]
            parts = beta.new_zeros(beta.shape)
            for node in kind.intermediate:
                index = [i for i, edge in enumerate(kind.edges) if edge[1] == node]
                if index:  # a node of fixed edges only has nothing to normalize
                    parts = parts.index_put((torch.tensor(index, device=beta.device),),
                                            torch.softmax(beta[index], dim=0))
            weights[name] = parts
        return weights

    def logits(self, net, x):
        return net(x, self.mixing_weights(net), edge_weights=self.edge_weights(net))

    def eval_logits(self, net, x):
        return self.logits(net, x)

    def eval_weights(self, net):
        """Operation weights scaled by their edge's weight: what derivation ranks."""
        edges = self.edge_weights(net)
        return {name: w * edges[name][:, None] for name, w in softmax_weights(net).items()}
