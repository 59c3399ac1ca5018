"""The efficiency targets of issue 6 on every shipped space: for each method, one search step
of the naive supernet and of the simplified one the cost model chooses (cost objective, the
default of `nasdsl run`), activation memory and step time as ratios to naive, beside the
targets (memory: nb201 <= 0.75, darts <= 0.40, darts_large <= 0.25; time <= 1.00 on CPU
everywhere, <= 0.70 on darts_large).

    python experiments/spaces.py              # all spaces, the methods of issue 6
    python experiments/spaces.py --spaces darts --methods darts,gdas
"""

from __future__ import annotations

from common import SPACES, arguments, header, markdown_table, pyplot, write

from nasdsl.bench.measure import NAIVE, SIMPLIFIED, Settings, measure
from nasdsl.bench.report import records
from nasdsl.methods import method_names

# space: (batch, memory target, time target). nb201 runs at its search batch (64); darts and
# darts_large below theirs to keep the CPU run under 15 minutes. Smaller batches make the
# simplified side look worse: parameter-sized tensors (merged kernels) and per-layer
# overheads weigh more against activations and compute that scale with the batch.
TARGETS = {"nb201": (64, 0.75, 1.00), "darts": (16, 0.40, 1.00), "darts_large": (8, 0.25, 0.70)}
METHODS = ("darts", "beta-darts", "pc-darts", "gdas")


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--spaces", default=",".join(TARGETS))
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"any of {', '.join(method_names())}")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    spaces = args.spaces.split(",")
    methods = args.methods.split(",")
    table, plotted = [], {}
    for space in spaces:
        batch, memory_target, time_target = TARGETS[space]
        overrides = (("C", 4), ("N", 1)) if args.quick else ()
        batch, repeats = (2, 1) if args.quick else (batch, args.repeats)
        for method in methods:
            settings = Settings(space=str(SPACES / f"{space}.nas"), methods=(method,),
                                batch=batch, repeats=repeats, overrides=overrides,
                                count_flops=False)
            rows, prepared = [], None
            for variant in (NAIVE, SIMPLIFIED):
                print(f"measuring {space}, {method}, {variant.label} ...", flush=True)
                row, prepared = measure(settings, method, variant, prepared)
                rows.append(row)
            naive, simple = records(rows)
            memory, seconds = simple["activation_ratio"], simple["time_ratio"]
            plotted[(space, method)] = (memory, seconds)
            memory_status = ("n/a: one sampled path, naive kept" if simple["single_path"] else
                             f"{'met' if memory <= memory_target else 'MISSED'} "
                             f"(<= {memory_target})")
            table.append([f"{space}.nas", method, batch, f"{naive['activation_mib']:,.1f}",
                          f"{simple['activation_mib']:,.1f}", f"x{memory:.2f} {memory_status}",
                          f"{naive['step_seconds']:.2f} / {simple['step_seconds']:.2f}",
                          f"x{seconds:.2f} {'met' if seconds <= time_target else 'MISSED'} "
                          f"(<= {time_target})"])
    text = header("Targets: simplified against naive on the shipped spaces")
    text += ("One search step (architecture step and weight step, as the method takes them) "
             f"on random data, median of {repeats} on CPU, 10 classes, 3x32x32 input; the "
             "simplified supernet is the cost model's choice (cost objective, seed 000 "
             "Eq. 29). Memory targets apply to methods that mix candidates: a single-path "
             "method runs one candidate per edge and keeps the naive supernet.\n\n")
    text += markdown_table(["space", "method", "batch", "naive MiB", "simplified MiB",
                            "memory ratio", "step s naive / simplified", "time ratio"], table)
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    for (space, method), (memory, seconds) in plotted.items():
        axes.scatter(memory, seconds, label=f"{space} {method}")
    axes.axvline(0.40, color="gray", linestyle=":")
    axes.axhline(1.00, color="gray", linestyle=":")
    axes.set_xlabel("activation memory, simplified / naive")
    axes.set_ylabel("step time, simplified / naive")
    axes.legend(fontsize=6, ncol=2)
    write(args.out, "spaces", text, figure)


if __name__ == "__main__":
    main()
