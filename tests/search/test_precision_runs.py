"""Searches in mixed precision: every method runs in bf16 on the CPU, and an fp16 search
keeps its gradient scale through a checkpoint."""

import math

import pytest
import torch

from nasdsl.methods import method_names
from nasdsl.search.loop import Search
from nasdsl.search.run_dir import read_log
from tests.search.test_search import arch_parameters, tiny


def searches(tmp_path, method: str, precision: str) -> Search:
    search = Search(tiny(method=method, epochs=1, precision=precision), tmp_path / method,
                    progress=False)
    before = arch_parameters(search)
    result = search.run()
    log = read_log(tmp_path / method)
    assert result.arch_text and math.isfinite(log[-1]["train_loss"])
    moved = [not torch.equal(value, arch_parameters(search)[name]) for name, value in before.items()]
    assert not before or any(moved), "the architecture parameters did not move"
    return search


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_darts_searches_in_mixed_precision(tmp_path, precision):
    """A DARTS search in bf16 or fp16 finishes with finite losses, moves alpha, keeps alpha
    in fp32; fp16's scale is in the checkpoint."""
    search = searches(tmp_path, "darts", precision)
    assert all(p.dtype == torch.float32 for p in search.net.arch_parameters())
    state = torch.load(tmp_path / "darts" / "checkpoint.pt", weights_only=False)
    assert ("grad_scale.scale" in state["net"]) == (precision == "fp16")


@pytest.mark.parametrize("method", method_names())
def test_every_method_searches_in_bf16(tmp_path, method):
    """Every registered method searches nb201 in bf16 on the CPU: a valid architecture,
    finite losses, its architecture parameters moved."""
    searches(tmp_path, method, "bf16")


class _FailsInBackward(torch.autograd.Function):
    """The identity, whose backward fails as a compiled backward that cannot compile."""

    @staticmethod
    def forward(ctx, tensor):
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad):
        raise torch._dynamo.exc.TorchDynamoException("Cannot convert expression to float")


def test_a_backward_that_fails_to_compile_falls_back_to_eager(tmp_path, monkeypatch):
    """Compiled stages whose backward fails (torch.compile compiles it when it first runs):
    the step warns, the supernet runs eagerly from then on, and the search finishes with the
    architecture an eager search derives."""
    def compile(stage, **options):
        def call(*args):
            return _FailsInBackward.apply(stage(*args))
        return call
    eager = Search(tiny(epochs=1), tmp_path / "eager", progress=False).run()
    monkeypatch.setattr(torch, "compile", compile)
    search = Search(tiny(epochs=1, compile=True), tmp_path / "compiled", progress=False)
    with pytest.warns(UserWarning, match="torch.compile failed .TorchDynamoException: Cannot "
                                         "convert expression to float.; the supernet runs eagerly"):
        result = search.run()
    assert search.net._runners == list(search.net.stages)
    assert result.arch_text == eager.arch_text
