"""What the benchmark scripts share: where results go, markdown tables, plots, the header
that says which machine and command made a figure."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPACES = ROOT / "spaces"
RESULTS = Path(__file__).resolve().parent / "results"


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="where the markdown and PNG files go (default experiments/results)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny settings: checks that the script runs, figures mean nothing")
    return parser


def header(title: str) -> str:
    """A title, the command that made the file, the machine and the date."""
    from nasdsl.bench.measure import machine
    command = "python " + " ".join([str(Path(sys.argv[0]).relative_to(ROOT))
                                    if Path(sys.argv[0]).is_absolute() else sys.argv[0],
                                    *sys.argv[1:]])
    return (f"# {title}\n\nMade by `{command}` on {machine('cpu')}, "
            f"{time.strftime('%Y-%m-%d')}.\n\n")


def markdown_table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def pyplot():
    """matplotlib's pyplot, drawing to files only."""
    try:
        import matplotlib
    except ImportError:
        sys.exit("the benchmark scripts draw their plots with matplotlib: "
                 "pip install -e '.[bench]'")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def write(out: Path, name: str, text: str, figure=None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(text)
    if figure is not None:
        figure.savefig(out / f"{name}.png", dpi=120, bbox_inches="tight")
    print(text)
    print(f"written: {out / (name + '.md')}" + (f", {out / (name + '.png')}" if figure else ""))


def ratio(value: float, base: float) -> str:
    return f"x{value / base:.2f}"
