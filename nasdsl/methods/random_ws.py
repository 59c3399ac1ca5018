"""Random search with weight sharing (Li & Talwalkar, "Random Search and Reproducibility
for Neural Architecture Search", UAI 2019), which is also the single-path one-shot scheme of
uniform sampling (Guo et al., ECCV 2020, without its evolutionary search).

Training the weights: every step runs one architecture of the space drawn uniformly, a path
through the supernet with the shared weights (Li & Talwalkar's Stage 2). Drawn as the
derivation rule shapes an architecture: each node keeps as many of its searchable input
edges as `derive top` says, a uniform subset, and each kept edge runs one of the candidates
derivation may choose, uniformly (every edge and every candidate where the kind derives them
all, as NAS-Bench-201's cells). There are no architecture parameters and no architecture
step.

Choosing the architecture, once, after the last epoch (Stage 3): `--samples` architectures
drawn the same way are scored with the shared weights on the first `--eval-batches` batches
of the held-out half, in evaluation mode, and the most accurate (then the lowest loss) is
the result. The validation accuracy logged every epoch is that of a fresh draw per batch: the
mean accuracy of a random path. The defaults (100 samples, 10 batches) are nasdsl's, sized
for CPU runs; the paper scores many more architectures.

One candidate runs per edge, so the supernet keeps the naive mix (`single_path`).
"""

from __future__ import annotations

import torch

from nasdsl.architecture.derive import derive
from nasdsl.arguments import Range
from nasdsl.backends.torch.contract import Run
from nasdsl.errors import NasError
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option, path_run

_COUNT = Range(int, low=1)


@register
class RandomWs(Method):
    name = "random-ws"
    single_path = True
    has_arch_step = False
    derives_each_epoch = False
    options = (
        Option("samples", _COUNT, 100,
               "random-ws: architectures drawn and scored with the shared weights at the end"),
        Option("eval-batches", _COUNT, 10,
               "random-ws: held-out batches each drawn architecture is scored on"),
    )

    def arch_parameters(self):
        return ()

    def run(self, net) -> Run:
        return sample_run(net)

    def eval_run(self, net) -> Run:
        return sample_run(net)

    def eval_weights(self, net):
        """The sampling distribution of a kept edge: uniform over what derivation may
        choose."""
        return {name: view.derivable.float() / view.derivable.sum(-1, keepdim=True)
                for name, view in net.views.items()}

    def derive(self, net, space):
        raise NasError("random-ws has no architecture before the end of its search",
                       hint="its architecture is chosen once, by `select`, after the last "
                            "epoch")

    def select(self, net, space, score):
        best = None
        for _ in range(self.option("samples")):
            run = sample_run(net)
            accuracy, loss = score(lambda: run, self.option("eval-batches"))
            if best is None or (accuracy, -loss) > best[0]:
                best = (accuracy, -loss), run
        weights = best[1].weights
        return derive(space, {name: w.cpu().tolist() for name, w in weights.items()})


def sample_run(net) -> Run:
    """One architecture drawn uniformly, as a run of one candidate per kept edge."""
    chosen = {}
    for name, view in net.views.items():
        columns = torch.multinomial(view.derivable.float(), 1).squeeze(1)
        for node in view.choosing:
            edges, keep = view.incoming[node], view.kind.keeps(node)
            if keep is not None and keep < len(edges):
                left_out = [edges[i] for i in torch.randperm(len(edges))[keep:].tolist()]
                columns[left_out] = -1
        chosen[name] = columns
    return path_run(net, chosen)
