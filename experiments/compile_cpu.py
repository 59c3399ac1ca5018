"""`--compile` against eager on the CPU: search steps of the same supernet, with the same
weights and batches, run eagerly and through torch.compile (inductor) in one run.

    python experiments/compile_cpu.py   # about 10 minutes on 2 cores

Per space and supernet (naive, simplified): the seconds of the first compiled step (tracing
and compiling, with its backward), the median of the later steps for both, their ratio, and
the difference between the two runs' losses at the first step (the same weights: the
compiled forward computes what the eager one does, up to float32 rounding) and the largest
over the steps (later steps start from weights that rounding has moved apart).
"""

from __future__ import annotations

import statistics
import time

import torch
from common import SPACES, arguments, header, markdown_table, write

from nasdsl.search.build import assemble
from nasdsl.search.config import SearchConfig
from nasdsl.search.step import Optimizers, search_step


def steps(space: str, overrides, simplify: bool, compile: bool, batch: int, count: int):
    """(first step's seconds, median of the others, the losses) of `count` DARTS steps."""
    torch.manual_seed(0)
    config = SearchConfig(space=str(SPACES / f"{space}.nas"), batch=batch, overrides=overrides,
                          simplify=simplify, rewrites=None if not simplify else "all",
                          compile=compile)
    parts = assemble(config, 10, (3, 32), lambda: iter(()), run_dir=None)
    generator = torch.Generator().manual_seed(1)
    batches = [(torch.randn(batch, 3, 32, 32, generator=generator),
                torch.randint(10, (batch,), generator=generator)) for _ in range(2 * count)]
    optimizers = Optimizers(parts.weight_optimizer, parts.arch_optimizer, config.grad_clip)
    parts.net.train()
    seconds, losses = [], []
    for index in range(count):
        began = time.perf_counter()
        result = search_step(parts.method, parts.net, batches[2 * index], batches[2 * index + 1],
                             optimizers)
        seconds.append(time.perf_counter() - began)
        losses.append(result.train_loss)
    return seconds[0], statistics.median(seconds[1:]), losses


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--spaces", default="nb201,darts")
    args = parser.parse_args()
    full = {"nb201": (("C", 16), ("N", 5)), "darts": (("C", 16), ("N", 1))}
    cases = [("nb201", (("C", 4), ("N", 1)))] if args.quick else \
        [(name, full[name]) for name in args.spaces.split(",")]
    count, batch = (3, 4) if args.quick else (args.steps, args.batch)
    rows = []
    for space, overrides in cases:
        for simplify in (False, True):
            _, eager, eager_losses = steps(space, overrides, simplify, False, batch, count)
            first, compiled, compiled_losses = steps(space, overrides, simplify, True, batch,
                                                     count)
            differences = [abs(a - b) for a, b in zip(eager_losses, compiled_losses)]
            rows.append([space + " " + " ".join(f"{k}={v}" for k, v in overrides),
                         "simplified" if simplify else "naive", f"{first:.1f}",
                         f"{eager:.3f}", f"{compiled:.3f}", f"x{compiled / eager:.2f}",
                         f"{differences[0]:.1e}", f"{max(differences):.1e}"])
            print(" | ".join(rows[-1]), flush=True)
    text = header("--compile against eager on the CPU")
    text += (f"DARTS search steps (architecture and weight step) at batch {batch}, "
             f"{count} steps, the first compiled one timed apart; the others' median.\n\n")
    text += markdown_table(["space", "supernet", "first compiled step s", "eager step s",
                            "compiled step s", "compiled / eager", "loss difference, step 1",
                            "largest"],
                           rows)
    write(args.out, "compile_cpu", text)


if __name__ == "__main__":
    main()
