"""`nasdsl bench`: rows measured on a tiny space, their ratios, the JSON and CSV files."""

import csv
import json

import pytest
import torch
from torch import nn

from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.bench.measure import Row, Settings
from nasdsl.bench.report import records, table
from nasdsl.cli import main
from tests.paths import SPACES


def test_saved_bytes_of_a_step_is_the_peak_not_the_sum():
    """Two forward+backward passes in a row keep at most one pass's tensors alive at once."""
    model = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1, bias=False), nn.ReLU())
    x = torch.randn(2, 3, 4, 4)
    one_pass = 4 * (2 * 3 * 16 + 2 * 5 * 16)

    def step():
        for _ in range(2):
            model(x).sum().backward()
    assert saved_bytes(step, exclude=model) == one_pass


def test_ratios_and_normalized_cost_by_hand():
    """Ratios divide by the same method's naive row; the normalized cost is seed 000 Eq. 29,
    (M / M_min + T / T_min) / 2 over all rows."""
    rows = [Row("darts", "naive", 10, 2, 400, 100, 2.0),
            Row("darts", "simplified", 10, 2, 100, 150, 1.0)]
    naive, simple = records(rows)
    assert simple["activation_ratio"] == 0.25 and simple["flops_ratio"] == 1.5
    assert simple["time_ratio"] == 0.5
    assert naive["normalized_cost"] == (4 + 2) / 2 and simple["normalized_cost"] == 1.0


def test_rows_without_flops_leave_them_blank():
    """Rows measured without counting FLOPs (--no-flops) have no GFLOP figure or ratio, and
    the terminal table shows a dash there."""
    rows = [Row("darts", "naive", 10, 2, 400, None, 2.0),
            Row("darts", "simplified", 10, 2, 100, None, 1.0)]
    naive, simple = records(rows)
    assert simple["gflops"] is None and "flops_ratio" not in simple
    assert simple["activation_ratio"] == 0.25
    text = table(Settings(space="x.nas", count_flops=False), "here", rows)
    assert all(" - " in line for line in text.splitlines()[2:4])


@pytest.fixture(scope="module")
def bench_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    status = main(["bench", str(SPACES / "nb201.nas"), "--methods", "darts,gdas", "--batch", "2",
                   "--repeats", "1", "--set", "C=4", "--set", "N=1",
                   "--json", str(out / "bench.json"), "--csv", str(out / "bench.csv")])
    assert status == 0
    return out


def test_bench_json_schema(bench_files):
    """The JSON holds the settings, the machine and one row per method and supernet, each
    with figures and ratios to its method's naive row."""
    data = json.loads((bench_files / "bench.json").read_text())
    assert data["settings"]["methods"] == ["darts", "gdas"] and data["machine"]
    rows = data["rows"]
    assert [(r["method"], r["variant"]) for r in rows] == [
        (m, v) for m in ("darts", "gdas") for v in ("naive", "simplified", "simplified+kn")]
    for row in rows:
        assert row["weights"] > 0 and row["activation_bytes"] > 0 and row["flops"] > 0
        assert row["step_seconds"] > 0 and row["normalized_cost"] >= 1.0
        assert {"activation_ratio", "flops_ratio", "time_ratio"} <= row.keys()
    assert min(r["normalized_cost"] for r in rows) < 1.5
    darts = {r["variant"]: r for r in rows if r["method"] == "darts"}
    assert darts["naive"]["activation_ratio"] == 1.0
    assert darts["simplified"]["activation_ratio"] < 1.0  # nb201's edge simplifies
    gdas = {r["variant"]: r for r in rows if r["method"] == "gdas"}
    assert gdas["simplified"]["activation_bytes"] == gdas["naive"]["activation_bytes"]
    assert gdas["simplified"]["single_path"] and not darts["simplified"]["single_path"]


def test_bench_csv_has_the_json_rows(bench_files):
    """The CSV has a header and the same rows as the JSON."""
    with open(bench_files / "bench.csv") as f:
        table = list(csv.DictReader(f))
    data = json.loads((bench_files / "bench.json").read_text())
    assert [(r["method"], r["variant"], int(r["flops"])) for r in table] == \
        [(r["method"], r["variant"], r["flops"]) for r in data["rows"]]


def test_bench_rejects_an_unknown_method(capsys):
    """A misspelt method is a located error with a suggestion, not a traceback."""
    assert main(["bench", str(SPACES / "nb201.nas"), "--methods", "dart"]) == 2
    assert "did you mean 'darts'" in capsys.readouterr().err


def test_bench_rejects_a_batch_below_one(capsys):
    """--batch 0 is refused by the argument parser with the reason."""
    with pytest.raises(SystemExit):
        main(["bench", str(SPACES / "nb201.nas"), "--batch", "0"])
    assert "must be a whole number >= 1, not 0" in capsys.readouterr().err
