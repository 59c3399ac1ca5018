"""Activation memory of one search step per method on spaces/darts.nas, each method's supernet
as `nasdsl run` builds it by default (seed 001 Table 7 orders ROME < GDAS < PC-DARTS < DARTS).
Saved bytes only (no timing, no FLOP counting), so it is quick and machine-independent.

    python experiments/methods.py             # batch 16: about 5 minutes on 2 cores
"""

from __future__ import annotations

import torch
from common import SPACES, arguments, header, markdown_table, write

from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.search.build import assemble
from nasdsl.search.config import SearchConfig
from nasdsl.search.step import Optimizers, search_step

METHODS = ("darts", "beta-darts", "pc-darts", "gdas", "rome", "entranas", "entranas-dst",
           "zero-one-shot", "zero-one-shot-rnd")


def step_mib(method: str, batch: int, overrides: tuple) -> float:
    torch.manual_seed(0)
    config = SearchConfig(space=str(SPACES / "darts.nas"), method=method, batch=batch,
                          overrides=overrides, method_options=(
                              (("prune-batches", 1),) if method == "zero-one-shot" else ()))

    def batch_of_images():
        return torch.randn(batch, 3, 32, 32), torch.randint(10, (batch,))

    parts = assemble(config, 10, (3, 32), lambda: (batch_of_images() for _ in range(2)), None)
    parts.net.train()
    optimizers = Optimizers(parts.weight_optimizer, parts.arch_optimizer, config.grad_clip)
    train, arch = batch_of_images(), batch_of_images()
    search_step(parts.method, parts.net, train, arch, optimizers)  # warm-up
    return saved_bytes(lambda: search_step(parts.method, parts.net, train, arch, optimizers),
                       exclude=parts.net) / 2**20


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    batch = 2 if args.quick else args.batch
    overrides = (("C", 4), ("N", 1)) if args.quick else ()
    rows = []
    for method in METHODS:
        rows.append((method, step_mib(method, batch, overrides)))
        print(f"{method}: {rows[-1][1]:,.1f} MiB", flush=True)
    darts = rows[0][1]
    text = header("Activation memory of a search step, method by method, on darts.nas")
    text += (f"Peak MiB saved for backward over one search step (architecture step and weight "
             f"step) at batch {batch}, the supernet `nasdsl run` builds by default (cost "
             "model's choice), 10 classes, 3x32x32 input.\n\n")
    text += markdown_table(["method", "MiB", "of DARTS"],
                           [[m, f"{mib:,.1f}", f"x{mib / darts:.2f}"]
                            for m, mib in sorted(rows, key=lambda row: row[1])])
    write(args.out, "methods", text)


if __name__ == "__main__":
    main()
