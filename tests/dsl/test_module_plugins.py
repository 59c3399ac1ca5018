"""Module kinds written outside nasdsl: the README's example, installed as a distribution
with an entry point of group `nasdsl.modules`, is used by name from a .nas file; the
simplifier merges it by its kernel, exactly; a broken plugin is the error of its users."""

import pytest

from tests import plugins
from tests.plugins import nasdsl, python

ENTRY = "channel_scale = channel_scale:ChannelScale"
SPACE = """op scaled = conv(kernel=3) -> channel_scale(init=0.5)
op wide = conv(kernel=5)
op skip = identity

cell c {
    inputs 1
    nodes 2
    edges all
    candidates scaled, wide, skip
}

network tiny {
    let C = 4
    let classes = 10
    input(channels=3, size=16)
    stem conv(kernel=3, out=C) -> bn
    cells c * 1 channels C
    head global_avg_pool -> linear(out=classes)
}
"""
# Naive and simplified supernets with the same parameters agree at every vertex.
EXACTNESS = """
import torch
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.backends.torch.contract import Run
from nasdsl.dsl.elaborate import load
space = load("space.nas")
torch.manual_seed(0)
options = dict(dtype=torch.float64)
naive = Supernet(space, BuildOptions(simplify=False, **options))
merged = Supernet(space, BuildOptions(rewrites=frozenset({"reparam"}), **options))
merged.load_state_dict(naive.state_dict())
x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
for column in range(3):
    weights = {"c": torch.nn.functional.one_hot(torch.full((3,), column), 3).double()}
    torch.testing.assert_close(merged(x, Run(weights)), naive(x, Run(weights)))
print("exact")
"""


def readme_example() -> str:
    return plugins.readme_example("### Writing a module kind")


def install(site, module: str, entry: str = ENTRY):
    return plugins.install(site, "channel_scale", module, "nasdsl.modules", entry)


def test_an_installed_module_kind_is_used_by_name(tmp_path):
    """The README's channel_scale checks and is merged by reparameterization into one 5x5
    kernel with its neighbours, exactly."""
    site = install(tmp_path / "site", readme_example())
    (tmp_path / "space.nas").write_text(SPACE)
    checked = nasdsl(site, "check", "space.nas", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    explained = nasdsl(site, "simplify", "space.nas", "--explain", "--rewrites", "reparam",
                       cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    assert "channel_scale(channels=4, init=0.5)" in explained.stdout
    assert "one 5x5 kernel" in explained.stdout
    exact = python(site, EXACTNESS, cwd=tmp_path)
    assert exact.returncode == 0 and "exact" in exact.stdout, exact.stderr


@pytest.mark.slow
def test_an_installed_module_kind_searches(tmp_path):
    """A tiny search of a space using the plugin's kind runs and derives its network."""
    site = install(tmp_path / "site", readme_example())
    (tmp_path / "space.nas").write_text(SPACE)
    ran = nasdsl(site, "run", "space.nas", "--method", "darts", "--dataset", "digits",
                 "--subset", "32", "--epochs", "1", "--batch", "16", "--out", "run",
                 "--no-progress", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "run" / "derived.nas").is_file()


def test_a_broken_module_plugin_is_the_error_of_the_files_that_use_it(tmp_path):
    """An entry point naming no module kind: a file using the name gets a located error
    naming the entry point, no traceback."""
    site = install(tmp_path / "site", "ChannelScale = 3\n")
    (tmp_path / "space.nas").write_text(SPACE)
    checked = nasdsl(site, "check", "space.nas", cwd=tmp_path)
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    assert "space.nas:1:" in checked.stderr
    assert "module 'channel_scale': entry point 'channel_scale = channel_scale:ChannelScale' " \
           "of group nasdsl.modules names 3, not a module kind" in checked.stderr


def test_the_readme_example_is_complete_and_short():
    """The README's module kind fits in under 70 lines, registrations included."""
    example = readme_example()
    assert len(example.splitlines()) < 70
    assert all(name in example for name in ("register_layer", "register_cost",
                                            "register_kernel", "@module_kind"))
