"""Seed 000 Table 6 on spaces/darts_large.nas (15 candidates: 5 separable dilated and 7
double-stacked separable convs): one DARTS search step of the naive supernet, with PMS
only, FMS only, both, both + reparameterization, and the cost model's own choices —
activation memory, FLOPs, step time and the normalized cost of Eq. 29 over these rows.

    python experiments/ablation.py            # batch 8, 3 repeats: about 10 minutes on 2 cores
"""

from __future__ import annotations

from common import SPACES, arguments, header, markdown_table, pyplot, ratio, write

from nasdsl.bench.measure import NAIVE, SIMPLIFIED, Settings, measure
from nasdsl.bench.report import records

ROWS = (("DARTS (naive)", None, "time", NAIVE),
        ("+ PMS", "pms", "time", SIMPLIFIED),
        ("+ FMS", "fms", "time", SIMPLIFIED),
        ("+ both", "pms,fms", "time", SIMPLIFIED),
        ("+ both + reparameterization", "pms,fms,reparam", "time", SIMPLIFIED),
        ("cost model, cost objective (default)", None, "cost", SIMPLIFIED),
        ("cost model, time objective", None, "time", SIMPLIFIED),
        ("cost model, memory objective", None, "memory", SIMPLIFIED))
PAPER = {"DARTS (naive)": "23498 MiB, 24.42 h, 2.37", "+ PMS": "-33%, -3%, 1.84",
         "+ FMS": "-48%, -40%, 1.31", "+ both": "-67%, -40%, 1.00"}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    overrides = (("C", 4), ("N", 1)) if args.quick else ()
    batch, repeats = (2, 1) if args.quick else (args.batch, args.repeats)
    rows = []
    for label, rewrites, objective, variant in ROWS:
        settings = Settings(space=str(SPACES / "darts_large.nas"), methods=("darts",),
                            batch=batch, repeats=repeats, rewrites=rewrites,
                            objective=objective, overrides=overrides)
        print(f"measuring {label} ...", flush=True)
        rows.append(measure(settings, "darts", variant)[0])
    table = records(rows)
    naive = table[0]
    text = header("Simplification ablation on darts_large.nas (seed 000 Table 6)")
    text += (f"One first-order DARTS search step (architecture step + weight step) at batch "
             f"{batch}, 3x32x32 input, 10 classes, median of {repeats} on CPU. Ratios against "
             "the naive row; normalized cost is Eq. 29 over these rows. The paper's figures "
             "(RTX 3090, whole searches) are memory, time and cost.\n\n")
    text += markdown_table(
        ["supernet", "activations MiB", "GFLOP", "step s", "normalized cost", "paper"],
        [[label, _with_ratio(r, naive, "activation_mib", "activation_bytes", ",.1f"),
          _with_ratio(r, naive, "gflops", "flops", ",.1f"),
          _with_ratio(r, naive, "step_seconds", "step_seconds", ".2f"),
          f"{r['normalized_cost']:.2f}", PAPER.get(label, "")]
         for (label, *_), r in zip(ROWS, table)])
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = [label.replace(" + ", "+\n").replace(", ", ",\n") for label, *_ in ROWS]
    axes[0].bar(labels, [r["activation_mib"] for r in table], color="tab:blue")
    axes[0].set_ylabel("activation MiB per step")
    axes[1].bar(labels, [r["step_seconds"] for r in table], color="tab:orange")
    axes[1].set_ylabel("seconds per step (CPU)")
    for ax in axes:
        ax.tick_params(axis="x", labelsize=6, labelrotation=30)
    write(args.out, "ablation", text, figure)


def _with_ratio(record: dict, naive: dict, shown: str, exact: str, form: str) -> str:
    return f"{record[shown]:{form}} ({ratio(record[exact], naive[exact])})"


if __name__ == "__main__":
    main()
