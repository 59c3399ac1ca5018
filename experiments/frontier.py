"""The memory budget's frontier: for each shipped space, activation memory against step time
from the naive supernet down to the smallest configuration the memory budget can choose
(the smallest plans, every cell recomputed in backward), measured at points spread along the
cost model's frontier, with the default simplified supernet and the costliest single path
beside them.

Each point is the supernet `--memory-budget` builds at the budget that admits that point's
modelled bytes (with the margin kept for the model's error); its
memory is the bytes saved for backward in one forward + backward at softmax weights plus
the largest recomputed cell's insides (which its backward brings back); its time is the
median of 3 such steps.

    python experiments/frontier.py          # every shipped space: about 40 minutes on 2 cores
"""

from __future__ import annotations

import json
import statistics
import time

import attrs
import torch
from common import SPACES, arguments, header, markdown_table, pyplot, ratio, write
from single_path import costliest_path

from nasdsl.backends.torch.budget import recomputation_peak
from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.backends.torch.network import BuildOptions, Supernet, budget_costs
from nasdsl.dsl.elaborate import load
from nasdsl.simplify.budget import frontier, needed
from nasdsl.simplify.cost import Setting

# Each space at a batch that keeps its naive step within seconds on a CPU.
SPACES_AT = (("nb201", 16, {}), ("darts", 8, {}), ("darts_large", 4, {}),
             ("rdarts_s1", 4, {}), ("rdarts_s2", 4, {}), ("rdarts_s3", 4, {}),
             ("rdarts_s4", 4, {}), ("nb101", 8, {}), ("mobilenetv2", 4, {}),
             ("proxylessnas", 4, {}), ("fbnet", 4, {}))
QUICK = (("nb201", 2, {"C": 4, "N": 1}), ("darts", 2, {"C": 4, "N": 1}))
POINTS = 5  # frontier points measured per space, besides the naive and default supernets


def measure(net: Supernet, x: torch.Tensor, run, repeats: int) -> tuple[int, float]:
    """Peak activation bytes of a forward + backward (saved plus recomputation's) and its
    median seconds, each forward run as `run()` says."""
    net.train()

    def step():
        net(x, run()).sum().backward()

    memory = saved_bytes(step, exclude=net) + recomputation_peak(net, lambda: net(x, run()))
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - began)
    net.zero_grad(set_to_none=True)
    return memory, statistics.median(seconds)


def spread(points: list, count: int) -> list:
    """`count` points spread evenly in modelled bytes, the two ends included."""
    if len(points) <= count:
        return points
    high, low = points[0].bytes, points[-1].bytes
    chosen = []
    for k in range(count):
        target = high - (high - low) * k / (count - 1)
        best = min(points, key=lambda p: abs(p.bytes - target))
        if best not in chosen:
            chosen.append(best)
    return chosen


def measure_space(name: str, batch: int, overrides: dict, repeats: int) -> list[dict]:
    space = load(SPACES / f"{name}.nas", overrides={**overrides, "classes": 10})
    network = space.network
    x = torch.randn(batch, network.input_channels, network.input_size, network.input_size)
    base = BuildOptions(setting=Setting(batch=batch))
    rows = []

    def row(label, net, run, modelled=None):
        torch.manual_seed(0)
        memory, seconds = measure(net, x, run, repeats)
        rows.append({"label": label, "modelled": modelled, "memory": memory,
                     "seconds": seconds, "recomputed": len(net.recomputed)})

    torch.manual_seed(0)
    naive = Supernet(space, attrs.evolve(base, simplify=False))
    row("naive supernet", naive, lambda: Run(softmax_weights(naive.views)))
    default = Supernet(space, base)
    row("simplified (default)", default, lambda: Run(softmax_weights(default.views)))
    points = frontier(budget_costs(space, base))
    for point in spread(points, POINTS):
        net = Supernet(space, attrs.evolve(base, memory_budget=needed(point.bytes)))
        row(f"budget {point.bytes / 2**20:,.1f} MiB", net,
            lambda net=net: Run(softmax_weights(net.views)), point.bytes)
    weights, sampled = costliest_path(space, batch)
    row("costliest single path", naive, lambda: Run(weights, sampled=sampled))
    return rows


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--spaces", help="comma-separated names: only these spaces")
    parser.add_argument("--fresh", action="store_true",
                        help="measure every space again, not only those the rows file lacks")
    args = parser.parse_args()
    # Each space's rows are kept as soon as they are measured: a run that fails or is
    # killed later (a macro space at 224x224 needs GBs) goes on where it stopped.
    saved = args.out / "frontier_rows.json"
    done = {} if args.fresh or args.quick or not saved.exists() else json.loads(saved.read_text())
    spaces = QUICK if args.quick else SPACES_AT
    if args.spaces:
        spaces = [entry for entry in spaces if entry[0] in args.spaces.split(",")]
    repeats = 1 if args.quick else args.repeats
    text = header("The memory budget's frontier: activation memory against step time")
    text += (f"One forward + backward at softmax weights in training mode, 10 classes, median of "
             f"{repeats} steps. Memory: bytes saved for backward plus the largest recomputed "
             "cell's insides; `modelled` is the cost model's figure the budget was set to. "
             "Ratios against the naive supernet of the same space.\n\n")
    plt = pyplot()
    columns = 4
    rows_of_axes = -(-len(spaces) // columns)
    figure, axes = plt.subplots(rows_of_axes, columns, figsize=(4 * columns, 3.4 * rows_of_axes),
                                squeeze=False)
    for ax in axes.flat[len(spaces):]:
        ax.axis("off")
    for ax, (name, batch, overrides) in zip(axes.flat, spaces):
        key = f"{name} {batch}"
        if key not in done:
            print(f"measuring {name} ...", flush=True)
            done[key] = measure_space(name, batch, overrides, repeats)
            if not args.quick:
                args.out.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps(done, indent=1) + "\n")
        rows = done[key]
        naive = rows[0]
        text += f"## {name}.nas, batch {batch}\n\n" + markdown_table(
            ["supernet", "cells recomputed", "modelled MiB", "measured MiB", "step s"],
            [[r["label"], r["recomputed"],
              "" if r["modelled"] is None else f"{r['modelled'] / 2**20:,.1f}",
              f"{r['memory'] / 2**20:,.1f} ({ratio(r['memory'], naive['memory'])})",
              f"{r['seconds']:.3f} ({ratio(r['seconds'], naive['seconds'])})"] for r in rows])
        text += "\n"
        budget = [r for r in rows if r["modelled"] is not None]
        ax.plot([r["memory"] / 2**20 for r in budget], [r["seconds"] for r in budget], "o-",
                color="tab:blue", label="memory budget")
        for r, marker, color in ((rows[0], "s", "tab:gray"), (rows[1], "*", "tab:green"),
                                 (rows[-1], "D", "tab:red")):
            ax.plot(r["memory"] / 2**20, r["seconds"], marker, color=color, markersize=9,
                    label=r["label"])
        ax.set_title(f"{name}.nas (batch {batch})", fontsize=9)
        ax.set_xlabel("activation MiB")
        ax.set_ylabel("step seconds")
    axes.flat[0].legend(fontsize=7)
    figure.tight_layout()
    write(args.out, "frontier", text, figure)


if __name__ == "__main__":
    main()
