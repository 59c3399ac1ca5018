"""Methods written outside nasdsl: the README's example, installed as a distribution with an
entry point of group `nasdsl.methods`, is found by `run`, `bench` and `run --help`."""

import json

import pytest

from tests import plugins
from tests.plugins import nasdsl

ENTRY = "node-tempered-darts = node_tempered:NodeTemperedDarts"


def readme_example() -> str:
    """The method module the README's "Writing a search method" section shows."""
    return plugins.readme_example("## Writing a search method")


def install(site, module: str, entry: str = ENTRY):
    return plugins.install(site, "node_tempered", module, "nasdsl.methods", entry)


def test_the_readme_example_is_short():
    """The README's outside method is complete in under 60 lines."""
    assert len(readme_example().splitlines()) < 60


def test_an_installed_method_searches_and_lists_its_options(tmp_path):
    """`run --help` lists the plugin's options; `run --method` searches with it (its per-node
    parameter is allocated, checkpointed and moved by the architecture steps), and `bench
    --methods` measures it."""
    (tmp_path / "site").mkdir()
    site = install(tmp_path / "site", readme_example())
    shown = nasdsl(site, "run", "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "node-tempered-darts options" in shown.stdout and "--min-temperature" in shown.stdout

    ran = nasdsl(site, "run", "nb201", "--method", "node-tempered-darts", "--dataset",
                 "digits", "--subset", "64", "--epochs", "1", "--batch", "16", "--set", "C=4",
                 "--set", "N=1", "--min-temperature", "0.5", "--out", "run", "--no-progress",
                 cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["method"] == "node-tempered-darts"
    assert ["min-temperature", 0.5] in config["method_options"]
    import torch
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    arch = {name: value for name, value in state["net"].items() if "log_temperature" in name}
    assert list(arch) == ["architecture.log_temperature.kind_cell"]
    assert arch["architecture.log_temperature.kind_cell"].shape == (3,)  # NB201's 3 nodes
    assert arch["architecture.log_temperature.kind_cell"].abs().sum() > 0

    bench = nasdsl(site, "bench", "nb201", "--methods", "darts,node-tempered-darts", "--set",
                   "C=4", "--set", "N=1", "--batch", "2", "--repeats", "1", "--no-flops",
                   "--kernel-norm", "off", cwd=tmp_path)
    assert bench.returncode == 0, bench.stderr
    assert "node-tempered-darts" in bench.stdout


@pytest.mark.parametrize(("module", "entry", "message"), [
    ("raise ImportError('no such thing')\n", ENTRY,
     "of group nasdsl.methods does not load: ImportError: no such thing"),
    ("class NodeTemperedDarts:\n    name = 'x'\n", ENTRY,
     "not a subclass of nasdsl.methods.base.Method"),
    ("from nasdsl.methods.darts import Darts\nclass NodeTemperedDarts(Darts):\n    pass\n",
     ENTRY, "is called 'darts', which nasdsl.methods.darts already registers"),
])
def test_a_broken_plugin_is_a_clear_error(tmp_path, module, entry, message):
    """A plugin that fails to import, names no Method subclass or takes a shipped method's
    name: asking for it is an error naming its entry point, not a traceback; other
    commands run, warning about it."""
    (tmp_path / "site").mkdir()
    site = install(tmp_path / "site", module, entry)
    asked = nasdsl(site, "run", "nb201", "--method", "node-tempered-darts", "--epochs", "1",
                   cwd=tmp_path)
    assert asked.returncode == 2
    assert message in asked.stderr and "Traceback" not in asked.stderr
    assert asked.stderr.count(message) == 1 and "warning: " not in asked.stderr
    assert "node-tempered-darts = node_tempered:NodeTemperedDarts" in asked.stderr
    other = nasdsl(site, "check", "nb201", cwd=tmp_path)
    assert other.returncode == 0 and "warning: " in other.stderr and "node_tempered:NodeTemperedDarts" in other.stderr
