"""Parity of the naive supernets with the reference implementations (issue 6 item 4): NB201
(TinyNetwork, C=16, N=5) at batch 64 and DARTS (8 cells, C=16) at batch 32, 10 classes,
search settings, fp32, one forward + backward, measured with the DESIGN section 6 helpers.

    python benchmarks/parity.py              # about 1 minute on 2 cores
"""

from __future__ import annotations

import torch
from common import SPACES, arguments, header, markdown_table, write

from nasdsl.backends.torch.measure import parameter_count, step_figures
from nasdsl.backends.torch.network import BuildOptions, Supernet, softmax_weights
from nasdsl.dsl.elaborate import load

# space, batch, reference MiB saved for backward, reference GFLOP (issue 6)
REFERENCE = (("nb201", 64, 1821, 93.5), ("darts", 32, 3839, 242.9))


def main() -> None:
    args = arguments(__doc__).parse_args()
    rows = []
    for name, batch, ref_mib, ref_gflop in REFERENCE:
        overrides = {"classes": 10, **({"C": 4, "N": 1} if args.quick else {})}
        batch = 2 if args.quick else batch
        print(f"measuring {name} at batch {batch} ...", flush=True)
        space = load(SPACES / f"{name}.nas", overrides=overrides)
        torch.manual_seed(0)
        net = Supernet(space, BuildOptions(simplify=False))
        saved, flops = step_figures(net, lambda: softmax_weights(net), batch,
                                    space.network.input_channels, space.network.input_size)
        mib, gflop = saved / 2**20, flops / 1e9
        weights = parameter_count(net) - sum(p.numel() for p in net.arch_parameters())
        rows.append([f"{name}.nas", batch, f"{weights:,}", f"{mib:,.1f}",
                     f"{ref_mib:,}", f"{100 * (mib / ref_mib - 1):+.1f}%", f"{gflop:.2f}",
                     f"{ref_gflop}", f"{100 * (gflop / ref_gflop - 1):+.1f}%"])
    text = header("Naive supernets against the reference implementations")
    text += markdown_table(["space", "batch", "weights", "MiB saved", "reference MiB",
                            "difference", "GFLOP fwd+bwd", "reference GFLOP", "difference"], rows)
    write(args.out, "parity", text)


if __name__ == "__main__":
    main()
