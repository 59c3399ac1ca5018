"""Every NAS-Bench-201 architecture, built as a stand-alone network from its arch string,
has the benchmark's parameter count (params_mb * 1e6)."""

import csv
import random

import pytest

from nasdsl.architecture.derive import derived_text, from_nb201
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from tests.paths import SHARED_DATA, SPACES

TABLE = SHARED_DATA / "nb201" / "nb201_cifar10.csv"

needs_table = pytest.mark.skipif(not TABLE.is_file(), reason=f"{TABLE} is absent")


def rows():
    """The table's rows whose params_mb * 1e6 is a whole number.

    199 rows hold a fraction of 1/3 instead: the export averaged three seeds of the v1.0
    file, and for those architectures the seeds' records disagree (one or two of them hold
    another architecture's count), so no network can match them.
    """
    with TABLE.open() as handle:
        table = list(csv.DictReader(handle))
    return [row for row in table
            if abs(float(row["params_mb"]) * 1e6 - round(float(row["params_mb"]) * 1e6)) < 1e-3]


def built_counts(sample, tmp_path) -> list[int]:
    space = load(SPACES / "nb201.nas")
    path = tmp_path / "derived.nas"
    counts = []
    for row in sample:
        path.write_text(derived_text(space, from_nb201(row["arch"])))
        net = Supernet(load(path, phase="eval"), BuildOptions(simplify=False))
        counts.append(sum(p.numel() for p in net.weight_parameters()))
    return counts


def recorded(row) -> int:
    return round(float(row["params_mb"]) * 1e6)


@needs_table
def test_a_sample_of_300_architectures(tmp_path):
    """300 architectures drawn with a fixed seed match the benchmark's counts."""
    sample = random.Random(201).sample(rows(), 300)
    assert built_counts(sample, tmp_path) == [recorded(row) for row in sample]


@needs_table
@pytest.mark.slow
def test_all_15625_architectures(tmp_path):
    """Every architecture whose record is not a fractional seed average matches the
    benchmark's count, but for 5 known rows whose whole-number records are averages of
    disagreeing seeds too (171,306 and 923,946 are counts of no NB201 network)."""
    table = rows()
    assert len(table) == 15_625 - 199
    counts = built_counts(table, tmp_path)
    wrong = {row["arch"] for row, count in zip(table, counts) if count != recorded(row)}
    assert wrong == KNOWN_BAD_RECORDS


KNOWN_BAD_RECORDS = {
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_3x3~0|skip_connect~1|none~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|"
    "skip_connect~2|",
    "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|none~2|",
    "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "skip_connect~2|",
    "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "avg_pool_3x3~2|",
}
