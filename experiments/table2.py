"""Seed 000 Table 2: conv and non-conv module computations of the DARTS edge after each
stage of simplification (original, + PMS, + FMS, + reparameterization), as the plans count
them, for every distinct searchable edge of spaces/darts.nas.

    python experiments/table2.py
"""

from __future__ import annotations

from common import SPACES, arguments, header, markdown_table, pyplot, write

from nasdsl.dsl.elaborate import load
from nasdsl.simplify.compiler import count_modules, simplify
from nasdsl.simplify.explain import edge_kinds

STAGES = (("original", ()), ("+ partial module sharing", ("pms",)),
          ("+ floating module sharing", ("pms", "fms")),
          ("+ reparameterization", ("pms", "fms", "reparam")))
PAPER = {"original": (6, 16, 22), "+ partial module sharing": (6, 8, 14),
         "+ floating module sharing": (6, 6, 12), "+ reparameterization": (3, 6, 9)}


def main() -> None:
    parser = arguments(__doc__)
    args = parser.parse_args()
    space = load(SPACES / "darts.nas")
    text = header("Module computations of the DARTS edge (seed 000 Table 2)")
    text += ("Counted in the plans as the Table 2 convention counts them (a conv followed by "
             "its BN counts as one conv computation; see the README). The paper's figures "
             "are for the normal edge with the pools' BNs.\n\n")
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7, 3.5))
    for kind in edge_kinds(space):
        candidates = kind.edges[0].candidates
        counts = []
        for label, rules in STAGES:
            count = count_modules(simplify(candidates, rules).root)
            counts.append((label, count.conv, count.other, count.conv + count.other))
        text += f"## {kind.title}\n\n" + markdown_table(
            ["stage", "conv", "non-conv", "total", "paper (conv / non-conv / total)"],
            [[*row, " / ".join(map(str, PAPER[row[0]]))] for row in counts]) + "\n"
        short = f"{kind.cell.kind.name} edge, stride {kind.edges[0].stride}"
        axes.plot([row[0].replace("+ ", "+\n") for row in counts], [row[3] for row in counts],
                  marker="o", label=short)
    axes.plot([label.replace("+ ", "+\n") for label, _ in STAGES],
              [PAPER[label][2] for label, _ in STAGES], "k--", label="paper, Table 2")
    axes.set_ylabel("module computations per edge")
    axes.legend(fontsize=7)
    write(args.out, "table2", text, figure)


if __name__ == "__main__":
    main()
