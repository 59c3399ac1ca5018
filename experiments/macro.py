"""Simplification on the macro spaces (mobilenetv2, proxylessnas, fbnet): what the cost model
shares and merges, and what it saves, against the naive supernet and against the supernet
with tied parameters (`--tie-params`: candidates that begin or end with the same module
with parameters, such as one expansion conv of each ratio, compute it once with one set of
weights: the weight-entanglement supernet some methods use, outside the guarantees). One
forward + backward with DARTS's uniform weights at initialization, training mode; saved bytes
measured, step time the median of the repeats.

    python experiments/macro.py               # about 5 minutes on 2 cores
"""

from __future__ import annotations

import statistics
import time
from collections import Counter

import torch
from common import SPACES, arguments, header, markdown_table, write

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.simplify.cost import Setting

# At 112x112 (a quarter of ImageNet's pixels) and batch 8 a naive step takes about a second
# on this CPU; the ratios are those of the full size up to the fixed layers.
MACRO_SPACES = ("mobilenetv2", "proxylessnas", "fbnet")
SIZE, BATCH = 112, 8
VARIANTS = (("naive", False, False), ("simplified", True, False), ("tied", True, True))


def measured(space, batch: int, simplify: bool, tie: bool, repeats: int):
    """MiB saved for backward, median seconds of a forward + backward, and the rewrites the
    plans apply (rule: edges)."""
    torch.manual_seed(0)
    net = Supernet(space, BuildOptions(simplify=simplify, tie_params=tie,
                                       setting=Setting(batch=batch)))
    network = space.network
    x = torch.randn(batch, network.input_channels, network.input_size, network.input_size)
    mib = saved_bytes(lambda: net(x, Run(softmax_weights(net.views))), exclude=net) / 2**20
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        net(x, Run(softmax_weights(net.views))).sum().backward()
        seconds.append(time.perf_counter() - began)
        net.zero_grad(set_to_none=True)
    rules = Counter(rewrite.rule for plan in (net.plans or {}).values()
                    for rewrite in plan.rewrites)
    return mib, statistics.median(seconds), rules


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows = []
    batch, size, repeats = (2, 32, 1) if args.quick else (BATCH, SIZE, args.repeats)
    for name in MACRO_SPACES:
        overrides = {"size": size, "classes": 10, **({"unit": 2} if args.quick else {})}
        space = load(SPACES / f"{name}.nas", overrides=overrides)
        figures = {}
        for label, simplify, tie in VARIANTS:
            print(f"measuring {name}, {label} ...", flush=True)
            figures[label] = measured(space, batch, simplify, tie, repeats)
        naive_mib, naive_seconds, _ = figures["naive"]
        for label, (mib, seconds, rules) in figures.items():
            shared = ", ".join(f"{rule} x{count}" for rule, count in sorted(rules.items()))
            rows.append([f"{name}.nas", label, f"{mib:,.1f}", f"x{mib / naive_mib:.2f}",
                         f"{seconds:.2f}", f"x{seconds / naive_seconds:.2f}", shared or "-"])
    text = header("Simplification on the macro spaces")
    text += (f"Batch {batch}, input {size}x{size}, 10 classes; MiB saved for backward in one "
             "forward + backward with uniform DARTS weights; seconds the median of "
             f"{repeats}. `rewrites` counts the rewrites the plans apply, over the "
             "distinct edge sites (layers of one shape share a plan).\n\n")
    text += markdown_table(["space", "supernet", "MiB", "memory", "step s", "time", "rewrites"],
                           rows)
    write(args.out, "macro", text)


if __name__ == "__main__":
    main()
