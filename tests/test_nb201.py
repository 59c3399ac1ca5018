"""NAS-Bench-201 lookup: CSV tables, the official file's format, the source and the cache."""

import nas_201_api
import numpy as np
import pytest
import torch

from nasdsl.nb201 import ENV_VAR, format_lookup, open_benchmark
from nasdsl.errors import NasError
from tests.paths import SHARED_DATA

A = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
     "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
B = "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
C = "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
# isomorphic to C: node 1 feeds nothing, so its op does not matter; the benchmark has both
C_TWIN = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"

FULL_CSV = f"""index,arch,params_mb,cifar10_valid,cifar10_test,cifar100_valid,cifar100_test,\
imagenet16_valid,imagenet16_test
0,{A},1.5,91.0,94.0,72.0,73.0,45.0,46.0
1,{B},0.1,80.5,85.5,60.0,61.0,30.0,31.0
2,{C},0.0,10.0,10.0,1.0,1.0,0.8,0.8
3,{C_TWIN},0.0,11.0,12.0,2.0,3.0,0.9,1.0
"""

REAL_CIFAR10 = SHARED_DATA / "nb201" / "nb201_cifar10.csv"
REAL_TEST_ALL = SHARED_DATA / "nb201" / "nb201_test_all.csv"
INDEX_0 = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
           "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")


def write(tmp_path, text, name="table.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- CSV tables ----------------------------------------------------------------------------

def test_csv_lookup_and_optimum(tmp_path):
    """Every accuracy column reads into its dataset and figure; the optimum is each column's max."""
    bench = open_benchmark(write(tmp_path, FULL_CSV))
    assert bench.lookup(B) == {"cifar10": {"valid": 80.5, "test": 85.5},
                               "cifar100": {"valid": 60.0, "test": 61.0},
                               "imagenet16-120": {"valid": 30.0, "test": 31.0}}
    assert bench.optimum() == {"cifar10": {"valid": 91.0, "test": 94.0},
                               "cifar100": {"valid": 72.0, "test": 73.0},
                               "imagenet16-120": {"valid": 45.0, "test": 46.0}}


def test_csv_with_some_columns_gives_only_those(tmp_path):
    """A table with a subset of the columns (here in another order) gives just those figures."""
    bench = open_benchmark(write(tmp_path, f"cifar100_test,arch\n73.5,{A}\n60.25,{B}\n"))
    assert bench.lookup(B) == {"cifar100": {"test": 60.25}}
    assert bench.optimum() == {"cifar100": {"test": 73.5}}


def test_csv_empty_cell_is_a_missing_figure(tmp_path):
    """An empty cell leaves that figure out of the lookup and out of the optimum's input."""
    text = f"arch,cifar10_valid,cifar10_test\n{A},,94\n{B},80,85\n"
    bench = open_benchmark(write(tmp_path, text))
    assert bench.lookup(A) == {"cifar10": {"test": 94.0}}
    assert bench.optimum() == {"cifar10": {"valid": 80.0, "test": 94.0}}


def test_isomorphic_duplicates_are_distinct_rows(tmp_path):
    """Isomorphic arch strings are looked up exactly, each with its own figures."""
    bench = open_benchmark(write(tmp_path, FULL_CSV))
    assert bench.lookup(C)["cifar10"] == {"valid": 10.0, "test": 10.0}
    assert bench.lookup(C_TWIN)["cifar10"] == {"valid": 11.0, "test": 12.0}


def test_lookup_returns_a_copy(tmp_path):
    """Changing a lookup's or the optimum's dicts does not change the cached benchmark."""
    bench = open_benchmark(write(tmp_path, FULL_CSV))
    bench.lookup(A)["cifar10"]["test"] = 0.0
    bench.optimum()["cifar10"]["test"] = 0.0
    assert bench.lookup(A)["cifar10"]["test"] == 94.0
    assert bench.optimum()["cifar10"]["test"] == 94.0


@pytest.mark.parametrize("arch, message, hint", [
    ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "not in the NAS-Bench-201",
     "match the benchmark's exactly"),
    ("|sep_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "not in the NAS-Bench-201",
     "no op sep_conv_3x3"),
    ("nor_conv_3x3", "not a NAS-Bench-201 arch string", "expected e.g."),
])
def test_unknown_arch_is_a_user_error(tmp_path, arch, message, hint):
    """An arch string the benchmark lacks is a NasError saying why, never a KeyError."""
    bench = open_benchmark(write(tmp_path, FULL_CSV))
    with pytest.raises(NasError, match=message) as caught:
        bench.lookup(arch)
    assert hint in caught.value.hint


@pytest.mark.parametrize("text, message, where", [
    (f"index,acrh,cifar10_test\n0,{A},94\n", "no 'arch' column", "table.csv:1:1"),
    (f"index,arch,flops\n0,{A},1.0\n", "no accuracy column", "table.csv:1:1"),
    (f"arch,cifar10_test\n{A},94\n{B},abc\n", "not a number in column cifar10_test: 'abc'",
     f"table.csv:3:{len(B) + 2}"),
    (f"arch,cifar10_test\n{A},0.9\n{B},101\n", r"\[0, 100\]", f"table.csv:3:{len(B) + 2}"),
    (f"arch,cifar10_test\n{A},nan\n", r"\[0, 100\]", f"table.csv:2:{len(A) + 2}"),
    (f"arch,cifar10_test\n{A},94\n{B}\n", "1 fields where the header has 2", "table.csv:3:1"),
    (f"arch,cifar10_test\n{A},94\n{A},93\n", "listed twice \\(first on line 2\\)", "table.csv:3:1"),
    ("arch,cifar10_test\n", "lists no architectures", "table.csv:1:1"),
])
def test_malformed_csv_is_a_located_error(tmp_path, text, message, where):
    """A malformed table is a NasError at its file, line and column."""
    with pytest.raises(NasError, match=message) as caught:
        open_benchmark(write(tmp_path, text))
    assert str(caught.value.location).endswith(f"/{where}")


# --- the shipped tables ----------------------------------------------------------------------

@pytest.mark.skipif(not REAL_CIFAR10.is_file(), reason=f"{REAL_CIFAR10} is absent")
def test_real_cifar10_table():
    """nb201_cifar10.csv: index 0's figures and the optima CIFAR-10 valid 91.61, test 94.37."""
    bench = open_benchmark(REAL_CIFAR10)
    assert len(bench.table) == 15625
    assert bench.lookup(INDEX_0) == {"cifar10": {"valid": 81.9827, "test": 85.8633}}
    best = bench.optimum()
    assert round(best["cifar10"]["valid"], 2) == 91.61
    assert round(best["cifar10"]["test"], 2) == 94.37


@pytest.mark.skipif(not REAL_TEST_ALL.is_file(), reason=f"{REAL_TEST_ALL} is absent")
def test_real_test_all_table():
    """nb201_test_all.csv: index 0's figures and the optima 94.37 / 73.51 / 47.31."""
    bench = open_benchmark(REAL_TEST_ALL)
    assert bench.lookup(INDEX_0) == {"cifar10": {"test": 85.8633}, "cifar100": {"test": 52.9133},
                                     "imagenet16-120": {"test": 26.6333}}
    best = bench.optimum()
    assert {dataset: round(values["test"], 2) for dataset, values in best.items()} == \
        {"cifar10": 94.37, "cifar100": 73.51, "imagenet16-120": 47.31}
    assert all(set(values) == {"test"} for values in best.values())


# --- the official file's format ----------------------------------------------------------------

def trial(accuracies):
    """One training run (a ResultsCount's state): one epoch, the final accuracy per eval set."""
    return {"epochs": 1, "train_acc1es": {0: 99.0}, "train_losses": {0: 0.1},
            "eval_acc1es": {f"{name}@0": value for name, value in accuracies.items()},
            "eval_losses": {f"{name}@0": 0.5 for name in accuracies}}


def arch_results(index, arch, runs):
    """An ArchResults state from {(dataset, seed): accuracies per eval set}."""
    seeds = {}
    for dataset, seed in runs:
        seeds.setdefault(dataset, []).append(seed)
    return {"arch_index": index, "arch_str": arch, "clear_net_done": False, "dataset_seed": seeds,
            "all_results": {key: trial(accuracies) for key, accuracies in runs.items()}}


def official_dict(scalar=float):
    """The smallest benchmark dict NASBench201API accepts: A trained on every dataset (CIFAR-10
    valid on two seeds), B only on cifar10-valid, C listed but not evaluated. Each eval set the
    lookup must not read holds a decoy figure (below 10)."""
    a_runs = {("cifar10-valid", 777): {"x-valid": scalar(90.0), "ori-test": 1.0},
              ("cifar10-valid", 888): {"x-valid": 92.0, "ori-test": 2.0},
              ("cifar10", 777): {"ori-test": 94.0},
              ("cifar100", 777): {"x-valid": 72.0, "x-test": 73.0, "ori-test": 3.0},
              ("ImageNet16-120", 777): {"x-valid": 45.0, "x-test": 46.0, "ori-test": 4.0}}
    b_runs = {("cifar10-valid", 777): {"x-valid": 93.5, "ori-test": 5.0}}
    # 'less' (12 epochs) must be present; the lookup reads only 'full' (200 epochs)
    infos = {index: {"less": arch_results(index, arch, {}), "full": arch_results(index, arch, runs)}
             for index, (arch, runs) in enumerate([(A, a_runs), (B, b_runs)])}
    return {"meta_archs": [A, B, C], "evaluated_indexes": [0, 1], "arch2infos": infos}


def test_official_dict_is_accepted_by_the_package():
    """The hand-built dict is one NASBench201API reads, with the figures put into it."""
    api = nas_201_api.NASBench201API(official_dict(), verbose=False)
    info = api.get_more_info(0, "cifar10-valid", hp="200", is_random=False)
    assert info["valid-accuracy"] == 91.0


def test_official_file_lookup_and_optimum(tmp_path):
    """An official-format file: the documented figures (seed means), only the datasets an arch
    was trained on, and the optimum over the evaluated archs."""
    path = tmp_path / "NAS-Bench-201-tiny.pth"
    torch.save(official_dict(), path)
    bench = open_benchmark(path)
    assert bench.lookup(A) == {"cifar10": {"valid": 91.0, "test": 94.0},
                               "cifar100": {"valid": 72.0, "test": 73.0},
                               "imagenet16-120": {"valid": 45.0, "test": 46.0}}
    assert bench.lookup(B) == {"cifar10": {"valid": 93.5}}
    assert bench.optimum() == {"cifar10": {"valid": 93.5, "test": 94.0},
                               "cifar100": {"valid": 72.0, "test": 73.0},
                               "imagenet16-120": {"valid": 45.0, "test": 46.0}}
    with pytest.raises(NasError, match="not in the NAS-Bench-201"):
        bench.lookup(C)


def test_official_file_outside_torchs_weights_only_allowlist(tmp_path):
    """A file torch's weights-only loader refuses (a numpy scalar inside) still opens."""
    path = tmp_path / "numpy.pth"
    torch.save(official_dict(scalar=np.float64), path)
    assert open_benchmark(path).lookup(A)["cifar10"]["valid"] == 91.0


@pytest.mark.parametrize("content", [b"", b"not a pickle", None])
def test_unreadable_official_file_is_a_user_error(tmp_path, content):
    """An empty file, a non-pickle, or a pickle that is not a benchmark is a NasError."""
    path = tmp_path / "bench.pth"
    if content is None:
        torch.save({"meta_archs": [A]}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(NasError, match="cannot read .* as a NAS-Bench-201 benchmark"):
        open_benchmark(path)


def test_out_of_memory_says_so(tmp_path, monkeypatch):
    """Running out of memory while loading the official file is a NasError about memory."""
    def exhausted(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(nas_201_api, "NASBench201API", exhausted)
    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save(official_dict(), path)
    with pytest.raises(NasError, match="out of memory") as caught:
        open_benchmark(path)
    assert "many GB" in caught.value.hint


# --- source and cache -------------------------------------------------------------------------

def test_environment_variable_names_the_benchmark(tmp_path, monkeypatch):
    """Without a path the environment variable is read; without either there is no benchmark."""
    path = write(tmp_path, FULL_CSV)
    monkeypatch.setenv(ENV_VAR, str(path))
    assert open_benchmark(None).path == path.resolve()
    monkeypatch.delenv(ENV_VAR)
    assert open_benchmark(None) is None


@pytest.mark.parametrize("from_env", [False, True])
def test_missing_file_is_a_user_error(tmp_path, monkeypatch, from_env):
    """A path to nothing is a NasError naming the path (and the variable when it came from it)."""
    missing = tmp_path / "nowhere.csv"
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(NasError, match="benchmark file not found: .*nowhere.csv") as caught:
        open_benchmark(None if from_env else missing)
    assert (ENV_VAR in caught.value.message) == from_env


def test_directory_is_a_user_error(tmp_path):
    """A directory given as the benchmark is a NasError, not an IsADirectoryError."""
    with pytest.raises(NasError, match="is a directory"):
        open_benchmark(tmp_path)


def test_each_file_is_opened_once_per_process(tmp_path):
    """Opening a file again, by another spelling of its path, returns the same object unread."""
    path = write(tmp_path, FULL_CSV)
    (tmp_path / "sub").mkdir()
    first = open_benchmark(path)
    path.write_text("not a table any more")
    assert open_benchmark(str(tmp_path / "sub" / ".." / "table.csv")) is first


# --- printing ----------------------------------------------------------------------------------

def test_format_lookup_aligns_datasets_and_figures():
    """One line a dataset, columns aligned, each figure beside its best where the optimum has it."""
    figures = {"cifar10": {"valid": 91.6067, "test": 94.3733}, "cifar100": {"test": 73.5133}}
    optimum = {"cifar10": {"valid": 91.6067, "test": 94.3733}}
    assert format_lookup(A, figures, optimum) == "\n".join([
        f"NAS-Bench-201 accuracy (%) of {A}",
        "  cifar10   valid 91.61 (best 91.61)  test 94.37 (best 94.37)",
        "  cifar100                            test 73.51",
    ])


def test_format_lookup_without_valid_figures_has_no_empty_column():
    """A benchmark with test figures only prints no gap where valid would be."""
    text = format_lookup(A, {"imagenet16-120": {"test": 47.3111}}, {})
    assert text.splitlines()[1] == "  imagenet16-120  test 47.31"


@pytest.mark.parametrize(("change", "problem"), [
    (("    nodes 3", "    nodes 4"),
     "it has 1 input and 4 intermediate nodes, NAS-Bench-201's cell 1 and 3"),
    (("op avg_pool_3x3 =", "op max_pool_3x3 = max_pool(kernel=3)\nop avg_pool_3x3 ="),
     "the benchmark has no op max_pool_3x3"),
])
def test_a_cell_the_benchmark_cannot_hold_is_found_before_the_search(tmp_path, capsys, change,
                                                                     problem):
    """A 5-node cell or another op with --benchmark: the error comes before any epoch, and
    says what does not fit (not, after the search, a hint about edge order)."""
    from nasdsl.cli import main
    from tests.paths import SPACES
    text = (SPACES / "nb201.nas").read_text().replace(*change)
    if "max_pool" in change[1]:
        text = text.replace("avg_pool_3x3\n", "avg_pool_3x3, max_pool_3x3\n")
    path = write(tmp_path, text, "space.nas")
    table = write(tmp_path, FULL_CSV)
    out = tmp_path / "run"
    assert main(["run", str(path), "--benchmark", str(table), "--set", "C=2", "--set", "N=1",
                 "--subset", "32", "--epochs", "1", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert problem in err and "cannot be looked up" in err
    assert not (out / "log.jsonl").exists()


def test_benchmark_with_a_space_that_has_no_arch_strings(tmp_path, capsys):
    """--benchmark with the DARTS space is an error before the search, not silently ignored."""
    from nasdsl.cli import main
    assert main(["run", "darts", "--benchmark", str(write(tmp_path, FULL_CSV)), "--set", "C=2",
                 "--set", "N=1", "--subset", "32", "--epochs", "1", "--out",
                 str(tmp_path / "run"), "--no-progress"]) == 2
    assert "--benchmark looks up NAS-Bench-201 cells" in capsys.readouterr().err
