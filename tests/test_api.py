"""The Python API: `import nasdsl` gives the documented names, they compose into a search
with a plain PyTorch loop, and the example script that does so runs."""

import subprocess
import sys

import torch
import torch.nn.functional as F

import nasdsl
from tests.paths import ROOT

DOCUMENTED = ("Architecture", "DerivedNetwork", "Method", "Space", "Supernet", "arch_text",
              "derived_network", "load_space", "lookup", "method", "method_names", "supernet")


def test_import_nasdsl_offers_the_documented_names():
    """Every name the README documents is an attribute of the package, and nothing else is
    exported beside the version."""
    for name in DOCUMENTED:
        assert getattr(nasdsl, name) is not None
    assert sorted(nasdsl.__all__) == sorted(("__version__", *DOCUMENTED))


def test_a_step_of_your_own_moves_weights_and_architecture():
    """A supernet from the API, driven by hand: one SGD step on the weights and one Adam
    step on the architecture parameters change both; the derived cell reads back and its
    network runs on the data the space was loaded for."""
    torch.manual_seed(0)
    space = nasdsl.load_space("nb201", overrides={"C": 4, "N": 1}, image=(1, 8), classes=10)
    method = nasdsl.method("darts")
    net = nasdsl.supernet(space, method, batch=8)
    x, y = torch.randn(8, 1, 8, 8), torch.randint(10, (8,))
    before = [p.detach().clone() for p in (*net.weight_parameters(), *net.arch_parameters())]
    weights = torch.optim.SGD(net.weight_parameters(), lr=0.1)
    architecture = torch.optim.Adam(net.arch_parameters(), lr=0.1)
    for optimizer in (weights, architecture):
        optimizer.zero_grad()
        F.cross_entropy(net(x, method.run(net)), y).backward()
        optimizer.step()
    after = [*net.weight_parameters(), *net.arch_parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(before[:-1], after[:-1]))
    assert not torch.equal(before[-1], after[-1])
    arch = method.derive(net, space)
    assert nasdsl.arch_text(space, arch).count("~") == 6
    assert nasdsl.derived_network(space, arch)(x).shape == (8, 10)


def test_method_options_by_keyword():
    """A method's options are given by keyword, `_` for `-`."""
    assert nasdsl.method("pc-darts", partial_k=2).option("partial-k") == 2


def test_the_example_runs_in_its_quick_form():
    """examples/search_with_your_own_loop.py --quick searches and prints a derived cell."""
    done = subprocess.run([sys.executable, str(ROOT / "examples" /
                                               "search_with_your_own_loop.py"), "--quick"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "derived cell: |" in done.stdout
