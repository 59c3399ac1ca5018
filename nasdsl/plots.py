"""The plots of a run directory, PNG files beside its log, drawn from `log.jsonl` and
`config.json` alone, so that a search's and a training run's directories, and a run of an
older version, get them alike; a figure whose fields the log lacks is not drawn.

- `plot-curves.png`: every loss (`*_loss`) and accuracy (`*_acc`, a fraction) per epoch.
- `plot-weights-KIND.png`: a search's architecture weights (what the method evaluates and
  derives from) per cell kind, a panel per edge and a line per candidate: where a search
  collapses to skip connections, this shows it. The layers of a macro space, a kind of one
  edge each, share `plot-weights-layers.png`. Candidates are named from the space the run
  searched (a method's pruned space where it wrote one, else the configured space); epochs
  whose weights have another shape (a later stage of a progressive search, which dropped
  candidates the log does not name) are left out, with a note.
- `plot-benchmark.png`: where the run looked architectures up in NAS-Bench-201 (its
  `benchmark`, or $NASDSL_NB201_BENCHMARK on NB201 arch strings), the benchmark's accuracy
  of each epoch's derived architecture. The figures are looked up now, from the arch strings
  the log holds: the search loop records nothing more, and a plot can be drawn again with
  another table.

Figures are drawn on matplotlib's Agg canvas (no display, no pyplot state) and written
atomically, as every file of a run directory.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import attrs

from nasdsl.errors import Location, NasError
from nasdsl.files import write_atomically
from nasdsl.search.run_dir import CONFIG, LOG

CURVES, BENCHMARK, LAYERS = "plot-curves.png", "plot-benchmark.png", "layers"
DPI = 100
PANEL = (3.0, 2.3)  # inches of one architecture-weights panel
MARKED_EPOCHS = 20  # up to this many epochs a line marks each one (a single epoch is a dot)
ORDER = ("train", "valid", "test", "arch")  # the curves' order in the legends


def weights_file(group: str) -> str:
    return f"plot-weights-{group}.png"


@attrs.frozen
class Plots:
    """What `plot_run` drew."""

    written: tuple[Path, ...]
    notes: tuple[str, ...]  # what was not drawn, and why


def plot_run(run_dir: Path) -> Plots:
    """Draw every plot the run directory's log allows into it; a NasError where `run_dir` is
    not a run directory or its log is missing, empty or cut short."""
    run_dir = Path(run_dir)
    config = _read_config(run_dir)
    log = _read_log(run_dir)
    notes: list[str] = []
    title = _describe(config, log)
    figures = {CURVES: _curves(log, title)}
    if figures[CURVES] is None:
        notes.append("the log holds no losses or accuracies to plot")
    figures.update(_weights(log, _searched_candidates(run_dir, config, log, notes), title,
                            notes))
    figures[BENCHMARK] = _benchmark(log, config, title, notes)
    written = []
    for name, figure in figures.items():
        if figure is not None:
            write_atomically(run_dir / name,
                             lambda file, figure=figure: figure.savefig(file, format="png",
                                                                        dpi=DPI))
            written.append(run_dir / name)
    return Plots(tuple(written), tuple(notes))


def report(plots: Plots) -> None:
    """What `nasdsl run` and `nasdsl plot` print: the notes on stderr, the files written."""
    for note in plots.notes:
        print(f"note: {note}", file=sys.stderr)
    if plots.written:
        print(f"plots: {', '.join(str(path) for path in plots.written)}")


# --- reading the run directory -------------------------------------------------------------

def _read_config(run_dir: Path) -> dict:
    if not run_dir.exists():
        raise NasError(f"{run_dir}: no such directory")
    path = run_dir / CONFIG
    if not run_dir.is_dir() or not path.is_file():
        raise NasError(f"{run_dir} is not a run directory: it has no {CONFIG}",
                       hint="nasdsl plot takes a directory that `nasdsl run` wrote")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NasError(f"{path} is not valid JSON ({error}): it was cut short or edited") \
            from None
    if not isinstance(config, dict):
        raise NasError(f"{path} is not a run configuration: it holds a JSON "
                       f"{type(config).__name__}, not an object")
    return config


def _read_log(run_dir: Path) -> list[dict]:
    path = run_dir / LOG
    if not path.is_file():
        raise NasError(f"{run_dir} has no {LOG}: no epoch of its run has finished",
                       hint="plots are drawn from the log of finished epochs")
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        if not isinstance(entry, dict) or not isinstance(entry.get("epoch"), int):
            raise NasError(f"line {number} of {path} is not an epoch's entry: the log was cut "
                           "short or edited", Location(str(path), number, 1, line),
                           hint="a run writes its log whole; was it copied while a run wrote "
                                "it?")
        entries.append(entry)
    if not entries:
        raise NasError(f"{path} records no finished epoch: there is nothing to plot")
    return entries


def _describe(config: dict, log: list[dict]) -> str:
    """The run in a few words, for the titles: its space, method and epochs."""
    parts = [Path(str(config["space"])).stem] if config.get("space") else []
    parts += [str(config["method"])] if config.get("method") else []
    count = len(log)
    return ", ".join([*parts, f"{count} epoch{'s' if count != 1 else ''}"])


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


# --- losses and accuracies -------------------------------------------------------------------

def _curves(log: list[dict], title: str):
    panels = [(series, label, scale) for series, label, scale in
              ((_series(log, "_loss"), "loss", 1), (_series(log, "_acc"), "accuracy (%)", 100))
              if series]
    if not panels:
        return None
    figure = _figure(figsize=(6.0 * len(panels), 4.2))
    for axes, (series, label, scale) in zip(figure.subplots(1, len(panels), squeeze=False)[0],
                                            panels):
        for name, points in series.items():
            epochs, values = zip(*points)
            axes.plot(epochs, [scale * value for value in values], label=name.replace("_", " "),
                      **_markers(log))
        axes.set(xlabel="epoch", ylabel=label, title=label.split(" ")[0].capitalize())
        _epoch_axis(axes)
        axes.legend()
    figure.suptitle(f"Losses and accuracies per epoch ({title})")
    return figure


def _series(log: list[dict], suffix: str) -> dict[str, list[tuple[int, float]]]:
    """Each field ending in `suffix` that some epoch gives a number: its (epoch, value)s
    (null in an epoch where it was not measured, such as arch_loss in a warm-up)."""
    names = {name for entry in log for name, value in entry.items()
             if name.endswith(suffix) and _number(value)}
    ranked = sorted(names, key=lambda name: (ORDER.index(name.split("_")[0])
                                             if name.split("_")[0] in ORDER else len(ORDER), name))
    return {name: [(entry["epoch"], entry[name]) for entry in log if _number(entry.get(name))]
            for name in ranked}


# --- architecture weights -------------------------------------------------------------------

Candidates = dict[str, list[tuple[str, Sequence[str]]]]  # kind -> (edge label, names) per edge


def _searched_candidates(run_dir: Path, config: dict, log: list[dict],
                         notes: list[str]) -> Candidates:
    """Each searched edge's label and candidates' names per cell kind, from the space the run
    searched; empty where it cannot be loaded (candidates are then numbered) or the log holds
    no weights (no space is loaded for nothing)."""
    from nasdsl.dsl.elaborate import load
    from nasdsl.methods.zero_one_shot import PRUNED
    if not any(entry.get("weights") for entry in log) or not config.get("space"):
        return {}
    # A method that prunes before its search (Zero-One-Shot) writes the space it searched.
    source = run_dir / PRUNED if (run_dir / PRUNED).is_file() else config["space"]
    try:
        overrides = {str(name): value for name, value in config.get("overrides", ())}
        space = load(source, overrides=overrides)
    except (NasError, OSError, TypeError, ValueError) as error:
        reason = error.message if isinstance(error, NasError) else str(error)
        notes.append(f"candidates are numbered, not named: the space {source} cannot be "
                     f"loaded ({reason})")
        return {}
    return {kind.name: [(f"edge {src} → {dst}", names) for src, dst, names in kind.edges]
            for kind in space.cell_kinds}


def _weights(log: list[dict], candidates: Candidates, title: str, notes: list[str]) -> dict:
    """The architecture-weights figures by file name: one per cell kind of several edges,
    one for all kinds of one edge (a macro space's layers)."""
    logged = [entry for entry in log if isinstance(entry.get("weights"), dict)
              and entry["weights"]]
    if not logged:
        return {}
    if all(entry.get("arch") is None for entry in log):
        # random-ws: its logged weights are the fixed distribution it samples from
        notes.append("architecture weights are not plotted: no epoch derived an architecture "
                     "(the method chooses one only at the end, and learns no weights)")
        return {}
    kinds = list(dict.fromkeys(kind for entry in logged for kind in entry["weights"]))
    panels = {kind: _edges(kind, logged, candidates.get(kind), notes) for kind in kinds}
    groups = {kind: edges for kind, edges in panels.items() if len(edges) > 1}
    layers = [(kind, *panels[kind][0][1:]) for kind in kinds if len(panels[kind]) == 1]
    figures = {weights_file(kind): _weights_figure(
        edges, f"Architecture weights of cell kind '{kind}', per edge\n({title})")
        for kind, edges in groups.items()}
    if layers:
        figures[weights_file(LAYERS)] = _weights_figure(
            layers, f"Architecture weights per searched layer\n({title})")
    return figures


def _edges(kind: str, logged: list[dict], named: list | None, notes: list[str]) -> list[tuple]:
    """A panel per edge of `kind`: (label, epochs, {candidate name: weights per epoch})."""
    entries = [entry for entry in logged if _rows(entry["weights"].get(kind))]
    if not entries:
        return []
    edges = [(label, list(enumerate(names))) for label, names in named or ()]
    width = max((len(names) for _, names in named or ()), default=0)
    if not any(_fits(entry["weights"][kind], edges, width) for entry in entries):
        edges, width = _numbered(kind, entries)
    fitting = [entry for entry in entries if _fits(entry["weights"][kind], edges, width)]
    left_out = [entry["epoch"] for entry in logged if entry not in fitting]
    if left_out:
        notes.append(f"the {kind} weights of epoch{'s' if len(left_out) > 1 else ''} "
                     f"{_ranges(left_out)} are not plotted: the edges then had other candidates, "
                     "which the log does not name (a later stage of the search)")
    epochs = [entry["epoch"] for entry in fitting]
    return [(label, epochs, {name: [entry["weights"][kind][edge][column] for entry in fitting]
                             for column, name in columns})
            for edge, (label, columns) in enumerate(edges)]


def _numbered(kind: str, entries: list[dict]) -> tuple[list, int]:
    """Edges and candidates numbered, in the first epoch's shape, where the space does not
    name them; a column that is zero in every epoch is padding (an edge with fewer
    candidates than its kind's widest), not a candidate."""
    rows = entries[0]["weights"][kind]
    width = len(rows[0])
    same = [entry["weights"][kind] for entry in entries
            if _fits(entry["weights"][kind], rows, width)]
    return [(f"edge {edge}", [(column, f"candidate {column}") for column in range(width)
                              if any(weights[edge][column] for weights in same)])
            for edge in range(len(rows))], width


def _rows(rows) -> bool:
    return isinstance(rows, list) and bool(rows) and all(
        isinstance(row, list) and row and all(_number(value) for value in row) for row in rows)


def _fits(rows: list[list], edges: Sequence, width: int) -> bool:
    """Whether an epoch's weights have the shape of `edges`: a row per edge, each as wide as
    the kind's widest edge (the narrower ones padded)."""
    return len(rows) == len(edges) and all(len(row) == width for row in rows)


def _ranges(epochs: list[int]) -> str:
    """0, 1, 2, 5 as '0-2, 5'."""
    spans: list[list[int]] = []
    for epoch in epochs:
        if spans and epoch == spans[-1][1] + 1:
            spans[-1][1] = epoch
        else:
            spans.append([epoch, epoch])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _weights_figure(panels: list[tuple], title: str):
    names = list(dict.fromkeys(name for _, _, lines in panels for name in lines))
    color = dict(zip(names, _colors(len(names))))
    columns = math.ceil(math.sqrt(len(panels)))
    rows = math.ceil(len(panels) / columns)
    figure = _figure(figsize=(PANEL[0] * columns + 2.2, PANEL[1] * rows + 1.0))
    grid = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    for axes in grid.flat[len(panels):]:
        axes.set_visible(False)
    for axes, (label, epochs, lines) in zip(grid.flat, panels):
        for name, values in lines.items():
            axes.plot(epochs, values, color=color[name], label=name,
                      **_markers(epochs, size=2.5))
        axes.set_title(label, fontsize=9)
        axes.tick_params(labelsize=8, labelbottom=True)
        _epoch_axis(axes)
    # On [0, 1], where every method's weights lie: a collapse reads the same on every edge
    # and every run; a little beyond, so that lines at 0 and 1 stay clear of the frame.
    top = max([1.0, *(max(values) for _, _, lines in panels for values in lines.values()
                      if values)])
    grid.flat[0].set_ylim(-0.03 * top, 1.03 * top)
    handles = [_line(color[name], name) for name in names]
    figure.legend(handles=handles, loc="outside right upper", title="candidate", fontsize=8)
    figure.supxlabel("epoch")
    figure.supylabel("architecture weight")
    figure.suptitle(title)
    return figure


def _line(color, label: str):
    from matplotlib.lines import Line2D
    return Line2D([], [], color=color, label=label)


def _colors(count: int) -> list:
    from matplotlib import colormaps
    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(index % palette.N) for index in range(count)]


# --- NAS-Bench-201 -------------------------------------------------------------------------

def _benchmark(log: list[dict], config: dict, title: str, notes: list[str]):
    """Each epoch's derived architecture looked up in the run's benchmark, a panel per
    dataset; None where the run had no benchmark or derived no arch strings per epoch."""
    from nasdsl.architecture.derive import from_nb201
    from nasdsl.nb201 import DATASETS, ENV_VAR, FIGURES, open_benchmark
    archs = {entry["epoch"]: entry["arch"] for entry in log if isinstance(entry.get("arch"), str)}
    source = config.get("benchmark")
    if not archs or (source is None and not os.environ.get(ENV_VAR)):
        return None
    try:
        for arch in archs.values():
            from_nb201(arch)
    except NasError:
        return None  # not an NB201-shaped space: `nasdsl run` looks nothing up either
    try:
        benchmark = open_benchmark(source)
    except NasError as error:
        notes.append(f"the benchmark plot is not drawn: {error.message}")
        return None
    found = {}
    for epoch, arch in archs.items():
        try:
            found[epoch] = benchmark.lookup(arch)
        except NasError:
            continue  # a table that lacks this architecture: a gap in the lines
    datasets = [dataset for dataset in DATASETS
                if any(figures.get(dataset) for figures in found.values())]
    if not datasets:
        notes.append(f"the benchmark plot is not drawn: no derived architecture is in "
                     f"{benchmark.path}")
        return None
    optimum = benchmark.optimum()
    epochs = [entry["epoch"] for entry in log]
    figure = _figure(figsize=(max(7.0, 4.5 * len(datasets)), 4.6))
    legend = {}
    for axes, dataset in zip(figure.subplots(1, len(datasets), squeeze=False)[0], datasets):
        for figure_name, color in zip(FIGURES, _colors(len(FIGURES))):
            values = [found.get(epoch, {}).get(dataset, {}).get(figure_name, math.nan)
                      for epoch in epochs]
            if all(math.isnan(value) for value in values):
                continue
            line, = axes.plot(epochs, values, color=color, **_markers(log))
            legend[f"{figure_name}, derived architecture"] = line
            best = optimum.get(dataset, {}).get(figure_name)
            if best is not None:
                legend[f"{figure_name}, best in the benchmark"] = axes.axhline(
                    best, color=color, linestyle=":")
        axes.set(xlabel="epoch", ylabel="accuracy (%)", title=dataset)
        _epoch_axis(axes)
    # valid and test mean the same in every panel: one legend, below them
    figure.legend(legend.values(), legend.keys(), loc="outside lower center", ncol=2,
                  fontsize=9)
    figure.suptitle(f"NAS-Bench-201 accuracy of each epoch's derived architecture\n({title})")
    return figure


# --- drawing --------------------------------------------------------------------------------

def _figure(figsize: tuple[float, float]):
    # not pyplot: no display, no global state, nothing kept once the figure is written
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _markers(points: Sequence, size: float = 4) -> dict:
    return {"marker": "o", "markersize": size} if len(points) <= MARKED_EPOCHS else {}


def _epoch_axis(axes) -> None:
    from matplotlib.ticker import MaxNLocator
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    low, high = axes.get_xlim()
    if high - low < 1:  # a single epoch: its number alone, not fractions around it
        middle = round((low + high) / 2)
        axes.set_xlim(middle - 0.5, middle + 0.5)
    axes.grid(alpha=0.3)
