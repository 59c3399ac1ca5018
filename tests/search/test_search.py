"""Tiny searches: every method with simplification on and off, resume, non-finite losses."""

import json

import pytest
import torch

from nasdsl.architecture.derive import from_genotype, from_nb201
from nasdsl.architecture.layers import from_layers
from nasdsl.architecture.vertices import from_vertices
from nasdsl.dsl.elaborate import load
from nasdsl.methods import method_names
from nasdsl.search.config import SearchConfig
from nasdsl.search.loop import NonFiniteLoss, Search
from nasdsl.search.run_dir import read_log
from tests.paths import SPACES

TINY = {name: (("C", 4), ("N", 1))
        for name in ("nb201", "darts", "rdarts_s1", "rdarts_s2", "rdarts_s3", "rdarts_s4",
                     "nb101")}
TINY["mobilenetv2"] = TINY["proxylessnas"] = (("unit", 1),)  # width 1/8
TINY["fbnet"] = (("unit", 2),)  # its group convs need even widths
MACRO = ("mobilenetv2", "proxylessnas", "fbnet")
# Methods with partial channel connections run a macro space whose layers change their
# channels with all of them through the mix.
PARTIAL = ("pc-darts", "zero-one-shot", "zero-one-shot-rnd")


def tiny(space="nb201", method="darts", method_options=(), **fields) -> SearchConfig:
    """A search of a few seconds: PC-DARTS takes architecture steps from the first epoch."""
    fields = {"subset": 64, "epochs": 2, "batch": 16, **fields}
    method_options = (("arch-warmup", 0), *method_options)
    return SearchConfig(method_options=method_options, space=str(SPACES / f"{space}.nas"), method=method, dataset="digits",
                        overrides=TINY[space], **fields)


def arch_parameters(search: Search) -> dict:
    return {name: p.detach().clone() for name, p in search.net.named_parameters()
            if name.startswith("architecture.")}


def searched_parameters(search: Search) -> dict:
    """The architecture parameters, or the weights for a method that declares none
    (random-ws): what a search must move."""
    return arch_parameters(search) or {name: p.detach().clone()
                                       for name, p in search.net.named_parameters()}


@pytest.mark.parametrize("method", method_names())
@pytest.mark.parametrize(("space", "simplify"), [("nb201", False), ("nb201", True)])
def test_every_method_searches(tmp_path, method, simplify, space):
    """Each registered method, simplified or naive, runs a tiny search, changes the
    architecture parameters (the weights where it has none) and returns a valid architecture of the space (darts's searches,
    two inputs and reduction cells, run under slow)."""
    options = (("prune-batches", 1),) if method.startswith("zero-one-shot") and \
        method != "zero-one-shot-rnd" else ()
    if space in (*MACRO, "nb101") and method in PARTIAL:
        options += (("partial-k", 1),)
    search = Search(tiny(space, method, simplify=simplify, method_options=options),
                    tmp_path / "run", progress=False)
    before = searched_parameters(search)
    result = search.run()
    after = searched_parameters(search)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    loaded = load(SPACES / f"{space}.nas")
    if space == "nb201":
        assert from_nb201(result.arch_text) == result.architecture
    elif space in MACRO:
        assert from_layers(result.arch_text, loaded) == result.architecture
    elif space == "nb101":
        assert from_vertices(result.arch_text, loaded) == result.architecture
    else:
        assert from_genotype(result.arch_text, loaded) == result.architecture
    assert len(result.log) == 2 and (tmp_path / "run" / "derived.nas").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("method", method_names())
@pytest.mark.parametrize("simplify", [False, True])
def test_every_method_searches_darts(tmp_path, method, simplify):
    """The same on darts's naive and simplified supernets."""
    test_every_method_searches(tmp_path, method, simplify, "darts")


@pytest.mark.slow
@pytest.mark.parametrize("method", method_names())
@pytest.mark.parametrize("space", ["rdarts_s1", "rdarts_s2", "rdarts_s3", "rdarts_s4"])
def test_every_method_searches_the_r_darts_spaces(tmp_path, method, space):
    """The same on R-DARTS's four spaces (per-edge candidates, no `none`, noise)."""
    test_every_method_searches(tmp_path, method, True, space)


@pytest.mark.parametrize("method", ["darts", "rome"])
def test_a_two_input_space_searches(tmp_path, method):
    """A search of darts's normal and reduction cells, simplified (every method, naive and
    simplified, under slow)."""
    test_every_method_searches(tmp_path, method, True, "darts")


@pytest.mark.parametrize("method", ["darts", "gdas"])
def test_a_macro_space_searches(tmp_path, method):
    """A search of mobilenetv2's searchable layers, each with its own parameters, derives one
    op per layer (every method, under slow)."""
    test_every_method_searches(tmp_path, method, True, "mobilenetv2")


@pytest.mark.slow
@pytest.mark.parametrize("method", method_names())
@pytest.mark.parametrize("space", MACRO)
def test_every_method_searches_the_macro_spaces(tmp_path, method, space):
    """The same for every method on every shipped macro space; those with partial channels
    run with K=1."""
    test_every_method_searches(tmp_path, method, True, space)


@pytest.mark.parametrize("method", ["darts", "rome"])
def test_a_node_ops_space_searches(tmp_path, method):
    """A search of nb101's vertex ops and wires derives a cell written as its text numbers
    it (every method, under slow)."""
    test_every_method_searches(tmp_path, method, True, "nb101")


@pytest.mark.slow
@pytest.mark.parametrize("method", method_names())
def test_every_method_searches_nb101(tmp_path, method):
    """The same for every method on nb101.nas; those with partial channels run with K=1
    (its input wires change the channels)."""
    test_every_method_searches(tmp_path, method, True, "nb101")


def test_second_order_darts_searches(tmp_path):
    """DARTS's unrolled architecture step runs and moves the architecture parameters."""
    search = Search(tiny(method_options=(("second-order", True),), epochs=1), tmp_path / "run", progress=False)
    before = arch_parameters(search)
    search.run()
    assert not torch.equal(before["architecture.alpha.kind_cell"],
                           arch_parameters(search)["architecture.alpha.kind_cell"])


@pytest.mark.parametrize("method", ["gdas", "random-ws"])
def test_kill_and_resume_gives_the_same_run(tmp_path, method):
    """A run stopped after its first epoch and resumed ends with the architecture and the
    log of an uninterrupted run with the same seed (timings aside), random-ws's choice
    among sampled architectures after the last epoch included."""
    config = tiny(method=method, epochs=3)
    whole = Search(config, tmp_path / "whole", progress=False).run()
    assert Search(config, tmp_path / "split", progress=False).run(stop_after=0) is None
    resumed = Search(config, tmp_path / "split", progress=False).run()
    strip = lambda log: [{k: v for k, v in e.items() if k != "seconds"} for e in log]  # noqa: E731
    assert resumed.arch_text == whole.arch_text
    assert strip(read_log(tmp_path / "split")) == strip(read_log(tmp_path / "whole"))


def test_non_finite_loss_stops_cleanly_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    """A NaN loss in the second epoch stops the run with a clear error; the checkpoint and
    log of the first epoch stay."""
    search = Search(tiny(epochs=3), tmp_path / "run", progress=False)
    original = search.method.logits
    calls = {"count": 0}

    def poisoned(net, x):
        calls["count"] += 1
        logits = original(net, x)
        return logits * float("nan") if search.method.epoch == 1 else logits
    monkeypatch.setattr(search.method, "logits", poisoned)
    with pytest.raises(NonFiniteLoss, match="became nan at epoch 1"):
        search.run()
    assert [e["epoch"] for e in read_log(tmp_path / "run")] == [0]
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["epochs"] == 3
