"""Goldens of what actually runs: the plans the cost model chooses for the shipped spaces at
their default settings (as `nasdsl simplify --explain` prints them, the plans the supernet is
built from), the derived.nas a search writes, and Zero-One-Shot's pruned.nas. A change of
cost constants that changes what `nasdsl run` executes moves one of these goldens.
NASDSL_UPDATE_GOLDEN=1 rewrites them."""

import os

import pytest
import torch

from nasdsl.architecture.derive import derive, derived_text
from nasdsl.architecture.prune import pruned_text
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.cli import main
from nasdsl.dsl.elaborate import load
from nasdsl.methods import get_method
from nasdsl.search.config import SearchConfig
from nasdsl.simplify.compiler import compile_network
from nasdsl.simplify.cost import Setting
from tests.paths import GOLDEN, SPACES

# The shipped spaces with a network (darts_ops.nas and mbconv_ops.nas are libraries of ops).
SHIPPED = ["nb201", "darts", "darts_large", "rdarts_s1", "rdarts_s2", "rdarts_s3", "rdarts_s4",
           "mobilenetv2", "proxylessnas", "fbnet", "nb101"]


def matches_golden(text: str, name: str) -> bool:
    golden = GOLDEN / name
    if os.environ.get("NASDSL_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    return text == golden.read_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_explained_chosen_plans(name, capsys):
    """`nasdsl simplify NAME --explain` at the default settings prints the golden plans."""
    assert main(["simplify", name, "--explain"]) == 0
    assert matches_golden(capsys.readouterr().out, f"explain/{name}.txt")


@pytest.mark.parametrize("name", ["nb201", "darts"])
def test_the_supernet_runs_the_plans_explain_prints(name):
    """The supernet is built from the compiled plans of its network at its setting: the
    object `simplify --explain` prints (batch 64, the search's default)."""
    space = load(SPACES / f"{name}.nas", overrides={"C": 4, "N": 1})
    setting = Setting(batch=64)
    net = Supernet(space, BuildOptions(setting=setting))
    assert net.plans == compile_network(space.network, setting)
    assert any(plan.rewrites for plan in net.plans.values())


def graded_weights(space) -> dict[str, list[list[float]]]:
    """Weights with no ties, the same on every run: candidate c of edge e weighs
    ((7 e + 3 c) mod 11) + 1."""
    return {kind.name: [[float((7 * e + 3 * c) % 11 + 1) for c in range(len(names))]
                        for e, (_, _, names) in enumerate(kind.edges)]
            for kind in space.cell_kinds}


@pytest.mark.parametrize("name", ["nb201", "darts", "mobilenetv2", "nb101"])
def test_derived_space_text(name):
    """The derived.nas of fixed weights: the space's used definitions, one op per edge."""
    space = load(SPACES / f"{name}.nas")
    text = derived_text(space, derive(space, graded_weights(space)))
    assert matches_golden(text, f"derived/{name}.nas")


@pytest.mark.parametrize("name", ["darts", "mobilenetv2"])
def test_zero_one_shot_pruned_space_text(name):
    """Zero-One-Shot-Rnd's pruned.nas at seed 0: each edge's (each layer's) kept candidates."""
    config = SearchConfig(space=str(SPACES / f"{name}.nas"), method="zero-one-shot-rnd", seed=0)
    method = get_method("zero-one-shot-rnd")(config)
    space = load(SPACES / f"{name}.nas")
    mask = method.prune_mask(space, None, torch.device("cpu"))
    assert matches_golden(pruned_text(space.programs, space, mask), f"pruned/{name}.nas")
