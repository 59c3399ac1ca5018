"""NAS-Bench-201 figures of a derived architecture, which `nasdsl run` prints after a search
on an NB201-shaped space.

The benchmark is the file or directory given by `--benchmark PATH` or, without it, by the
environment variable NASDSL_NB201_BENCHMARK; with neither there is no lookup. Three formats:

- A CSV table (suffix `.csv`), a row an architecture: an `arch` column holding the official
  arch string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` and any of the accuracy columns
  cifar10_valid, cifar10_test, cifar100_valid, cifar100_test, imagenet16_valid,
  imagenet16_test, in percent. Other columns (index, params_mb, ...) are ignored; an empty
  cell is a figure the table lacks. A few MB; opens in well under a second.
- The official file (NAS-Bench-201-v1_0-e61699.pth or NAS-Bench-201-v1_1-096897.pth, any
  other suffix), read through the `nas-bench-201` package. It needs many GB of memory,
  several times its 2.2 or 4.7 GB on disk, and minutes to load; on Linux a machine short of
  memory may kill the process before Python can report it. The file is a pickle: torch's
  weights-only loader is tried first, and a file it refuses is unpickled in full (and then
  copied once more by the package, so twice the memory), which runs whatever code the file
  names: open only a file from a trusted source, such as the official download. After
  loading, every evaluated architecture is queried once (`get_more_info(index, dataset,
  hp='200', is_random=False)`) into a table like the CSV's, about half a minute for the
  15,625 (2 ms each on a synthetic file of the official shape), and the package's objects are
  let go, so the process keeps only the table and `optimum` costs nothing more.
- The NATS-Bench topology archive, a directory (NATS-tss-v1_0-3ffb9-simple, unpacked from its
  .tar): NAS-Bench-201's architectures with a file each, read through the `nats_bench` package
  (the `nats` extra) one architecture at a time, at its first lookup (nasdsl/nats.py). Opening
  it reads the list of architectures only (0.2 s for a synthetic one of 15,625), and a lookup
  reads one file (45 ms for a synthetic one of the official shape, 3 seeds by 200 epochs). It
  has no optimum: finding one would read every file (minutes). Its single-file form
  (NATS-tss-v1_0-3ffb9.pickle.pbz2) is refused: the package unpickles it whole.

Figures are the 200-epoch accuracies averaged over seeds: cifar10 valid is the official
'cifar10-valid' x-valid figure (trained on the train split), cifar10 test is 'cifar10'
ori-test (trained on train + valid); cifar100 and imagenet16-120 (the API's 'ImageNet16-120')
valid and test are x-valid and x-test. Arch strings match exactly as the benchmark writes
them: isomorphic architectures are distinct rows with their own figures.

Each benchmark is opened once per process; opening it again, by any spelling of its path,
returns the same `Benchmark`.
"""

from __future__ import annotations

import csv
import io
import os
import pickle
from collections.abc import Collection, Mapping
from pathlib import Path

import attrs

from nasdsl.architecture.derive import from_nb201
from nasdsl.dsl.space import CellKind
from nasdsl.errors import Location, NasError, did_you_mean

ENV_VAR = "NASDSL_NB201_BENCHMARK"
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
FIGURES = ("valid", "test")

Figures = dict[str, dict[str, float]]  # dataset -> figure -> accuracy in percent

_CSV_COLUMNS = {f"{prefix}_{figure}": (dataset, figure)
                for dataset, prefix in zip(DATASETS, ("cifar10", "cifar100", "imagenet16"))
                for figure in FIGURES}

# Where each figure comes from in the official API: its dataset name and get_more_info's key.
_OFFICIAL_QUERIES = {
    ("cifar10", "valid"): ("cifar10-valid", "valid-accuracy"),
    ("cifar10", "test"): ("cifar10", "test-accuracy"),
    ("cifar100", "valid"): ("cifar100", "valid-accuracy"),
    ("cifar100", "test"): ("cifar100", "test-accuracy"),
    ("imagenet16-120", "valid"): ("ImageNet16-120", "valid-accuracy"),
    ("imagenet16-120", "test"): ("ImageNet16-120", "test-accuracy"),
}

# How the package and torch report a file that is not a benchmark: asserts on missing keys,
# bare KeyErrors from missing entries, unpickling and zip errors.
_UNREADABLE = (AssertionError, AttributeError, EOFError, IndexError, KeyError, TypeError,
               ValueError, RuntimeError, pickle.UnpicklingError)


@attrs.frozen(eq=False)
class Benchmark:
    """An opened benchmark: every architecture's figures and the best of each figure (given
    where finding it would read a lazy table whole)."""

    path: Path
    table: Mapping[str, Figures] = attrs.field(repr=False)
    best: Figures = attrs.field(repr=False)

    @best.default
    def _best(self) -> Figures:
        best: Figures = {}
        for figures in self.table.values():
            for dataset, values in figures.items():
                for figure, value in values.items():
                    kept = best.setdefault(dataset, {})
                    kept[figure] = max(value, kept.get(figure, value))
        return best

    def lookup(self, arch: str) -> Figures:
        """The figures of one architecture, by its arch string exactly as the benchmark has it."""
        if arch not in self.table:
            raise self._unknown(arch)
        return _copy(self.table[arch])

    def optimum(self) -> Figures:
        """The best value of each figure over all architectures of the benchmark; none for a
        NATS-Bench archive."""
        return _copy(self.best)

    def check_cell(self, kind: CellKind) -> None:
        """Raise a NasError unless every cell `kind` can derive is one of the benchmark's: one
        input, three intermediate nodes each fed by every earlier node, the benchmark's ops
        (checked before a search, not found after it)."""
        problem = None
        pairs = sorted((src, dst) for src, dst, _ in (*kind.edges, *kind.fixed))
        if kind.inputs != 1 or kind.nodes != 3:
            problem = (f"it has {kind.inputs} input{'s' if kind.inputs != 1 else ''} and "
                       f"{kind.nodes} intermediate nodes, NAS-Bench-201's cell 1 and 3")
        elif pairs != sorted((src, dst) for dst in (1, 2, 3) for src in range(dst)):
            problem = "its edges are not NAS-Bench-201's 6, every earlier node into each node"
        else:
            known = set().union(*map(_ops, self.table))
            strange = sorted({name for _, _, names in (*kind.edges, *kind.fixed)
                              for name in names} - known)
            if strange:
                problem = (f"the benchmark has no op {', '.join(strange)}; its ops are "
                           f"{', '.join(sorted(known))}")
        if problem:
            raise NasError(f"cell '{kind.name}' cannot be looked up in the NAS-Bench-201 "
                           f"benchmark {self.path}: {problem}",
                           hint="search without --benchmark, or with NAS-Bench-201's cell")

    def _unknown(self, arch: str) -> NasError:
        from_nb201(arch)  # a malformed string gets its own message
        known = set().union(*map(_ops, self.table))
        strange = sorted(_ops(arch) - known)
        if strange:
            hint = (f"the benchmark has no op {', '.join(strange)}; its ops are "
                    f"{', '.join(sorted(known))}")
        else:
            hint = ("arch strings must match the benchmark's exactly: per node, its incoming "
                    "edges in order of their source")
        return NasError(f"architecture not in the NAS-Bench-201 benchmark {self.path}: {arch}",
                        hint=hint)


def _ops(arch: str) -> set[str]:
    # tolerant of malformed strings: a CSV's arch column is whatever its author wrote
    return {item.rsplit("~", 1)[0] for item in arch.replace("+", "|").split("|") if item}


_OPENED: dict[Path, Benchmark] = {}


def open_benchmark(source: str | Path | None) -> Benchmark | None:
    """The benchmark at `source`, or at $NASDSL_NB201_BENCHMARK when `source` is None;
    None when neither names one."""
    origin = ""
    if source is None:
        source = os.environ.get(ENV_VAR) or None
        if source is None:
            return None
        origin = f" (from {ENV_VAR})"
    from nasdsl import nats  # nats imports this module: its figures come from here

    path = Path(source).expanduser()
    if path.is_dir():
        if not nats.is_archive(path):
            raise NasError(f"the benchmark is a directory, not a NATS-Bench archive: "
                           f"{source}{origin}", hint=nats.ARCHIVE_HINT)
    elif not path.is_file():
        raise NasError(f"benchmark file not found: {source}{origin}",
                       hint="a NAS-Bench-201 CSV table, the official .pth file or the NATS-Bench "
                            "archive directory")
    key = path.resolve()
    if key not in _OPENED:
        if path.is_dir():
            _OPENED[key] = Benchmark(key, nats.open_archive(path), {})
        elif path.suffix.lower() == ".pbz2":
            raise nats.single_file_error(path)
        else:
            table = _read_csv(path) if path.suffix.lower() == ".csv" else _read_official(path)
            _OPENED[key] = Benchmark(key, table)
    return _OPENED[key]


def format_lookup(arch: str, figures: Mapping[str, Mapping[str, float]],
                  optimum: Mapping[str, Mapping[str, float]]) -> str:
    """The figures as the run prints them: a line a dataset, each figure beside the best any
    architecture reaches (where `optimum` has it), columns aligned."""
    rows = []
    for dataset in DATASETS:
        values = figures.get(dataset, {})
        if not values:
            continue
        best = optimum.get(dataset, {})
        rows.append((dataset, [_cell(figure, values.get(figure), best.get(figure))
                               for figure in FIGURES]))
    lines = [f"NAS-Bench-201 accuracy (%) of {arch}"]
    if not rows:
        return "\n".join(lines + ["  no figures in the benchmark"])
    name_width = max(len(dataset) for dataset, _ in rows)
    widths = [max(len(cells[k]) for _, cells in rows) for k in range(len(FIGURES))]
    for dataset, cells in rows:
        text = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths) if width)
        lines.append(f"  {dataset.ljust(name_width)}  {text}".rstrip())
    return "\n".join(lines)


def _cell(figure: str, value: float | None, best: float | None) -> str:
    if value is None:
        return ""
    return f"{figure} {value:.2f}" + (f" (best {best:.2f})" if best is not None else "")


def _copy(figures: Mapping[str, Mapping[str, float]]) -> Figures:
    # the table lives in the per-process cache: callers get dicts of their own
    return {dataset: dict(values) for dataset, values in figures.items()}


# --- CSV tables --------------------------------------------------------------------------

def _read_csv(path: Path) -> dict[str, Figures]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise NasError(f"cannot read the benchmark {path}: {error}") from None
    lines = text.splitlines()
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    at_header = Location(str(path), 1, 1, lines[0] if lines else "")
    if "arch" not in header:
        raise NasError("the benchmark table has no 'arch' column", at_header,
                       did_you_mean("arch", header) or "the header names the columns, e.g. "
                       "index,arch,cifar10_valid,cifar10_test")
    columns = {k: _CSV_COLUMNS[name] for k, name in enumerate(header) if name in _CSV_COLUMNS}
    if not columns:
        raise NasError("the benchmark table has no accuracy column", at_header,
                       f"accuracy columns (percent): {', '.join(_CSV_COLUMNS)}")
    arch_column = header.index("arch")
    table: dict[str, Figures] = {}
    first_seen: dict[str, int] = {}
    for fields in reader:
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(header):
            raise NasError(f"{len(fields)} fields where the header has {len(header)}",
                           Location(str(path), line, 1, lines[line - 1]))
        arch = fields[arch_column].strip()
        if arch in first_seen:
            raise NasError(f"architecture listed twice (first on line {first_seen[arch]}): "
                           f"{arch}", _field_at(path, lines, line, fields, arch_column))
        first_seen[arch] = line
        figures: Figures = {}
        for k, (dataset, figure) in columns.items():
            if fields[k].strip():
                value = _percent(fields[k], header[k], _field_at(path, lines, line, fields, k))
                figures.setdefault(dataset, {})[figure] = value
        table[arch] = figures
    if not table:
        raise NasError(f"the benchmark table {path} lists no architectures", at_header)
    return table


def _percent(text: str, column: str, at: Location) -> float:
    try:
        value = float(text)
    except ValueError:
        raise NasError(f"not a number in column {column}: {text.strip()!r}", at) from None
    if not 0 <= value <= 100:  # also refuses nan
        raise NasError(f"an accuracy in percent must lie in [0, 100]: {column} {value:g}", at)
    return value


def _field_at(path: Path, lines: list[str], line: int, fields: list[str], k: int) -> Location:
    # exact for unquoted fields, which is what NAS-Bench-201 tables hold
    column = sum(len(field) + 1 for field in fields[:k]) + 1
    return Location(str(path), line, column, lines[line - 1])


# --- the official file ---------------------------------------------------------------------

def _read_official(path: Path) -> dict[str, Figures]:
    try:
        api = _load_api(path)
        return _official_table(api)
    except MemoryError:
        raise NasError(f"out of memory loading the official NAS-Bench-201 file {path}",
                       hint="the official file needs many GB of memory (several times its "
                            "size on disk); a CSV table of the figures needs a few MB") \
            from None
    except _UNREADABLE as error:
        raise NasError(f"cannot read {path} as a NAS-Bench-201 benchmark: {error}",
                       hint="a CSV table needs the suffix .csv; any other file is read as "
                            "the official NAS-Bench-201-v1_*.pth") from None


def _load_api(path: Path):
    import torch  # with the package below: only when an official file is opened
    from nas_201_api import NASBench201API

    try:
        return NASBench201API(str(path), verbose=False)
    except pickle.UnpicklingError:
        # torch >= 2.6 loads with weights_only=True, which refuses any class outside its
        # allowlist; the official files (2020) predate it and may hold such classes
        data = torch.load(path, map_location="cpu", weights_only=False)
        return NASBench201API(data, verbose=False)


def _official_table(api) -> dict[str, Figures]:
    """Every evaluated architecture's figures, queried through the package's API."""
    return {api.meta_archs[index]: queried_figures(
                api, index, api.arch2infos_dict[index]["200"].get_dataset_names())
            for index in api.evaluated_indexes}


def queried_figures(api, index: int, trained: Collection[str]) -> Figures:
    """One architecture's figures through the API that nas-bench-201 and nats_bench share,
    from the datasets it was `trained` on (get_more_info fails with a bare KeyError on
    another)."""
    infos = {name: api.get_more_info(index, name, hp="200", is_random=False)
             for name in {name for name, _ in _OFFICIAL_QUERIES.values()} if name in trained}
    figures: Figures = {}
    for (dataset, figure), (name, key) in _OFFICIAL_QUERIES.items():
        value = infos.get(name, {}).get(key)
        if value is not None:
            figures.setdefault(dataset, {})[figure] = float(value)
    return figures
