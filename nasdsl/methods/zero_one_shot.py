"""Zero-One-Shot NAS (Rumiantsev & Coates, "Half Search Space is All You Need", seed 003):
prune the candidate sets at initialization, then search what is left one-shot.

Pruning mask. A mask I: O -> {0, 1} over each mixing-operation set turns the mix into
(Eq. 1)

    Mix(x, O) = sum_{o in O} I(o) exp(alpha_o) / sum_{o' in O} I(o') exp(alpha_o') * o(x).

Here the masked candidates are not zeroed but absent: the pruned space is written as .nas text
in which every edge lists its own candidates (`pruned.nas` in the run directory) and loaded
back through the front end, so the supernet never instantiates or runs a masked candidate, and
the masked softmax of Eq. 1 is the softmax over an edge's own candidates. Cells of one kind
share architecture parameters, hence their mask: a set E_i is a (cell kind, edge) pair.

`zero-one-shot` finds the mask with Alg. 1 (partial search-space pruning). While the fraction
of the space left exceeds the pruning level xi, every candidate e_j still removable gets the
importance (Alg. 1, line 4)

    s_j = (r(N_t) - r(N_t \\ e_j)) / r(N_t),

and each set E_i loses its least important candidate (lines 9-11). The ranking function r is
the Frobenius norm of the NNGP kernel (Sec. 5.1; Park et al. 2020) estimated at initialization
from the logits f(X) of a few training batches (three in the paper) with the ETENAS setup the
seed follows: the supernet with partial channels, batch-norm in training mode, alpha = 0 (so
each edge mixes its unmasked candidates uniformly, Eq. 1), and the kernel taken as the
correlation of the samples' logits, K_ab = <f~(x_a), f~(x_b)> / (|f~(x_a)| |f~(x_b)|) with f~
the logits centred over the classes (ETENAS's torch.corrcoef); `--nngp-kernel gram` takes the
plain estimate K = f(X) f(X)^T / classes instead. N_t \\ e_j is N_t with e_j's weight set to
zero and its edge renormalized: Eq. 1 with I(e_j) = 0. All candidates are ranked on one
initialization per iteration (common random numbers), batched over candidates with vmap.

Line 1 compares the space left with the original one. The seed prints a ratio of products
prod_i |E_i| (architectures), yet its title, its random masks (each candidate kept with
probability xi, "1 - xi operations are masked on average") and its memory figures (Table 1:
about half of PC-DARTS's mixing memory) all keep a fraction xi of the *candidates*; that is the
default (`--prune-count candidates`, sum_i |E_i|); `--prune-count architectures` follows the
printed product, which on DARTS stops after one candidate per set.

Candidates that derivation never chooses (`derive ... exclude`: DARTS's `none`) are masked
before ranking by default, as the ETENAS code masks `none` before it ranks anything (they count
as pruned; `--excluded-candidates rank` ranks them like any other). Ranked, `none` survives
on most DARTS edges (22 to 26 of 28 in small test networks, with or without partial channels),
and the space left would be mostly three real candidates and `none` per edge.

`zero-one-shot-rnd` draws the mask instead (Sec. 5.2): each candidate kept with probability
xi, at least one kept per set (one the derivation rule may choose, drawn uniformly, where the
draw kept none).

The one-shot search on the pruned space is PC-DARTS's with beta-decay regularization
(Sec. 5.1 and 5.2): partial channels, edge normalization and the warm-up from `pc-darts`, the
regularizer from `beta-darts`. A mask is drawn from the run's seed, apart from the search's
random stream, and a resumed run reads its `pruned.nas` back rather than pruning again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from pathlib import Path

import attrs
import torch

from nasdsl.architecture import prune
from nasdsl.arguments import POSITIVE, Range
from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.space import Space
from nasdsl.errors import NasError
from nasdsl.files import write_json, write_text
from nasdsl.methods import register
from nasdsl.methods.base import Option
from nasdsl.methods.beta_darts import BetaDarts
from nasdsl.methods.pc_darts import PcDarts

PRUNED, PRUNING = "pruned.nas", "pruning.json"

# Variants of the supernet evaluated at once: a chunk holds about this many samples in all.
SAMPLES_PER_CHUNK = 2048

Candidate = tuple[str, int, str]  # (cell kind, edge index, op name)


PRUNE_LEVEL = Option("prune-level", Range(float, 0, 1, True, True), 0.5,
                     "the pruning level xi: the fraction of the search space kept (seed 003 "
                     "Alg. 1; the keep probability of a random mask)")


# --- the ranking function -----------------------------------------------------------------------

def nngp_kernel(logits: torch.Tensor, form: str = "correlation") -> torch.Tensor:
    """The NNGP kernel of n samples from their logits (n, classes) at initialization:
    `gram` K = f f^T / classes (Park et al.'s one-draw estimate), `correlation` the same kernel
    of the logits centred over the classes, normalized to a unit diagonal (ETENAS)."""
    if form == "gram":
        return logits @ logits.T / logits.shape[1]
    centred = logits - logits.mean(dim=1, keepdim=True)
    # A sample whose logits are all equal has no direction: it correlates with nothing.
    unit = centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return unit @ unit.T


def nngp_frobenius(logits: torch.Tensor, form: str = "correlation") -> float:
    """The ranking function r (Sec. 5.1): the Frobenius norm of the NNGP kernel."""
    return torch.linalg.matrix_norm(nngp_kernel(logits.double(), form), "fro").item()


# --- Zero-One-Shot ------------------------------------------------------------------------------

@register
class ZeroOneShot(BetaDarts, PcDarts):
    """Alg. 1 pruning with the NNGP ranking, then PC-DARTS with beta-decay (seed 003)."""

    name = "zero-one-shot"
    run_files = (PRUNED, PRUNING)
    options = (
        *BetaDarts.options, *PcDarts.options, PRUNE_LEVEL,
        Option("prune-batches", POSITIVE, 3,
               "training batches the NNGP kernel is estimated on (seed 003: 3 of 128)"),
        Option("nngp-kernel", str, "correlation",
               "the kernel whose Frobenius norm ranks candidates: the logits' correlation "
               "(ETENAS) or their Gram matrix f f^T / classes",
               choices=("correlation", "gram")),
        Option("prune-count", str, "candidates",
               "what Alg. 1's pruning level counts: candidates left (sum |E_i|) or "
               "architectures left (prod |E_i|)", choices=("candidates", "architectures")),
        Option("excluded-candidates", str, "mask",
               "candidates derivation never chooses (`derive ... exclude`, DARTS's none): "
               "masked before ranking, as ETENAS masks none, or ranked like the others",
               choices=("mask", "rank")),
    )

    @property
    def level(self) -> float:
        return self.option("prune-level")

    # --- the space searched -------------------------------------------------------------------

    def prepare_space(self, space: Space, batches: Callable[[], Iterable], device: torch.device,
                      run_dir: Path | None) -> Space:
        """The pruned space: read back from `run_dir` when this configuration pruned there
        before (a resumed run), else pruned now and written there."""
        level = self.level
        settings = json.loads(json.dumps(attrs.asdict(self.config)))
        if run_dir is not None and _same_pruning(Path(run_dir), settings):
            return self._load_pruned(Path(run_dir) / PRUNED, space)
        self.history: list[dict] = []
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # the search's random stream is left
            torch.manual_seed(self.config.seed)
            mask = self.prune_mask(space, batches, device)
        text = prune.pruned_text(space.programs, space, mask)
        if run_dir is None:
            return self._load_pruned(Path(f"<{PRUNED}>"), space, text)
        write_text(Path(run_dir) / PRUNED, text)
        write_json(Path(run_dir) / PRUNING, self._report(space, mask, level, settings))
        return self._load_pruned(Path(run_dir) / PRUNED, space)

    def _load_pruned(self, path: Path, space: Space, text: str | None = None) -> Space:
        """Load pruned text (the file at `path`, or `text`) as the loop loaded the original:
        same overrides, classes and image."""
        network = space.network
        return load(path, overrides=dict(self.config.overrides), classes=network.classes,
                    image=(network.input_channels, network.input_size), text=text)

    def _report(self, space: Space, mask, level: float, settings: dict) -> dict:
        full = prune.full_mask(space)
        return {"method": self.name, "prune_level": level, "settings": settings,
                "candidates": [prune.candidate_count(mask), prune.candidate_count(full)],
                "kept": {kind: [list(names) for names in sets] for kind, sets in mask.items()},
                "iterations": self.history}

    # --- Alg. 1: partial search-space pruning -------------------------------------------------

    def prune_mask(self, space: Space, batches: Callable[[], Iterable],
                   device: torch.device) -> dict:
        """Alg. 1: while the fraction of the space left exceeds xi, remove from every set its
        candidate of lowest importance s_j."""
        count = (prune.candidate_count if self.option("prune-count") == "candidates"
                 else prune.architecture_count)
        data = [x.to(device) for x, _ in islice(batches(), self.option("prune-batches"))]
        if not data:
            raise NasError("Zero-One-Shot pruning needs training batches to rank candidates on")
        kinds = {kind.name: kind for kind in space.cell_kinds}
        mask = prune.full_mask(space)
        total = count(mask)
        if self.option("excluded-candidates") == "mask":
            excluded = [(kind, index, name) for kind, sets in mask.items()
                        for index, names in enumerate(sets)
                        if len(prune.derivable(kinds[kind], names)) >= prune.MIN_KEPT
                        for name in names if not kinds[kind].derivable(name)]
            self._record(kinds, mask, count(mask) / total, excluded, None)
            mask = _without(mask, excluded)
        while count(mask) / total > self.level:
            candidates = [(kind, index, name) for kind, sets in mask.items()
                          for index, names in enumerate(sets)
                          for name in prune.removable(kinds[kind], names)]
            if not candidates:
                break  # every set is down to its last candidate
            net = self.ranking_net(self._masked_space(space, mask), device)
            scores = self.importance(net, data, candidates)
            removed = _least_important(mask, scores)
            self._record(kinds, mask, count(mask) / total, removed, scores)
            mask = _without(mask, removed)
        return mask

    def _record(self, kinds, mask, fraction: float, removed: Sequence[Candidate],
                scores: dict[Candidate, float] | None) -> None:
        """One step of the pruning for `pruning.json`: the candidates it removed, each with
        its importance s_j (none for the excluded candidates masked before ranking)."""
        if not removed:
            return
        self.history.append({"fraction": round(fraction, 6), "removed": [
            {"cell": kind, "edge": kinds[kind].in_text(*kinds[kind].edges[index][:2]), "op": name,
             "importance": None if scores is None else round(scores[(kind, index, name)], 8)}
            for kind, index, name in removed]})

    def _masked_space(self, space: Space, mask) -> Space:
        """N_t, the space the mask leaves, in the IR (no text written and read back)."""
        return prune.restricted(space, mask)

    def ranking_net(self, space: Space, device: torch.device) -> Supernet:
        """N_t at initialization as ETENAS-PC ranks it: this method's supernet (partial
        channels), naive mixes, alpha = 0, batch-norm on batch statistics."""
        net = self.supernet(space, BuildOptions(
            simplify=False, normalize_kernels=self.config.kernel_norm, device=str(device))).train()
        with torch.no_grad():
            for parameter in net.arch_parameters():
                parameter.zero_()
        # Batch statistics only, no running ones: each variant below is its own network.
        torch.func.replace_all_batch_norm_modules_(net)
        return net

    @torch.no_grad()
    def importance(self, net: Supernet, data: Sequence[torch.Tensor],
                   candidates: Sequence[Candidate]) -> dict[Candidate, float]:
        """Alg. 1, lines 2-5: s_j = (r(N_t) - r(N_t \\ e_j)) / r(N_t) for each candidate."""
        uniform = softmax_weights(net.views)  # Eq. 1 at alpha = 0
        variants = [uniform] + [_drop(net, uniform, candidate) for candidate in candidates]
        ranks = self.rankings(net, variants, data)
        base = max(ranks[0], 1e-12)
        return {candidate: (ranks[0] - rank) / base
                for candidate, rank in zip(candidates, ranks[1:])}

    @torch.no_grad()
    def rankings(self, net: Supernet, variants: Sequence[dict], data: Sequence[torch.Tensor]
                 ) -> list[float]:
        """r for each variant's mixing weights: the logits of every batch (batch statistics
        per batch, as separate forwards would have them), then the kernel's norm."""
        stacked = {kind: torch.stack([v[kind] for v in variants]) for kind in variants[0]}
        edges = self.edge_weights(net)
        logits = []
        for x in data:
            # Dropout and noise draw once for all variants (common random numbers, as the
            # initialization is): the variants then differ only by the candidate dropped.
            variant = torch.func.vmap(lambda weights: net(x, Run(weights, edge_weights=edges)),
                                      chunk_size=max(1, SAMPLES_PER_CHUNK // len(x)),
                                      randomness="same")
            logits.append(variant(stacked))
        logits = torch.cat(logits, dim=1)  # (variants, samples, classes)
        form = self.option("nngp-kernel")
        return [nngp_frobenius(out, form) for out in logits]


@register
class ZeroOneShotRnd(ZeroOneShot):
    """A random pruning mask (Sec. 5.2), then PC-DARTS with beta-decay."""

    name = "zero-one-shot-rnd"
    options = (*BetaDarts.options, *PcDarts.options, PRUNE_LEVEL)

    def prune_mask(self, space: Space, batches, device) -> dict:
        """Each candidate kept with probability xi (Bernoulli); a set that would keep no
        candidate derivation may choose gets one such, drawn uniformly, and a set left with
        fewer than two candidates (an edge of one would be fixed, no longer searched) gets
        others drawn uniformly: the seed keeps at least one per set (Sec. 5.2)."""
        generator = torch.Generator().manual_seed(self.config.seed)

        def draw(choices):
            return choices[int(torch.randint(len(choices), (1,), generator=generator))]

        mask = {}
        for kind in space.cell_kinds:
            sets = []
            for _, _, names in kind.edges:
                draws = torch.rand(len(names), generator=generator) < self.level
                kept = {name for name, keep in zip(names, draws.tolist()) if keep}
                if not prune.derivable(kind, tuple(kept)):
                    kept.add(draw(prune.derivable(kind, names)))
                while len(kept) < min(prune.MIN_KEPT, len(names)):
                    kept.add(draw([name for name in names if name not in kept]))
                sets.append(tuple(name for name in names if name in kept))
            mask[kind.name] = tuple(sets)
        return mask


# --- helpers ------------------------------------------------------------------------------------

def _drop(net: Supernet, weights: dict[str, torch.Tensor],
          candidate: Candidate) -> dict[str, torch.Tensor]:
    """The weights of N_t \\ e_j: Eq. 1 with I(e_j) = 0 on its edge."""
    kind, index, name = candidate
    column = net.views[kind].edges[index][2].index(name)
    row = weights[kind][index].clone()
    row[column] = 0.0
    changed = weights[kind].clone()
    changed[index] = row / row.sum()
    return {**weights, kind: changed}


def _least_important(mask, scores: dict[Candidate, float]) -> list[Candidate]:
    """Alg. 1, lines 8-11: in each set with a removable candidate, the lowest s_j (ties to
    the earlier candidate)."""
    lowest: dict[tuple[str, int], tuple[float, int, Candidate]] = {}
    for candidate, score in scores.items():
        kind, index, name = candidate
        key = (score, mask[kind][index].index(name), candidate)
        if (kind, index) not in lowest or key < lowest[(kind, index)]:
            lowest[(kind, index)] = key
    return [lowest[key][2] for key in sorted(lowest)]


def _without(mask, removed: Sequence[Candidate]) -> dict:
    gone = set(removed)
    return {kind: tuple(tuple(name for name in names if (kind, index, name) not in gone)
                        for index, names in enumerate(sets))
            for kind, sets in mask.items()}


def _same_pruning(run_dir: Path, settings: dict) -> bool:
    """Whether `run_dir` holds a pruned space made with exactly these settings."""
    report = run_dir / PRUNING
    if not (run_dir / PRUNED).is_file() or not report.is_file():
        return False
    try:
        return json.loads(report.read_text())["settings"] == settings
    except (ValueError, KeyError):
        return False
