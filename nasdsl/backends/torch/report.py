"""The supernet figures `nasdsl show` prints: parameters, and one training step's
activation memory and FLOPs, naive and simplified, measured."""

from __future__ import annotations

import torch

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.measure import step_figures
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.space import Space
from nasdsl.simplify.cost import Setting


def supernet_costs(space: Space, batch: int) -> str:
    network = space.network
    rows = []
    for label, simplify in (("naive", False), ("simplified", True)):
        torch.manual_seed(0)
        net = Supernet(space, BuildOptions(simplify=simplify, setting=Setting(batch=batch)))
        weights = sum(p.numel() for p in net.weight_parameters())
        arch = sum(p.numel() for p in net.arch_parameters())
        saved, flops = step_figures(net, lambda: Run(softmax_weights(net.views)), batch,
                                    network.input_channels, network.input_size)
        rows.append((label, weights, arch, saved, flops))
    lines = ["", f"supernet, one training step (forward + backward) at batch {batch}, "
                 f"{network.input_channels}x{network.input_size}x{network.input_size} input, "
                 "measured:",
             f"  {'':<11} {'weights':>10} {'arch params':>12} {'activations':>14} {'GFLOP':>9}"]
    naive_saved, naive_flops = rows[0][3], rows[0][4]
    for label, weights, arch, saved, flops in rows:
        ratio = "" if label == "naive" else \
            f"  (x{saved / naive_saved:.2f} memory, x{flops / naive_flops:.2f} FLOPs)"
        lines.append(f"  {label:<11} {weights:>10,} {arch:>12,} {saved / 2**20:>10.1f} MiB "
                     f"{flops / 1e9:>9.2f}{ratio}")
    return "\n".join(lines) + "\n"
