"""The plots of a run directory: written at the end of `nasdsl run`, drawn again by
`nasdsl plot`, from the log alone (a training run's too), and clear errors where there is
no run or no whole log."""

import itertools
import json
import re

import pytest
from PIL import Image

from nasdsl.cli import main
from nasdsl.plots import plot_run

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
TINY_RUN = ["--set", "C=4", "--set", "N=1", "--subset", "64", "--epochs", "2", "--batch", "16",
            "--no-progress"]


def figures_of(arch: str) -> tuple[float, float]:
    """The tiny table's cifar10 valid and test accuracy of an arch string."""
    code = sum(map(ord, arch))
    return 50 + code % 40, 55 + code % 40


# every NB201 cell, so that whatever a tiny search derives is in the table
ARCHS = [f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"
         for a, b, c, d, e, f in itertools.product(OPS, repeat=6)]


def nb201_table(path):
    path.write_text("arch,cifar10_valid,cifar10_test\n" + "".join(
        f"{arch},{','.join(map(str, figures_of(arch)))}\n" for arch in ARCHS))
    return path


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A finished two-epoch DARTS search of a tiny NB201 space, with a benchmark table."""
    root = tmp_path_factory.mktemp("plots")
    out = root / "run"
    assert main(["run", "nb201", *TINY_RUN, "--benchmark", str(nb201_table(root / "nb201.csv")),
                 "--out", str(out)]) == 0
    return out


def write_run(directory, config: dict, entries: list[dict]):
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return directory


def weights(edges: int, width: int) -> list[list[float]]:
    return [[round(1 / width, 4)] * width for _ in range(edges)]


SEARCH_PNGS = ("plot-curves.png", "plot-weights-cell.png", "plot-benchmark.png")


def test_a_search_leaves_readable_plots(searched):
    """`nasdsl run` with a benchmark leaves the curves, the cell's weights and the benchmark
    plot: PNGs of a readable size with something drawn on them."""
    for name in SEARCH_PNGS:
        path = searched / name
        assert path.stat().st_size > 10_000, name
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width >= 700 and image.height >= 400
            assert len(image.convert("RGB").getcolors(1 << 20)) > 50  # not a blank canvas


def test_result_json_holds_the_benchmark_figures(searched):
    """result.json keeps its fields and adds the derived architecture's benchmark figures
    and the benchmark's best."""
    result = json.loads((searched / "result.json").read_text())
    assert {"arch", "epochs", "method", "space"} <= set(result)
    valid, test = figures_of(result["arch"])
    assert result["benchmark"]["figures"] == {"cifar10": {"valid": valid, "test": test}}
    best = [max(column) for column in zip(*map(figures_of, ARCHS))]
    assert result["benchmark"]["optimum"] == {"cifar10": {"valid": best[0], "test": best[1]}}


def test_nasdsl_plot_draws_them_again(searched, capsys):
    """`nasdsl plot RUN_DIR` rewrites every plot of a finished search and names them."""
    for name in SEARCH_PNGS:
        (searched / name).unlink()
    assert main(["plot", str(searched)]) == 0
    out = capsys.readouterr().out
    for name in SEARCH_PNGS:
        assert (searched / name).stat().st_size > 10_000 and name in out


def test_plot_of_a_directory_that_is_not_a_run(tmp_path, capsys):
    """A directory without config.json, or a missing one, exits 2 with a clear message."""
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["plot", str(tmp_path)]) == 2
    assert f"{tmp_path} is not a run directory: it has no config.json" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such directory" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "notes.txt"]


@pytest.mark.parametrize(("log", "message"), [
    ('{"epoch": 0, "train_loss": 2.3}\n{"epoch": 1, "train_lo', "line 2 of .* is not an "
                                                              "epoch's entry: the log was cut"),
    ("", "records no finished epoch"),
])
def test_plot_of_a_log_cut_short_or_empty(tmp_path, capsys, log, message):
    """A log cut short in a line, or without any epoch, exits 2 naming the problem, with no
    traceback."""
    run = write_run(tmp_path / "run", {"space": "nb201"}, [])
    (run / "log.jsonl").write_text(log)
    assert main(["plot", str(run)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(message, err)


def test_a_training_log_gets_its_curves_only(tmp_path):
    """A log of losses and accuracies alone (a training run's) gives the curves plot and no
    other, with nothing to note."""
    run = write_run(tmp_path / "run", {"arch": "x", "epochs": 3}, [
        {"epoch": epoch, "train_loss": 2 - epoch / 3, "train_acc": 0.1 * epoch,
         "test_loss": 2.1 - epoch / 4, "test_acc": 0.08 * epoch, "lr": 0.1}
        for epoch in range(3)])
    plots = plot_run(run)
    assert plots.written == (run / "plot-curves.png",) and plots.notes == ()
    assert sorted(path.name for path in run.glob("*.png")) == ["plot-curves.png"]


def test_weights_of_a_method_that_derives_only_at_the_end_are_not_plotted(tmp_path):
    """random-ws logs its fixed sampling distribution and `arch: null`: no weights plot,
    and a note says why."""
    run = write_run(tmp_path / "run", {"space": "nb201", "method": "random-ws"}, [
        {"epoch": epoch, "train_loss": 2.0, "valid_acc": 0.1, "arch": None,
         "weights": {"cell": weights(6, 5)}} for epoch in range(2)])
    plots = plot_run(run)
    assert [path.name for path in plots.written] == ["plot-curves.png"]
    assert "no epoch derived an architecture" in plots.notes[0]


def test_darts_cells_get_a_figure_per_kind_with_named_candidates(tmp_path):
    """Two cell kinds of 14 edges each: a weights figure per kind, candidates named from the
    configured space (no note), in a grid taller than one row of panels."""
    run = write_run(tmp_path / "run", {"space": "darts", "overrides": [["C", 4], ["N", 1]],
                                       "method": "darts"}, [
        {"epoch": epoch, "train_loss": 2.0, "arch": "genotype",
         "weights": {"normal": weights(14, 8), "reduce": weights(14, 8)}}
        for epoch in range(3)])
    plots = plot_run(run)
    assert [path.name for path in plots.written] == [
        "plot-curves.png", "plot-weights-normal.png", "plot-weights-reduce.png"]
    assert plots.notes == ()
    with Image.open(run / "plot-weights-normal.png") as image:
        assert image.height >= 800


def test_epochs_of_a_later_stage_are_left_out_with_a_note(tmp_path):
    """Where a later stage kept fewer candidates, which the log does not name, its epochs'
    weights are not drawn under the wrong names, and a note says which."""
    run = write_run(tmp_path / "run", {"space": "nb201", "overrides": [["C", 4], ["N", 1]]}, [
        {"epoch": 0, "train_loss": 2.0, "arch": "a", "weights": {"cell": weights(6, 5)}},
        {"epoch": 1, "train_loss": 1.9, "arch": "a", "weights": {"cell": weights(6, 2)}},
        {"epoch": 2, "train_loss": 1.8, "arch": "a", "weights": {"cell": weights(6, 2)}}])
    plots = plot_run(run)
    assert (run / "plot-weights-cell.png").is_file()
    assert plots.notes == ("the cell weights of epochs 1-2 are not plotted: the edges then "
                           "had other candidates, which the log does not name (a later stage "
                           "of the search)",)
