"""DrNAS (Chen, Wang, Cheng, Tang & Hsieh, "DrNAS: Dirichlet Neural Architecture Search",
ICLR 2021).

The mixing weights of an edge are a sample of a Dirichlet distribution whose concentration
is beta = elu(alpha) + 1 (positive, and 1 at alpha = 0: the uniform distribution), drawn
with the pathwise (reparameterization) gradient, so that the architecture step differentiates
through the sample. The architecture loss adds lambda * KL(Dir(beta) || Dir(prior)), the
divergence from a Dirichlet prior of concentration `prior` on every candidate, averaged over
the edges (lambda = 1e-3 as the reference code's `reg_scale`). Derivation and evaluation use
the Dirichlet mean beta / sum(beta). Each edge's distribution covers its own candidates only
(edges of different widths are drawn apart): the reference code draws over every candidate
and renormalizes over the kept ones, which is the same distribution (a Dirichlet's
aggregation property). Simplification composes as with DARTS: a sample is a weight vector
like any other.

The progressive scheme (Sec. 3.3, "progressive architecture learning"): the search runs in
stages, `--stages K:KEPT,...`, the epochs split evenly between them. In a stage, 1/K of each
cell's channels go through the edges' mixes (partial channels, as PC-DARTS); each later
stage starts by pruning every edge to the KEPT candidates of largest alpha (the reference
code's `prune`: one derivable candidate is always kept) and widening the partial channels
to its smaller K, the new channels' weights copies of old ones (the reference code's
`wider`, Net2Net's random mapping), momentum, Adam's moments and the schedule carried along.
The reference code's settings: `6:all,4:4` on the DARTS space (searched with C=36 and 20
cells, `--set C=36 --set N=6`), `4:all,2:3` on NAS-Bench-201, each stage starting with 10
epochs of weight training (`--stage-warmup 10`). The reference's DARTS space has no `none`;
darts.nas has, and pruning ranks it like any candidate. The default is one stage at full width,
the single-stage DrNAS.
"""

from __future__ import annotations

import argparse
import math

import attrs
import torch
import torch.nn.functional as F
from torch.distributions import Dirichlet, kl_divergence

from nasdsl.architecture.prune import MIN_KEPT
from nasdsl.arguments import Range
from nasdsl.dsl.elaborate import narrowed
from nasdsl.errors import NasError
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option


@attrs.frozen
class Stages:
    """The value type of --stages: K:KEPT per stage, KEPT `all` or a count of candidates
    per edge; K and KEPT never grow from one stage to the next, and the first keeps all."""

    def describe(self) -> str:
        return "K:KEPT per stage, comma-separated, e.g. 6:all,4:4"

    def stages(self, text: str) -> list[tuple[int, int | None]]:
        """(K, kept or None for all) per stage, or ValueError saying what is wrong."""
        stages = []
        for item in text.split(","):
            k, colon, kept = item.strip().partition(":")
            if not colon or not k.isdigit() or int(k) < 1 or not (
                    kept == "all" or kept.isdigit() and int(kept) >= MIN_KEPT):
                raise ValueError(f"'{item.strip()}' is not K:KEPT (K a whole number >= 1, KEPT "
                                 f"'all' or a whole number >= {MIN_KEPT})")
            stages.append((int(k), None if kept == "all" else int(kept)))
        if stages[0][1] is not None:
            raise ValueError("the first stage searches every candidate: its KEPT is 'all'")
        for (k, kept), (next_k, next_kept) in zip(stages, stages[1:]):
            if next_k > k or (next_kept or math.inf) > (kept or math.inf):
                raise ValueError("the partial channels widen and the candidates shrink from "
                                 "one stage to the next: K and KEPT never grow")
        return stages

    def check(self, name: str, value):
        try:
            self.stages(value)
        except (ValueError, AttributeError) as error:
            raise NasError(f"{name} takes {self.describe()}, not {value!r}: {error}") from None
        return value

    def parse(self, text: str):
        try:
            self.stages(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text


@register
class DrNas(Method):
    name = "drnas"
    options = (
        Option("kl-weight", Range(float, low=0), 1e-3,
               "DrNAS: lambda, the weight of the KL divergence to the Dirichlet prior"),
        Option("prior", Range(float, low=0, low_open=True), 1.0,
               "DrNAS: the prior's concentration on every candidate"),
        Option("stages", Stages(), "1:all",
               "DrNAS: the progressive stages, 1/K of the channels through the edges and KEPT "
               "candidates per edge in each (the reference code's: 6:all,4:4 on the DARTS "
               "space, 4:all,2:3 on NAS-Bench-201)"),
        Option("stage-warmup", Range(int, low=0), 0,
               "DrNAS: epochs of weight training at the start of each stage before the "
               "architecture steps (the reference code's: 10)"),
    )

    # --- stages ---------------------------------------------------------------------------------

    def _stages(self) -> list[tuple[int, int | None]]:
        return Stages().stages(self.option("stages"))

    def stage_starts(self) -> tuple[int, ...]:
        """Stage i of n starts at epoch round(i * epochs / n): the epochs split evenly."""
        count, epochs = len(self._stages()), self.config.epochs
        if count > epochs:
            raise NasError(f"--stages gives {count} stages and --epochs {epochs}: each stage "
                           "needs an epoch", hint=f"--epochs {count} at least")
        return tuple(round(index * epochs / count) for index in range(1, count))

    def _stage(self, epoch: int) -> int:
        return sum(start <= epoch for start in self.stage_starts())

    def prepare_space(self, space, batches, device, run_dir):
        """The space as it is; but every stage's K is checked now, not when its stage would
        begin after hours of the ones before."""
        for k in sorted({k for k, _ in self._stages()}):
            narrowed(space, k)
        return space

    def build_options(self, options):
        return attrs.evolve(options, partial_channels=self._stages()[self._stage(self.epoch)][0])

    def arch_steps_in(self, epoch: int) -> bool:
        first = max((start for start in (0, *self.stage_starts()) if start <= epoch))
        return epoch - first >= self.option("stage-warmup")

    def stage_mask(self, net, space):
        """On every edge, the KEPT candidates of largest alpha, a derivable one among them."""
        kept = self._stages()[self._stage(self.epoch)][1]
        mask = {}
        for kind in space.cell_kinds:
            if kind.name not in net.views:
                mask[kind.name] = tuple(names for _, _, names in kind.edges)
                continue
            alpha = net.views[kind.name]["alpha"].detach().cpu()
            mask[kind.name] = tuple(_strongest(kind, names, alpha[row, :len(names)], kept)
                                    for row, (_, _, names) in enumerate(kind.edges))
        return mask

    def concentrations(self, net) -> dict[str, torch.Tensor]:
        """beta = elu(alpha) + 1 per candidate (the padding columns are not used)."""
        return {name: F.elu(view["alpha"]) + 1 for name, view in net.views.items()}

    def mixing_weights(self, net):
        """One Dirichlet sample per edge, drawn by rsample (pathwise gradient)."""
        weights = {}
        for name, beta in self.concentrations(net).items():
            view = net.views[name]
            sample = beta.new_zeros(beta.shape)
            for width, rows in _rows_by_width(view.mask):
                drawn = Dirichlet(beta[rows, :width]).rsample()
                sample = sample.index_put((rows,), F.pad(drawn, (0, beta.shape[1] - width)))
            weights[name] = sample
        return weights

    def eval_weights(self, net):
        """The Dirichlet mean beta / sum(beta) over each edge's candidates."""
        return {name: beta * net.views[name].mask /
                (beta * net.views[name].mask).sum(-1, keepdim=True)
                for name, beta in self.concentrations(net).items()}

    def regularizer(self, net) -> torch.Tensor:
        terms = []
        for name, beta in self.concentrations(net).items():
            for width, rows in _rows_by_width(net.views[name].mask):
                posterior = Dirichlet(beta[rows, :width])
                prior = Dirichlet(torch.full_like(beta[rows, :width], self.option("prior")))
                terms.append(kl_divergence(posterior, prior))
        return self.option("kl-weight") * torch.cat(terms).mean()


def _rows_by_width(mask: torch.Tensor) -> list[tuple[int, torch.Tensor]]:
    """The edges grouped by their number of candidates (real columns come first)."""
    widths = mask.sum(-1)
    return [(int(width), (widths == width).nonzero().flatten())
            for width in widths.unique().tolist()]


def _strongest(kind, names: tuple[str, ...], alpha: torch.Tensor, kept: int) -> tuple[str, ...]:
    """The `kept` candidates of largest alpha, in their order; the weakest of them gives way
    to the strongest derivable candidate where none of them is derivable."""
    order = alpha.argsort(descending=True).tolist()
    chosen = order[:kept]
    if not any(kind.derivable(names[index]) for index in chosen):
        chosen[-1] = next(index for index in order if kind.derivable(names[index]))
    return tuple(name for index, name in enumerate(names) if index in chosen)
