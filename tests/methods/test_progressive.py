"""Progressive searches (DrNAS's stages): the supernet rebuilt between stages with fewer
candidates and wider partial channels, its state carried over, resumable across stages."""

import pytest
import torch

from nasdsl.architecture.prune import full_mask, restricted
from nasdsl.backends.torch.carry import Carry
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.errors import NasError, NasErrors
from nasdsl.methods.drnas import Stages
from nasdsl.search.loop import Search
from nasdsl.search.run_dir import read_log
from tests.paths import SPACES
from tests.search.test_search import tiny

KEPT = ("none", "nor_conv_3x3", "avg_pool_3x3")  # of NB201's five, on every edge


def nb201(**overrides):
    return load(SPACES / "nb201.nas", overrides={"C": 8, "N": 1, **overrides})


def kept_space(space):
    return restricted(space, {kind: tuple(tuple(n for n in names if n in KEPT) for names in sets)
                              for kind, sets in full_mask(space).items()})


def test_a_supernet_keeps_the_candidates_its_space_was_restricted_to_through_narrowing():
    """Partial channels elaborate the space again; the candidates of a restricted space stay
    those it was restricted to (they were all restored before)."""
    net = Supernet(kept_space(nb201()), BuildOptions(partial_channels=2))
    assert all(edge.edge.names == KEPT for edge in net.stages[1].edges)
    assert net.views["cell"].mask.shape == (6, 3)


def test_carry_copies_kept_candidates_and_widens_them_with_one_mapping_per_candidate():
    """Carried from a K=4 supernet of every candidate into a K=2 one of three: each kept
    conv keeps its old channels, its new channels copy old ones, and its output channels,
    its bias and its input channels share one mapping; the stem is copied; alpha keeps each
    kept candidate's column."""
    torch.manual_seed(0)
    old = Supernet(nb201(), BuildOptions(partial_channels=4, simplify=False))
    new = Supernet(kept_space(nb201()), BuildOptions(partial_channels=2, simplify=False))
    with torch.no_grad():
        for parameter in old.parameters():
            parameter.copy_(torch.randn_like(parameter))
    Carry(old, new).load(old, new)
    before, after = old.state_dict(), new.state_dict()
    conv = "stages.1.edges.4.edge.ops.{}.1.weight"
    bias = "stages.1.edges.4.edge.ops.{}.1.bias"
    old_conv, new_conv = before[conv.format(3)], after[conv.format(1)]  # nor_conv_3x3
    assert old_conv.shape[:2] == (2, 2) and new_conv.shape[:2] == (4, 4)
    assert torch.equal(new_conv[:2, :2], old_conv)
    mapping = [next(i for i in range(2) if torch.equal(new_conv[j, 0], old_conv[i, 0]))
               for j in range(4)]
    assert mapping[:2] == [0, 1]
    assert torch.equal(new_conv, old_conv[mapping][:, mapping])
    assert torch.equal(after[bias.format(1)], before[bias.format(3)][mapping])
    assert torch.equal(after["stages.0.0.weight"], before["stages.0.0.weight"])
    old_alpha, new_alpha = old.views["cell"]["alpha"], new.views["cell"]["alpha"]
    assert torch.equal(new_alpha, old_alpha[:, [0, 3, 4]])


def test_carry_moves_momentum_with_its_parameter():
    """An SGD momentum buffer and Adam's moments reach the new supernet's parameters by the
    same mapping as the parameters themselves."""
    torch.manual_seed(1)
    old = Supernet(nb201(), BuildOptions(partial_channels=4, simplify=False))
    new = Supernet(kept_space(nb201()), BuildOptions(partial_channels=2, simplify=False))
    sgd_old = torch.optim.SGD(old.weight_parameters(), 0.1, momentum=0.9)
    adam_old = torch.optim.Adam(old.arch_parameters(), 0.1)
    for optimizer in (sgd_old, adam_old):
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                parameter.grad = torch.randn_like(parameter)
        optimizer.step()
    sgd_new = torch.optim.SGD(new.weight_parameters(), 0.1, momentum=0.9)
    adam_new = torch.optim.Adam(new.arch_parameters(), 0.1)
    carry = Carry(old, new)
    carry.optimizer(old, new, sgd_old, sgd_new)
    carry.optimizer(old, new, adam_old, adam_new)
    olds, news = dict(old.named_parameters()), dict(new.named_parameters())
    key = "stages.1.edges.0.edge.ops.{}.1.weight"
    momentum = sgd_new.state[news[key.format(1)]]["momentum_buffer"]
    assert torch.equal(momentum[:2, :2], sgd_old.state[olds[key.format(3)]]["momentum_buffer"])
    alpha = "architecture.alpha.kind_cell"
    assert torch.equal(adam_new.state[news[alpha]]["exp_avg"],
                       adam_old.state[olds[alpha]]["exp_avg"][:, [0, 3, 4]])
    assert adam_new.state[news[alpha]]["step"] == adam_old.state[olds[alpha]]["step"]


def progressive(epochs=3, **options):
    return tiny(method="drnas", epochs=epochs,
                method_options=tuple({"stages": "2:all,1:3", **options}.items()))


def test_drnas_second_stage_keeps_the_top_candidates_at_full_width(tmp_path):
    """After the first stage (epoch 0 of 2, at K=2), every edge keeps the three candidates
    of largest alpha, and the second stage runs them at full width."""
    config = progressive(epochs=2)
    search = Search(config, tmp_path / "run", progress=False)
    search.run(stop_after=0)
    alpha = search.net.views["cell"]["alpha"].detach()
    names = search.space.cell_kinds[0].edges[0][2]
    expected = [tuple(n for i, n in enumerate(names) if i in row.topk(3).indices.tolist())
                for row in alpha]
    assert search.net.stages[1].edges[0].k == 2
    resumed = Search(config, tmp_path / "run", progress=False)
    resumed.run()
    kind = resumed.space.cell_kinds[0]
    assert [names for _, _, names in kind.edges] == expected
    assert all(not hasattr(edge, "k") for edge in resumed.net.stages[1].edges)
    assert resumed.net.views["cell"].mask.shape == (6, 3)


@pytest.mark.parametrize("stop_after", [0, 1, 2])
def test_drnas_kill_and_resume_across_stages_gives_the_same_run(tmp_path, stop_after):
    """A progressive run stopped in its first stage, at the boundary (epoch 1 of 0-1 | 2-3)
    or in its second and resumed ends with the log and architecture of an uninterrupted
    run."""
    config = progressive(epochs=4)
    whole = Search(config, tmp_path / "whole", progress=False).run()
    assert Search(config, tmp_path / "split", progress=False).run(stop_after=stop_after) is None
    resumed = Search(config, tmp_path / "split", progress=False).run()
    strip = lambda log: [{k: v for k, v in e.items() if k != "seconds"} for e in log]  # noqa: E731
    assert resumed.arch_text == whole.arch_text
    assert strip(read_log(tmp_path / "split")) == strip(read_log(tmp_path / "whole"))


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_carry_to_full_width_covers_every_tensor(space):
    """From K=2 to K=1 (no partial-channel wrapper any more) every tensor of the new
    supernet has its source, weights and batch-norm statistics alike."""
    whole = load(SPACES / f"{space}.nas", overrides={"C": 8, "N": 1})
    old = Supernet(whole, BuildOptions(partial_channels=2))
    new = Supernet(restricted(whole, {kind: tuple(names[:3] for names in sets)
                                      for kind, sets in full_mask(whole).items()}),
                   BuildOptions())
    assert len(Carry(old, new).sources) == len(new.state_dict())


def test_every_stage_k_is_checked_before_the_search(tmp_path):
    """A later stage's K that does not divide the channels is refused when the search is
    built, not when its stage would begin."""
    with pytest.raises(NasErrors, match="cannot send 1/3"):
        Search(progressive(stages="4:all,3:3"), tmp_path / "run", progress=False)


def test_drnas_stage_warmup_restarts_at_every_stage():
    """With --stage-warmup 1 the first epoch of each stage takes no architecture steps."""
    from nasdsl.methods.drnas import DrNas
    method = DrNas(progressive(epochs=4, **{"stage-warmup": 1}))
    assert method.stage_starts() == (2,)
    assert [method.arch_steps_in(epoch) for epoch in range(4)] == [False, True, False, True]


@pytest.mark.parametrize("text, problem", [
    ("4:3", "first stage"), ("2:all,4:3", "never grow"), ("4:all,2:all,1:3,1:4", "never grow"),
    ("four:all", "not K:KEPT"), ("4:all,2:1", "not K:KEPT")])
def test_stages_that_cannot_run_are_refused(text, problem):
    """--stages refuses a first stage that prunes, stages that narrow or grow the candidates,
    and malformed or too-small counts, saying why."""
    with pytest.raises(NasError, match=problem):
        Stages().check("--stages", text)


def test_more_stages_than_epochs_is_an_error(tmp_path):
    """Three stages in two epochs is refused before any work, naming --epochs."""
    with pytest.raises(NasError, match="--epochs 3 at least"):
        Search(tiny(method="drnas", epochs=2, method_options=(("stages", "2:all,1:4,1:3"),)),
               tmp_path / "run", progress=False)
