"""CPU proxy searches on spaces/nb201.nas: every registered method at the same settings and
seed, its derived cell looked up in NAS-Bench-201. A proxy: a narrow, shallow supernet, a
subset of CIFAR-10 and a few epochs, so that all methods run on a CPU in minutes; the
figures say what these runs found, not what the methods find at the papers' settings.

    python experiments/proxy_nb201.py --data-dir DIR --benchmark TABLE.csv
        # DIR: CIFAR-10 (pickles, or train/<class>/ images); about 25 minutes on 2 cores

Each method runs as `nasdsl run spaces/nb201.nas --method M --dataset cifar10 --subset S
--epochs E --set C=... --set N=...` would, and the row gives the derived architecture, its
NAS-Bench-201 CIFAR-10 validation and test accuracy (200-epoch figures), the supernet's
held-out accuracy at the last epoch and the search's wall time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import SPACES, arguments, header, markdown_table, write

from nasdsl.methods import method_names
from nasdsl.nb201 import open_benchmark
from nasdsl.search.config import SearchConfig
from nasdsl.search.loop import Search

# Options that make a method runnable on this proxy at all: Zero-One-Shot's pruning looks
# at one batch per candidate set, PC-DARTS's warm-up would take every epoch here.
OPTIONS = {"pc-darts": (("arch-warmup", 0),), "zero-one-shot": (("arch-warmup", 0),),
           "zero-one-shot-rnd": (("arch-warmup", 0),)}
# Rows of a method with other options: DrNAS's progressive scheme, the reference code's
# NAS-Bench-201 stages (their 10-epoch warm-up per stage would leave no architecture step).
VARIANTS = {"drnas-progressive": ("drnas", (("stages", "4:all,2:3"),))}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--data-dir", type=Path, help="CIFAR-10's files (not with --quick)")
    parser.add_argument("--benchmark", type=Path, help="a NAS-Bench-201 table or file")
    parser.add_argument("--methods", default=",".join([*method_names(), *VARIANTS]))
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--channels", type=int, default=8, help="the space's C")
    parser.add_argument("--cells", type=int, default=2, help="the space's N")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    quick = args.quick
    data = dict(dataset="digits", subset=64) if quick else \
        dict(dataset="cifar10", data_dir=str(args.data_dir), subset=args.subset)
    overrides = (("C", 4), ("N", 1)) if quick else (("C", args.channels), ("N", args.cells))
    epochs = 1 if quick else args.epochs
    benchmark = open_benchmark(args.benchmark) if args.benchmark else None
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for row in args.methods.split(","):
            method, method_options = VARIANTS.get(row, (row, OPTIONS.get(row, ())))
            config = SearchConfig(space=str(SPACES / "nb201.nas"), method=method,
                                  epochs=epochs, seed=args.seed, overrides=overrides,
                                  method_options=method_options, **data)
            started = time.perf_counter()
            result = Search(config, Path(runs) / row, progress=False).run()
            seconds = time.perf_counter() - started
            figures = benchmark.lookup(result.arch_text)["cifar10"] if benchmark else {}
            rows.append([f"`{row}`", "`" + result.arch_text.replace("|", "\\|") + "`",
                         *(f"{figures[k]:.2f}" if k in figures else "-"
                           for k in ("valid", "test")),
                         f"{100 * result.log[-1]['valid_acc']:.1f}", f"{seconds:.0f}"])
            print(" | ".join(rows[-1]), flush=True)
    text = header("CPU proxy searches on nb201.nas, every method")
    extra = "; ".join(f"{m} " + " ".join(f"--{k} {v}" for k, v in o) for m, o in OPTIONS.items())
    extra += "; " + "; ".join(f"{row} is {m} " + " ".join(f"--{k} {v}" for k, v in o)
                              for row, (m, o) in VARIANTS.items())
    best = benchmark.optimum()["cifar10"] if benchmark else None
    text += (f"Settings: {data['dataset']}, {data['subset']} training images (half train the "
             f"weights, half the architecture), {epochs} epochs, batch 64, seed {args.seed}, "
             f"{', '.join(f'{k}={v}' for k, v in overrides)}; each method's defaults but "
             f"{extra}. NAS-Bench-201 figures: CIFAR-10 accuracy (%) after its 200-epoch "
             "training" + (f" (best: valid {best['valid']:.2f}, test {best['test']:.2f})"
                           if best else "") + ".\n\n")
    text += markdown_table(["method", "derived cell", "NB201 valid", "NB201 test",
                            "supernet held-out %", "search s"], rows)
    write(args.out, "proxy_nb201", text)


if __name__ == "__main__":
    main()
