"""The single-path limit: for each shipped space, one forward + backward of
the naive supernet, of the simplified ones, and of its most expensive derived architecture —
every kept edge its costliest candidate (by activation memory), run inside the naive
supernet with only that candidate and only the kept edges computed. No supernet can do
better than the path it must be able to become.

    python experiments/single_path.py         # batch 16: about 5 minutes on 2 cores
"""

from __future__ import annotations

import attrs
import torch
from common import SPACES, arguments, header, markdown_table, pyplot, ratio, write

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.measure import flops, saved_bytes
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.simplify.cost import OBJECTIVES, Setting, plan_cost
from nasdsl.simplify.plan import naive_plan

NAMES = ("nb201", "darts", "darts_large")


def costliest_path(space, batch: int) -> tuple[dict, dict]:
    """One-hot weights and sampled indices (-1: edge not kept) per cell kind for the path
    whose every kept edge runs its costliest candidate (activation memory, then FLOPs)."""
    weights, sampled = {}, {}
    for kind in space.cell_kinds:
        cell = next(c for c in space.network.cells if c.kind is kind)
        setting = Setting(batch=batch, size=cell.size)
        costs, choice = [], []
        for edge in cell.edges:
            candidates = []
            for i, op in enumerate(edge.candidates):
                if kind.derivable(op.name):
                    cost = plan_cost(naive_plan((op,)), cell.channels, setting)
                    candidates.append((cost.saved_bytes, cost.flops, i))
            cost, _, index = max(candidates)
            costs.append(cost)
            choice.append(index)
        keep = set()
        for position, node in enumerate(kind.intermediate):
            incoming = kind.incoming(node)
            top = kind.derive.top_of(position) or len(incoming)
            keep |= set(sorted(incoming, key=lambda i: -costs[i])[:top])
        width = max(len(names) for *_, names in kind.edges)
        one_hot = torch.zeros(len(kind.edges), width)
        for i, index in enumerate(choice):
            if i in keep:
                one_hot[i, index] = 1.0
        weights[kind.name] = one_hot
        sampled[kind.name] = torch.tensor([choice[i] if i in keep else -1
                                           for i in range(len(kind.edges))])
    return weights, sampled


def figures(net, x, forward) -> tuple[int, int]:
    net.train()
    saved = saved_bytes(forward, exclude=net)
    counted = flops(lambda: forward().sum().backward())
    net.zero_grad(set_to_none=True)
    return saved, counted


def measure_space(name: str, batch: int, overrides: dict) -> list[tuple[str, int, int]]:
    space = load(SPACES / f"{name}.nas", overrides={**overrides, "classes": 10})
    x = torch.randn(batch, space.network.input_channels, space.network.input_size,
                    space.network.input_size)
    rows = []
    base = BuildOptions(simplify=False, setting=Setting(batch=batch))
    torch.manual_seed(0)
    naive = Supernet(space, base)
    rows.append(("naive supernet",
                 *figures(naive, x, lambda: naive(x, Run(softmax_weights(naive.views))))))
    for objective in OBJECTIVES:
        options = attrs.evolve(base, simplify=True,
                               setting=attrs.evolve(base.setting, objective=objective))
        net = Supernet(space, options)
        rows.append((f"simplified ({objective} objective)",
                     *figures(net, x, lambda: net(x, Run(softmax_weights(net.views))))))
    weights, sampled = costliest_path(space, batch)
    rows.append(("costliest single path",
                 *figures(naive, x, lambda: naive(x, Run(weights, sampled=sampled)))))
    return rows


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    batch = 2 if args.quick else args.batch
    overrides = {"C": 4, "N": 1} if args.quick else {}
    text = header("The single-path limit")
    text += (f"One forward + backward of each network in training mode at batch {batch}, "
             "3x32x32 input, 10 classes. Ratios against the naive supernet.\n\n")
    plt = pyplot()
    figure, axes = plt.subplots(1, len(NAMES), figsize=(4 * len(NAMES), 3.6))
    for ax, name in zip(axes, NAMES):
        print(f"measuring {name} ...", flush=True)
        rows = measure_space(name, batch, overrides)
        naive_saved, naive_flops = rows[0][1], rows[0][2]
        text += f"## {name}.nas\n\n" + markdown_table(
            ["network", "activations MiB", "GFLOP"],
            [[label, f"{saved / 2**20:,.1f} ({ratio(saved, naive_saved)})",
              f"{counted / 1e9:,.2f} ({ratio(counted, naive_flops)})"]
             for label, saved, counted in rows]) + "\n"
        ax.bar([label.replace(" (", "\n(").replace("single ", "single\n") for label, *_ in rows],
               [saved / 2**20 for _, saved, _ in rows],
               color=["tab:gray", "tab:blue", "tab:cyan", "tab:green"])
        ax.set_title(f"{name}.nas")
        ax.set_ylabel("activation MiB")
        ax.tick_params(axis="x", labelsize=6, labelrotation=30)
    write(args.out, "single_path", text, figure)


if __name__ == "__main__":
    main()
