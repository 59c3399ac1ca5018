"""How much of the simplified supernets' activation saving comes from the rewrites and how
much from the two ways a simplified edge runs: merged kernels rebuilt in backward, and
parameter-free weighted branches (pools) recomputed in backward. Each is switched off in turn
on the same plans; one forward + backward in training mode, measured saved bytes.

    python experiments/contributions.py       # about 3 minutes on 2 cores
"""

from __future__ import annotations

from unittest import mock

import torch
from common import SPACES, arguments, header, markdown_table, write

import nasdsl.backends.torch.edge as edge_module
from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.simplify.cost import OBJECTIVES, Setting

SPACES_AND_BATCHES = (("nb201", 16), ("darts", 8), ("darts_large", 4))


def _without_checkpoint(function, *args, use_reentrant=False):
    return function(*args)


def saved_mib(space, batch: int, simplify: bool, objective: str) -> float:
    torch.manual_seed(0)
    net = Supernet(space, BuildOptions(simplify=simplify,
                                       setting=Setting(batch=batch, objective=objective)))
    network = space.network
    x = torch.randn(batch, network.input_channels, network.input_size, network.input_size)
    return saved_bytes(lambda: net(x, Run(softmax_weights(net.views))), exclude=net) / 2**20


def main() -> None:
    args = arguments(__doc__).parse_args()
    rows = []
    for name, batch in SPACES_AND_BATCHES:
        overrides = {"classes": 10, **({"C": 4, "N": 1} if args.quick else {})}
        batch = 2 if args.quick else batch
        space = load(SPACES / f"{name}.nas", overrides=overrides)
        print(f"measuring {name} ...", flush=True)
        naive = saved_mib(space, batch, False, "time")
        for objective in OBJECTIVES:
            full = saved_mib(space, batch, True, objective)
            with mock.patch.object(edge_module, "recomputable", lambda branch: False):
                kept_branches = saved_mib(space, batch, True, objective)
                with mock.patch.object(edge_module, "checkpoint", _without_checkpoint):
                    neither = saved_mib(space, batch, True, objective)
            rows.append([f"{name}.nas", batch, objective, f"{naive:,.1f}",
                         *(f"{mib:,.1f} (x{mib / naive:.2f})"
                           for mib in (neither, kept_branches, full))])
    text = header("Where the simplified supernets' activation saving comes from")
    text += ("MiB saved for backward in one forward + backward, training mode, 10 classes. "
             "Columns from left to right add: the rewrites alone (kernels kept, branches "
             "kept), merged kernels rebuilt in backward, pooling branches recomputed in "
             "backward where the plan chooses to (what `nasdsl run` builds).\n\n")
    text += markdown_table(["space", "batch", "objective", "naive MiB", "rewrites only",
                            "+ kernels rebuilt", "+ branches recomputed"], rows)
    write(args.out, "contributions", text)


if __name__ == "__main__":
    main()
