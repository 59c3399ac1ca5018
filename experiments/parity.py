"""Parity of the naive supernets with the reference implementations: NB201 (TinyNetwork,
C=16, N=5) and DARTS (8 cells, C=16), 10 classes, search settings, fp32, one forward +
backward, measured with the helpers of `nasdsl.backends.torch.measure`.

The reference figures are what the reference code itself saves for backward (measured with
the same hooks on AutoDL-Projects' and DARTS's own networks) and the FLOPs of earlier
measurements; a row without a reference figure shows "-".

    python experiments/parity.py              # about 2 minutes on 2 cores
"""

from __future__ import annotations

import torch
from common import SPACES, arguments, header, markdown_table, write

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.measure import parameter_count, step_figures
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load

# space, batch, reference MiB saved for backward, reference GFLOP (None: not measured)
REFERENCE = (("nb201", 8, 226.84, None), ("nb201", 64, None, 93.5),
             ("darts", 8, 958.01, None), ("darts", 32, 3831.19, 242.9))


def _against(value: float, reference: float | None) -> tuple[str, str]:
    if reference is None:
        return "-", "-"
    return f"{reference:,}", f"{100 * (value / reference - 1):+.2f}%"


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
        saved, flops = step_figures(net, lambda: Run(softmax_weights(net.views)), batch,
                                    space.network.input_channels, space.network.input_size)
        mib, gflop = saved / 2**20, flops / 1e9
        weights = parameter_count(net) - sum(p.numel() for p in net.arch_parameters())
        rows.append([f"{name}.nas", batch, f"{weights:,}", f"{mib:,.2f}", *_against(mib, ref_mib),
                     f"{gflop:.2f}", *_against(gflop, ref_gflop)])
    text = header("Naive supernets against the reference implementations")
    text += markdown_table(["space", "batch", "weights", "MiB saved", "reference MiB",
                            "difference", "GFLOP fwd+bwd", "reference GFLOP", "difference"], rows)
    write(args.out, "parity", text)


if __name__ == "__main__":
    main()
