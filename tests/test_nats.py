"""NATS-Bench topology archives as NAS-Bench-201 benchmarks: tiny archives written the way
NATS-Bench's tss-collect.py writes NATS-tss-v1_0-3ffb9-simple, read through nats_bench."""

import csv
import itertools
import json
import os
import sys
from collections import OrderedDict

import pytest
from nats_bench import create, pickle_save
from nats_bench.api_utils import ArchResults, ResultsCount

from nasdsl.errors import NasError
from nasdsl.nb201 import ENV_VAR, open_benchmark
from tests.paths import SHARED_DATA

A = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
     "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
B = "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
C = "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

# A trained on every dataset (cifar10-valid on two seeds: the figure is their mean), B on
# cifar10-valid only, C on cifar10 only. Each eval set the lookup must not read holds a decoy
# (below 10), and so does every epoch but the last.
A_RUNS = {("cifar10-valid", 777): {"x-valid": 90.0, "ori-test": 1.0},
          ("cifar10-valid", 888): {"x-valid": 92.0, "ori-test": 2.0},
          ("cifar10", 777): {"ori-test": 94.0},
          ("cifar100", 777): {"x-valid": 72.0, "x-test": 73.0, "ori-test": 3.0},
          ("ImageNet16-120", 777): {"x-valid": 45.0, "x-test": 46.0, "ori-test": 4.0}}
B_RUNS = {("cifar10-valid", 777): {"x-valid": 93.5, "ori-test": 5.0}}
C_RUNS = {("cifar10", 777): {"ori-test": 12.5}}
ARCHIVE = {A: A_RUNS, B: B_RUNS, C: C_RUNS}

REAL_TEST_ALL = SHARED_DATA / "nb201" / "nb201_test_all.csv"


def trial(dataset, seed, arch, accuracies, epochs=3):
    """One training run as tss-collect.py keeps it (a ResultsCount, weights cleared)."""
    result = ResultsCount(dataset, None, {e: 99.0 for e in range(epochs)},
                          {e: 0.1 for e in range(epochs)}, 1.5, 200.0,
                          {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 10},
                          seed, epochs, None)
    result.update_train_info({e: 99.0 for e in range(epochs)}, {e: 99.9 for e in range(epochs)},
                             {e: 0.1 for e in range(epochs)}, {e: 10.0 for e in range(epochs)})
    accs = {f"{name}@{e}": value if e == epochs - 1 else 6.0
            for name, value in accuracies.items() for e in range(epochs)}
    result.update_eval(accs, {key: 0.5 for key in accs}, {key: 1.0 for key in accs})
    return result


def arch_results(index, arch, runs):
    """An ArchResults from {(dataset, seed): accuracies per eval set}."""
    info = ArchResults(index, arch)
    for (dataset, seed), accuracies in runs.items():
        info.update(dataset, seed, trial(dataset, seed, arch, accuracies))
    info.clear_params()
    return info


def write_archive(directory, archive, name="{:06d}"):
    """A fast-mode archive of {arch: runs}: the meta file and a file per architecture, each
    with the 12-epoch results (decoys, 7.0) and the 200-epoch ones."""
    directory.mkdir(parents=True, exist_ok=True)
    pickle_save({"meta_archs": list(archive), "total_archs": len(archive), "arch2infos": None,
                 "evaluated_indexes": set()}, str(directory / "meta.pickle"))
    for index, (arch, runs) in enumerate(archive.items()):
        decoys = {key: {name: 7.0 for name in accuracies} for key, accuracies in runs.items()}
        hp2info = OrderedDict({"12": arch_results(index, arch, decoys).state_dict(),
                               "200": arch_results(index, arch, runs).state_dict()})
        pickle_save(hp2info, str(directory / f"{name.format(index)}.pickle"))
    return directory


def test_written_archive_is_one_nats_bench_reads(tmp_path):
    """The hand-written archive opens in nats_bench's fast mode with the figures put in it."""
    api = create(str(write_archive(tmp_path / "tss", ARCHIVE)), "tss", fast_mode=True,
                 verbose=False)
    assert api.query_index_by_arch(B) == 1
    info = api.get_more_info(0, "cifar10-valid", hp="200", is_random=False)
    assert info["valid-accuracy"] == 91.0


@pytest.mark.parametrize("name", ["{:06d}", "{:d}"])
def test_archive_lookup(tmp_path, name):
    """An archive directory (either file naming nats_bench reads): each arch's 200-epoch
    figures, seed means, only the datasets it was trained on; no optimum."""
    bench = open_benchmark(write_archive(tmp_path / "tss", ARCHIVE, name))
    assert bench.lookup(A) == {"cifar10": {"valid": 91.0, "test": 94.0},
                               "cifar100": {"valid": 72.0, "test": 73.0},
                               "imagenet16-120": {"valid": 45.0, "test": 46.0}}
    assert bench.lookup(B) == {"cifar10": {"valid": 93.5}}
    assert bench.lookup(C) == {"cifar10": {"test": 12.5}}
    assert bench.optimum() == {}
    assert len(bench.table) == 3 and list(bench.table) == [A, B, C]


def test_archive_reads_an_architecture_at_its_first_lookup(tmp_path):
    """Opening reads no architecture's file: a damaged one is found at its own lookup, as a
    NasError naming it, and the others still answer."""
    directory = write_archive(tmp_path / "tss", ARCHIVE)
    (directory / "000002.pickle.pbz2").write_bytes(b"BZh9 not bz2")
    bench = open_benchmark(directory)
    assert bench.lookup(B) == {"cifar10": {"valid": 93.5}}
    with pytest.raises(NasError, match="cannot read architecture 2 of the NATS-Bench archive"):
        bench.lookup(C)


@pytest.mark.parametrize("arch, hint", [
    ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "match the benchmark's exactly"),
    ("|sep_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "no op sep_conv_3x3"),
])
def test_arch_not_in_the_archive_is_a_user_error(tmp_path, arch, hint):
    """An arch string the archive does not list is a NasError saying why, never a KeyError."""
    bench = open_benchmark(write_archive(tmp_path / "tss", ARCHIVE))
    with pytest.raises(NasError, match="not in the NAS-Bench-201 benchmark") as caught:
        bench.lookup(arch)
    assert hint in caught.value.hint


@pytest.mark.parametrize("content", [None, "table.csv", "meta.pickle"])
def test_directory_that_is_not_an_archive_is_a_user_error(tmp_path, content):
    """An empty directory, or one of other files (a meta file without the .pbz2 suffix
    too), is a NasError whose hint says what an archive holds."""
    if content:
        (tmp_path / content).write_text("index,arch\n")
    with pytest.raises(NasError, match="is a directory, not a NATS-Bench archive") as caught:
        open_benchmark(tmp_path)
    assert "meta.pickle.pbz2" in caught.value.hint


@pytest.mark.parametrize("meta, message", [
    (b"not bz2", "cannot read the NATS-Bench archive's list of architectures"),
    ({"total_archs": 1}, "cannot read the NATS-Bench archive's list of architectures"),
    ({"meta_archs": (A, B)}, "does not list arch strings"),
    ({"meta_archs": [A, 7]}, "does not list arch strings"),
    ({"meta_archs": []}, "lists no architectures"),
    ({"meta_archs": ["8:16:24:32:40", "8:8:8:8:8"]}, "not a NATS-Bench topology archive"),
])
def test_unreadable_meta_file_is_a_user_error(tmp_path, meta, message):
    """A meta file that is not bz2, lacks the list, lists non-strings, nothing, or the size
    search space's architectures is a NasError at opening."""
    if isinstance(meta, bytes):
        (tmp_path / "meta.pickle.pbz2").write_bytes(meta)
    else:
        pickle_save(meta, str(tmp_path / "meta.pickle"))
    with pytest.raises(NasError, match=message):
        open_benchmark(tmp_path)


def test_archive_lacking_files_is_found_at_opening(tmp_path):
    """A partly unpacked archive is a NasError before any lookup, naming the first gap."""
    directory = write_archive(tmp_path / "tss", ARCHIVE)
    (directory / "000001.pickle.pbz2").unlink()
    with pytest.raises(NasError, match=r"lists 3 architectures and lacks the files of 1 "
                                       r"\(the first: 000001.pickle.pbz2\)"):
        open_benchmark(directory)


def test_without_nats_bench_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    """Without the nats_bench package an archive is a NasError whose hint installs it."""
    directory = write_archive(tmp_path / "tss", ARCHIVE)
    monkeypatch.setitem(sys.modules, "nats_bench", None)  # its import now fails
    with pytest.raises(NasError, match="needs the nats_bench package") as caught:
        open_benchmark(directory)
    assert "pip install nats_bench" in caught.value.hint


def test_single_nats_file_is_refused_with_the_archive_named(tmp_path):
    """NATS-Bench's single .pickle.pbz2 file is a NasError pointing to the archive directory."""
    path = tmp_path / "NATS-tss-v1_0-3ffb9.pickle"
    pickle_save({"meta_archs": [A], "arch2infos": {}, "evaluated_indexes": set()}, str(path))
    with pytest.raises(NasError, match="single file .* is not read") as caught:
        open_benchmark(f"{path}.pbz2")
    assert "NATS-tss-v1_0-3ffb9-simple" in caught.value.hint


def test_environment_variable_names_an_archive(tmp_path, monkeypatch):
    """NASDSL_NB201_BENCHMARK may name an archive directory, opened once per process."""
    directory = write_archive(tmp_path / "tss", ARCHIVE)
    monkeypatch.setenv(ENV_VAR, str(directory))
    bench = open_benchmark(None)
    assert bench.lookup(C) == {"cifar10": {"test": 12.5}}
    assert open_benchmark(tmp_path / "tss" / ".." / "tss") is bench


@pytest.mark.skipif(not REAL_TEST_ALL.is_file(), reason=f"{REAL_TEST_ALL} is absent")
def test_archive_of_real_rows_answers_as_the_table(tmp_path):
    """An archive of nb201_test_all.csv's first rows (its test accuracies as the eval sets
    NATS-Bench keeps them) answers each arch as the table does."""
    with REAL_TEST_ALL.open(newline="") as file:
        rows = list(itertools.islice(csv.DictReader(file), 5))
    archive = {row["arch"]: {("cifar10", 777): {"ori-test": float(row["cifar10_test"])},
                             ("cifar100", 777): {"x-test": float(row["cifar100_test"])},
                             ("ImageNet16-120", 777): {"x-test": float(row["imagenet16_test"])}}
               for row in rows}
    bench = open_benchmark(write_archive(tmp_path / "tss", archive))
    table = open_benchmark(REAL_TEST_ALL)
    for row in rows:
        assert bench.lookup(row["arch"]) == table.lookup(row["arch"])


def test_run_prints_the_derived_cells_figures_from_an_archive(tmp_path, capsys):
    """`nasdsl run --benchmark DIR` prints the derived cell's figures, without a best, and
    adds them to result.json."""
    from nasdsl.cli import main
    directory = tmp_path / "tss"
    archs = [f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"
             for a, b, c, d, e, f in itertools.product(OPS, repeat=6)]
    write_archive(directory, {archs[0]: A_RUNS})
    # every cell the search may derive needs a file: one file's figures, linked 15,625 times
    for index in range(1, len(archs)):
        os.link(directory / "000000.pickle.pbz2", directory / f"{index:06d}.pickle.pbz2")
    pickle_save({"meta_archs": archs}, str(directory / "meta.pickle"))
    out = tmp_path / "run"
    assert main(["run", "nb201", "--benchmark", str(directory), "--set", "C=4", "--set", "N=1",
                 "--subset", "64", "--epochs", "1", "--batch", "16", "--out", str(out),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "  cifar10         valid 91.00  test 94.00\n" in text and "(best" not in text
    figures = json.loads((out / "result.json").read_text())["benchmark"]
    assert figures["figures"]["imagenet16-120"] == {"valid": 45.0, "test": 46.0}
    assert figures["optimum"] == {}
