"""The torch backend on CUDA (skipped without a CUDA device; `pytest -m cuda` runs these
alone, as experiments/gpu_check.py does): vertex exactness of every shipped space's
simplified supernet on the device, mixed-precision search steps, and a search that
resumes to the uninterrupted run's result."""

import pytest
import torch

from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.search.loop import Search
from nasdsl.search.run_dir import read_log
from tests.backends.test_network import assert_equal_at_one_hot_architectures
from tests.paths import SPACES
from tests.search.test_search import TINY, tiny

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                   reason="no CUDA device")]

SPACE_NAMES = sorted(TINY)


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_every_shipped_space_is_vertex_exact_on_cuda(name):
    """On the CUDA device, in float64, the simplified supernet (every rewrite) equals the
    naive one at random one-hot architectures (dropout, which draws differently in the two,
    in eval mode)."""
    space = load(SPACES / f"{name}.nas", overrides=dict(TINY[name]))
    torch.manual_seed(0)
    options = dict(dtype=torch.float64, device="cuda")
    naive = Supernet(space, BuildOptions(simplify=False, **options))
    simple = Supernet(space, BuildOptions(rewrites=frozenset({"pms", "fms", "reparam"}),
                                          **options))
    simple.load_state_dict(naive.state_dict())
    for layer in (*naive.modules(), *simple.modules()):
        if isinstance(layer, torch.nn.Dropout):
            layer.eval()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64, device="cuda")
    assert_equal_at_one_hot_architectures(naive, simple, x, seed=1)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("method", ["darts", "gdas", "pc-darts"])
def test_searches_on_cuda_in_each_precision(tmp_path, method, precision):
    """A tiny search on the CUDA device in each precision finishes with finite losses and
    the CUDA peak memory in its log."""
    result = Search(tiny(method=method, device="cuda", precision=precision),
                    tmp_path / "run", progress=False).run()
    assert result.arch_text
    assert all(entry["peak_cuda_mb"] > 0 for entry in read_log(tmp_path / "run"))


def test_kill_and_resume_on_cuda_gives_the_same_run(tmp_path, monkeypatch):
    """GDAS samples on the device's generator: a run stopped after its first epoch and
    resumed (the checkpoint keeps the CUDA generator) ends as the uninterrupted one, with
    cuDNN's deterministic algorithms."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    config = tiny(method="gdas", epochs=3, device="cuda")
    whole = Search(config, tmp_path / "whole", progress=False).run()
    assert Search(config, tmp_path / "split", progress=False).run(stop_after=0) is None
    resumed = Search(config, tmp_path / "split", progress=False).run()
    assert resumed.arch_text == whole.arch_text
