"""Seed 000 Fig. 8: search cost against the number of candidates. Spaces of 4 to 16
candidates — skip, max pool and avg pool, plus separable dilated and double-stacked
separable convs added one at a time — in the darts_large search network; one DARTS search
step of the naive supernet and of the simplified ones (cost model, cost and memory
objectives): activation memory and step time, with the least-squares slope of each line.

    python experiments/scaling.py             # C=8, N=1, batch 8: about 10 minutes on 2 cores
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
from common import SPACES, arguments, header, markdown_table, pyplot, write

from nasdsl.bench.measure import NAIVE, SIMPLIFIED, Settings, measure

BASE = ("skip_connect", "max_pool_3x3", "avg_pool_3x3")
# darts_large.nas's convs, separable dilated and double-stacked alternating, and one more
# dilated conv to reach 16 candidates.
GROWING = ("dil_conv_3x3_d2", "sep_conv_3x3_x2", "dil_conv_5x5_d2", "sep_conv_5x5_x2",
           "dil_conv_3x3_d3", "sep_conv_7x7_x2", "dil_conv_5x5_d3", "sep_conv_9x9_x2",
           "dil_conv_7x7_d2", "sep_conv_3x3_d2_x2", "dil_conv_7x7_d3", "sep_conv_5x5_d2_x2",
           "sep_conv_3x3_d3_x2")
EXTRA = "op dil_conv_7x7_d3 = sep(k=7, d=3)\n"
LINES = (("naive", NAIVE, "cost"), ("simplified, cost objective (default)", SIMPLIFIED, "cost"),
         ("simplified, memory objective", SIMPLIFIED, "memory"))


def space_text(candidates: tuple[str, ...]) -> str:
    """darts_large.nas with these candidates on every edge."""
    text = (SPACES / "darts_large.nas").read_text()
    text = text.replace('import "darts_ops.nas"', f'import "{SPACES / "darts_ops.nas"}"\n{EXTRA}')
    return re.sub(r"candidates .*", "candidates " + ", ".join(candidates), text)


def slope(xs: list[int], ys: list[float]) -> float:
    return float(np.polyfit(xs, ys, 1)[0])


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    overrides = (("C", 4), ("N", 1)) if args.quick else (("C", 8), ("N", 1))
    batch, repeats = (2, 1) if args.quick else (args.batch, args.repeats)
    sizes = (4, 16) if args.quick else tuple(range(4, 17))
    figures: dict[str, list] = {label: [] for label, *_ in LINES}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = Path(folder) / f"scaling_{size}.nas"
            path.write_text(space_text(BASE + GROWING[:size - len(BASE)]))
            for label, variant, objective in LINES:
                print(f"measuring {size} candidates, {label} ...", flush=True)
                settings = Settings(space=str(path), batch=batch, repeats=repeats,
                                    objective=objective, overrides=overrides)
                row, _ = measure(settings, "darts", variant)
                figures[label].append((size, row.activation_bytes / 2**20, row.step_seconds))
    slopes = {label: (slope(sizes, [f[1] for f in rows]), slope(sizes, [f[2] for f in rows]))
              for label, rows in figures.items()}
    naive_memory, naive_time = slopes["naive"]
    text = header("Search cost against the number of candidates (seed 000 Fig. 8)")
    text += (f"darts_large's search network with {dict(overrides)}, one first-order DARTS "
             f"search step at batch {batch}, median of {repeats} on CPU. Candidates: "
             f"{', '.join(BASE)}, then {', '.join(GROWING)} in this order.\n\n")
    text += "## Slopes (least squares, per added candidate)\n\n" + markdown_table(
        ["supernet", "MiB / candidate", "of naive", "seconds / candidate", "of naive"],
        [[label, f"{m:.2f}", f"{100 * m / naive_memory:.1f}%", f"{t:.3f}",
          f"{100 * t / naive_time:.1f}%"] for label, (m, t) in slopes.items()])
    text += "\n## Figures\n\n" + markdown_table(
        ["candidates", *(f"{label} MiB / s" for label in figures)],
        [[size, *(f"{figures[label][i][1]:.1f} / {figures[label][i][2]:.2f}"
                  for label in figures)] for i, size in enumerate(sizes)])
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, rows in figures.items():
        axes[0].plot(sizes, [f[1] for f in rows], marker="o", label=label)
        axes[1].plot(sizes, [f[2] for f in rows], marker="o", label=label)
    axes[0].set_ylabel("activation MiB per step")
    axes[1].set_ylabel("seconds per step (CPU)")
    for ax in axes:
        ax.set_xlabel("candidates per edge")
        ax.legend(fontsize=7)
    write(args.out, "scaling", text, figure)


if __name__ == "__main__":
    main()
