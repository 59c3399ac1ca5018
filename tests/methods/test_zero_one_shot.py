"""Zero-One-Shot (seed 003): the NNGP ranking, Alg. 1's pruning, random masks, the pruned
space as .nas text and the supernet built from it, resuming."""

import argparse
import json

import pytest
import torch

from nasdsl.architecture import prune
from nasdsl.backends.torch.cells import Cell, PartialChannels
from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.network import BuildOptions
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasError
from nasdsl.methods import get_method, zero_one_shot
from nasdsl.methods.beta_darts import BetaDarts
from nasdsl.methods.zero_one_shot import (PRUNE_LEVEL, PRUNED, PRUNING, ZeroOneShot, nngp_frobenius,
                                          nngp_kernel)
from nasdsl.search.config import SearchConfig
from nasdsl.search.loop import Search
from nasdsl.search.run_dir import read_log
from tests.paths import SPACES

CPU = torch.device("cpu")
TINY = (("C", 4), ("N", 1))

# One edge choosing between `none` and a conv, then a head with batch-norm: without the conv
# the logits are the head's bias for every sample, so their correlation kernel is all ones.
TWO_CANDIDATES = """
op none = zero
op conv1 = relu -> conv(kernel=1) -> bn
cell c {
    inputs 1
    nodes 1
    edges all
    candidates none, conv1
    derive all
}
network tiny {
    let classes = 5
    input(channels=2, size=6)
    stem conv(kernel=3, out=4) -> bn
    cells c * 1 channels 4
    head bn -> relu -> global_avg_pool -> linear(out=classes)
}
"""


def method_for(name="zero-one-shot", space="nb201", overrides=TINY, **options):
    fields = {key: options.pop(key) for key in ("seed",) if key in options}
    config = SearchConfig(space=str(SPACES / f"{space}.nas"), method=name, overrides=overrides,
                          method_options=tuple(options.items()), **fields)
    return get_method(name)(config)


def tiny_space(method, space="nb201"):
    return load(SPACES / f"{space}.nas", overrides={"C": 4, "N": 1, "classes": 10},
                image=(3, 8))


def random_batches(count=2, batch=8, channels=3, size=8):
    generator = torch.Generator().manual_seed(1)
    data = [(torch.randn(batch, channels, size, size, generator=generator),
             torch.randint(10, (batch,), generator=generator)) for _ in range(count)]
    return lambda: iter(data)


def kept(space):
    return prune.full_mask(space)


# --- the ranking function -----------------------------------------------------------------------

def test_nngp_kernel_and_its_frobenius_norm_by_hand():
    """The correlation kernel of logits centred over the classes, and the Gram estimate
    f f^T / classes, with their Frobenius norms computed by hand."""
    logits = torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 2.0, 1.0]])
    signs = torch.tensor([1.0, 1.0, -1.0])
    torch.testing.assert_close(nngp_kernel(logits), signs[:, None] * signs[None, :])
    assert nngp_frobenius(logits) == pytest.approx(3.0)
    assert nngp_frobenius(5 * logits) == pytest.approx(3.0)  # the correlation ignores scale
    gram = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    torch.testing.assert_close(nngp_kernel(gram, "gram"), torch.tensor([[0.5, 0.0], [0.0, 2.0]]))
    assert nngp_frobenius(gram, "gram") == pytest.approx(4.25 ** 0.5)


def test_importance_is_alg1_relative_change_of_the_ranking(tmp_path):
    """s_j = (r(N) - r(N without e_j)) / r(N): removing the conv leaves every sample the same
    logits (r = n, all-ones kernel); removing `none` only rescales what a batch-norm
    normalizes (s = 0); Alg. 1 then prunes the conv, the lower score."""
    path = tmp_path / "two.nas"
    path.write_text(TWO_CANDIDATES)
    method = method_for(overrides=(), **{"partial-k": 1, "prune-level": 0.6, "prune-batches": 2})
    space = load(path)
    torch.manual_seed(0)
    net = method.ranking_net(space, CPU)
    data = [x for x, _ in random_batches(channels=2, size=6)()]
    (r_full,) = method.rankings(net, [softmax_weights(net.views)], data)
    scores = method.importance(net, data, [("c", 0, "none"), ("c", 0, "conv1")])
    samples = sum(len(x) for x in data)
    assert r_full < samples
    assert scores[("c", 0, "conv1")] == pytest.approx((r_full - samples) / r_full, rel=1e-6)
    assert abs(scores[("c", 0, "none")]) < 1e-4
    # An edge keeps two candidates at least (one would make it fixed): nothing to prune here.
    pruned = method.prepare_space(space, random_batches(channels=2, size=6), CPU, None)
    assert kept(pruned) == {"c": (("none", "conv1"),)}


def test_alg1_removes_the_least_important_candidate(tmp_path):
    """With a third candidate, one iteration of Alg. 1 removes the candidate of lowest s_j,
    and stops at two."""
    path = tmp_path / "three.nas"
    path.write_text(TWO_CANDIDATES.replace("candidates none, conv1", "candidates none, conv1, conv3")
                    .replace("op none = zero", "op none = zero\nop conv3 = relu -> conv(kernel=3) -> bn"))
    method = method_for(overrides=(), **{"partial-k": 1, "prune-level": 0.1, "prune-batches": 2})
    space = load(path)
    batches = random_batches(channels=2, size=6)
    torch.manual_seed(0)
    scores = method.importance(method.ranking_net(space, CPU), [x for x, _ in batches()],
                               [("c", 0, name) for name in ("none", "conv1", "conv3")])
    lowest = min(scores, key=scores.get)[2]
    pruned = method.prepare_space(space, batches, CPU, None)
    assert kept(pruned) == {"c": (tuple(n for n in ("none", "conv1", "conv3") if n != lowest),)}


def test_batched_rankings_equal_separate_forwards(monkeypatch):
    """The variants ranked together (vmap, in chunks) give what one forward per variant
    gives: Eq. 1's weights with one candidate dropped, the logits' kernel norm."""
    monkeypatch.setattr(zero_one_shot, "SAMPLES_PER_CHUNK", 8)  # one variant a chunk
    method = method_for()
    torch.manual_seed(0)
    net = method.ranking_net(tiny_space(method), CPU)
    data = [x for x, _ in random_batches()()]
    uniform = softmax_weights(net.views)  # alpha = 0: each edge's candidates uniformly
    dropped = {**uniform, "cell": uniform["cell"].clone()}
    dropped["cell"][2] = torch.tensor([0.0, 0.25, 0.25, 0.25, 0.25])
    edges = method.edge_weights(net)
    with torch.no_grad():
        expected = [nngp_frobenius(torch.cat([net(x, Run(w, edge_weights=edges)) for x in data]))
                    for w in (uniform, dropped)]
    assert method.rankings(net, [uniform, dropped], data) == pytest.approx(expected, rel=1e-5)
    assert expected[0] != pytest.approx(expected[1], rel=1e-6)


def test_rankings_of_a_space_with_dropout_draw_once_for_all_variants(tmp_path):
    """Dropout in the network draws the same mask for every variant ranked together (common
    random numbers): two copies of one variant rank equal (vmap refused random ops before)."""
    path = tmp_path / "dropout.nas"
    path.write_text(TWO_CANDIDATES.replace("head bn -> relu", "head bn -> relu -> dropout(p=0.5)"))
    method = method_for()
    torch.manual_seed(0)
    net = method.ranking_net(load(path), CPU)
    data = [torch.randn(8, 2, 6, 6)]
    uniform = softmax_weights(net.views)
    first, second = method.rankings(net, [uniform, uniform], data)
    assert first == second


# --- Alg. 1 and random masks --------------------------------------------------------------------

@pytest.mark.parametrize("level, count, per_edge", [
    (0.5, "candidates", 2),  # 5 -> 4 -> 3 -> 2 per edge: 12/30 = 0.4 <= 0.5
    (0.7, "candidates", 3),  # 3 per edge: 18/30 = 0.6 <= 0.7
    (0.5, "architectures", 4),  # one candidate off each edge: (4/5)^6 = 0.26 <= 0.5
])
def test_alg1_stops_once_the_space_left_is_at_most_xi(level, count, per_edge):
    """Alg. 1 removes one candidate per set and iteration until the fraction of the space
    left (candidates, or architectures as line 1 prints it) is at most xi."""
    method = method_for(**{"prune-level": level, "prune-count": count, "prune-batches": 1})
    space = tiny_space(method)
    pruned = method.prepare_space(space, random_batches(), CPU, None)
    assert [len(names) for _, _, names in pruned.cell_kinds[0].edges] == [per_edge] * 6
    history = method.history
    assert history[0]["fraction"] == 1.0 and len(history) == 5 - per_edge
    for (_, _, before), (_, _, after) in zip(space.cell_kinds[0].edges,
                                             pruned.cell_kinds[0].edges):
        assert after == tuple(name for name in before if name in after)


def test_darts_keeps_xi_of_its_candidates_without_none():
    """On DARTS, `none` goes first (counted as pruned), then Alg. 1 ranks: at xi = 0.8 one
    ranked iteration leaves 6 of the 8 candidates on every edge of both cell kinds."""
    method = method_for(space="darts", **{"prune-level": 0.8, "prune-batches": 1})
    pruned = method.prepare_space(tiny_space(method, "darts"), random_batches(), CPU, None)
    sets = [names for sets in kept(pruned).values() for names in sets]
    assert len(sets) == 28 and all(len(names) == 6 and "none" not in names for names in sets)
    assert [step["fraction"] for step in method.history] == [1.0, 0.875]


@pytest.mark.parametrize("excluded", ["mask", "rank"])
def test_candidates_derivation_excludes_are_masked_first_or_ranked(tmp_path, excluded):
    """By default a candidate derivation never chooses (`none` under `derive ... exclude`) is
    masked before any ranking, as ETENAS does; with `rank` Alg. 1 scores it like the others."""
    path = tmp_path / "four.nas"
    path.write_text(TWO_CANDIDATES.replace("candidates none, conv1",
                                           "candidates none, conv1, pool, conv3")
                    .replace("derive all", "derive all exclude none")
                    .replace("op none = zero", "op none = zero\nop pool = avg_pool(kernel=3)\n"
                                               "op conv3 = relu -> conv(kernel=3) -> bn"))
    method = method_for(overrides=(), **{"partial-k": 1, "excluded-candidates": excluded,
                                         "prune-batches": 1})
    space = load(path)
    pruned = method.prepare_space(space, random_batches(channels=2, size=6), CPU, None)
    (names,) = kept(pruned)["c"]
    assert len(names) == 2 and set(names) != {"none"}  # 2/4 <= 0.5, and a derivable one left
    importances = [step["removed"][0]["importance"] for step in method.history]
    assert len(importances) == 2
    if excluded == "mask":
        assert method.history[0]["removed"][0]["op"] == "none" and importances[0] is None
    assert all(value is not None for value in importances[excluded == "mask":])


def test_random_mask_keeps_about_xi_and_a_derivable_candidate_per_edge():
    """A Bernoulli(xi) mask keeps about xi of DARTS's candidates, and even at a low xi every
    edge keeps a candidate that derivation may choose (not `none`) and a second one, so that
    it stays searchable."""
    fractions = []
    space = tiny_space(method_for("zero-one-shot-rnd", "darts"), "darts")
    for seed in range(30):
        for level in (0.5, 0.05):
            method = method_for("zero-one-shot-rnd", "darts", seed=seed,
                                **{"prune-level": level})
            mask = method.prune_mask(space, None, CPU)
            prune.check_mask(space, mask)
            for kind in space.cell_kinds:
                assert all(prune.derivable(kind, names) and len(names) >= 2
                           for names in mask[kind.name])
            if level == 0.5:
                fractions.append(prune.candidate_count(mask) / prune.candidate_count(kept(space)))
    assert 0.47 < sum(fractions) / len(fractions) < 0.55
    assert len(set(fractions)) > 1  # the seed draws the mask


def test_random_mask_is_drawn_from_the_seed():
    """The same seed draws the same mask; another seed another."""
    space = tiny_space(method_for("zero-one-shot-rnd", "darts"), "darts")
    masks = [method_for("zero-one-shot-rnd", "darts", seed=seed).prune_mask(space, None, CPU)
             for seed in (3, 3, 4)]
    assert masks[0] == masks[1] != masks[2]


# --- the pruned space and its supernet ----------------------------------------------------------

@pytest.mark.parametrize("simplify", [False, True])
def test_pruned_supernet_holds_and_runs_only_the_kept_candidates(simplify):
    """Every edge of the supernet built from a pruned space holds exactly its kept candidates,
    only they run, and edges of one kind with different sets coexist."""
    method = method_for("zero-one-shot-rnd", "darts", seed=0)
    pruned = method.prepare_space(tiny_space(method, "darts"), None, CPU, None)
    mask = kept(pruned)
    assert len(set(mask["normal"])) > 1  # per-edge candidate sets differ
    torch.manual_seed(0)
    net = method.supernet(pruned, BuildOptions(simplify=simplify))
    ran = set()
    for cell in (stage for stage in net.stages if isinstance(stage, Cell)):
        for index, edge in enumerate(cell.edges):
            assert isinstance(edge, PartialChannels)
            assert edge.edge.names == mask[cell.kind.name][index]
            for name, op in zip(edge.edge.names, edge.edge.ops):
                op.register_forward_hook(lambda *_, name=name: ran.add(name))
    method.logits(net, torch.randn(2, 3, 8, 8))
    left = {name for sets in mask.values() for names in sets for name in names}
    assert ran <= left


def test_simplified_pruned_supernet_plans_each_edge_for_its_own_candidates():
    """With simplification each edge gets the plan of its own candidate set: at one-hot
    weights the simplified supernet computes what the naive one computes."""
    method = method_for("zero-one-shot-rnd", "darts", seed=1)
    pruned = method.prepare_space(tiny_space(method, "darts"), None, CPU, None)
    torch.manual_seed(0)
    options = dict(dtype=torch.float64, rewrites=frozenset({"pms", "fms", "reparam"}))
    naive = method.supernet(pruned, BuildOptions(simplify=False, **options))
    simple = method.supernet(pruned, BuildOptions(simplify=True, **options))
    simple.load_state_dict(naive.state_dict())
    plans = [(edge.edge.plan.names, kept(pruned)[cell.kind.name][index])
             for cell in simple.stages if isinstance(cell, Cell)
             for index, edge in enumerate(cell.edges) if hasattr(edge.edge, "plan")]
    assert len({names for names, _ in plans}) > 1  # plans for different candidate sets
    assert all(names == own for names, own in plans)
    generator = torch.Generator().manual_seed(2)
    weights = {}
    for name, view in naive.views.items():
        mask = view.mask
        scores = torch.rand(mask.shape, generator=generator).masked_fill(~mask, -1.0)
        weights[name] = torch.nn.functional.one_hot(scores.argmax(-1), mask.shape[1]).double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    edges = method.edge_weights(naive)
    run = Run(weights, edge_weights=edges)
    torch.testing.assert_close(simple(x, run), naive(x, run), rtol=1e-9, atol=1e-9)


def test_pruned_space_is_written_and_reads_back(tmp_path):
    """The run directory gets the pruned .nas, which prints back to itself, loads to the
    space searched, and a report of what Alg. 1 removed."""
    method = method_for(**{"prune-batches": 1})
    pruned = method.prepare_space(tiny_space(method), random_batches(), CPU, tmp_path)
    text = (tmp_path / PRUNED).read_text()
    assert print_program(parse(text)) == text
    reread = load(tmp_path / PRUNED, overrides={"C": 4, "N": 1, "classes": 10}, image=(3, 8))
    assert (reread.cell_kinds, reread.network) == (pruned.cell_kinds, pruned.network)
    assert pruned.cell_kinds[0].edges != tiny_space(method).cell_kinds[0].edges
    assert not pruned.warnings  # no op left defined that no edge keeps
    report = json.loads((tmp_path / PRUNING).read_text())
    assert report["kept"]["cell"] == [list(names) for names in kept(pruned)["cell"]]
    assert report["candidates"] == [12, 30] and len(report["iterations"]) == 3


def test_pruning_none_from_every_edge_drops_it_from_derive_exclude():
    """A mask without `none` anywhere still gives a valid space: `derive ... exclude none`
    loses the name it no longer has."""
    space = load(SPACES / "darts.nas")
    mask = {kind: tuple(tuple(n for n in names if n != "none") for names in sets)
            for kind, sets in kept(space).items()}
    text = prune.pruned_text(space.programs, space, mask)
    assert "exclude" not in text
    assert "derive top 2" in text


def test_a_cell_of_edge_statements_only_prunes_to_edge_statements(tmp_path):
    """R-DARTS S1 gives every edge its own pair and has no `candidates` statement: its pruned
    text keeps one `edge s -> d:` per edge, and reads back to the pruned space."""
    space = load(SPACES / "rdarts_s1.nas")
    mask = {kind: tuple(names[:1] for names in sets) for kind, sets in kept(space).items()}
    path = tmp_path / "pruned.nas"
    path.write_text(prune.pruned_text(space.programs, space, mask))
    (tmp_path / "darts_ops.nas").write_text((SPACES / "darts_ops.nas").read_text())
    reread = load(path)
    assert "candidates" not in path.read_text()
    assert [[names for _, _, names in kind.fixed] for kind in reread.cell_kinds] \
        == [list(mask[kind.name]) for kind in space.cell_kinds]


def test_a_mask_that_leaves_an_edge_nothing_derivable_is_refused():
    """check_mask refuses an edge left with only an excluded candidate."""
    space = load(SPACES / "darts.nas")
    mask = dict(kept(space))
    mask["normal"] = (("none",),) + mask["normal"][1:]
    with pytest.raises(NasError, match="no candidate that derivation may choose"):
        prune.check_mask(space, mask)


# --- the method and its runs --------------------------------------------------------------------

def test_one_shot_part_is_pc_darts_with_beta_decay():
    """The search after pruning uses PC-DARTS's partial channels, edge normalization and
    warm-up, and beta-DARTS's beta-decay regularizer."""
    method = method_for()
    assert method.warmup_epochs == 15
    assert method.build_options(BuildOptions()).partial_channels == 4
    assert {spec.name for spec in method.arch_parameters()} == {"alpha", "edge"}
    net = method.supernet(tiny_space(method))
    method.start_epoch(10)
    beta = BetaDarts(method.config)
    beta.start_epoch(10)
    torch.testing.assert_close(method.regularizer(net), beta.regularizer(net))


def test_prune_level_outside_zero_one_is_refused():
    """xi must lie strictly between 0 and 1, on the command line and in a configuration."""
    assert PRUNE_LEVEL.parse("0.25") == 0.25
    with pytest.raises(argparse.ArgumentTypeError):
        PRUNE_LEVEL.parse("1")
    method = method_for("zero-one-shot-rnd", **{"prune-level": 0.0})
    with pytest.raises(NasError, match=r"--prune-level must be a number in \(0, 1\), not 0.0"):
        method.prepare_space(tiny_space(method), None, CPU, None)


def test_resumed_run_searches_the_same_pruned_space(tmp_path, monkeypatch):
    """A run stopped after its first epoch and resumed reads its pruned space back (no
    pruning again) and ends as an uninterrupted run does."""
    config = SearchConfig(space=str(SPACES / "nb201.nas"), method="zero-one-shot",
                          dataset="digits", subset=64, epochs=2, batch=16, overrides=TINY,
                          method_options=(("prune-batches", 1), ("arch-warmup", 0)))
    whole = Search(config, tmp_path / "whole", progress=False).run()
    assert Search(config, tmp_path / "split", progress=False).run(stop_after=0) is None
    monkeypatch.setattr(ZeroOneShot, "prune_mask", lambda *_: pytest.fail("pruned again"))
    resumed = Search(config, tmp_path / "split", progress=False).run()
    assert (tmp_path / "split" / PRUNED).read_text() == (tmp_path / "whole" / PRUNED).read_text()
    strip = lambda log: [{k: v for k, v in e.items() if k != "seconds"} for e in log]  # noqa: E731
    assert resumed.arch_text == whole.arch_text
    assert strip(read_log(tmp_path / "split")) == strip(read_log(tmp_path / "whole"))
