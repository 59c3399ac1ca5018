"""The scripts in experiments/ run and write their markdown and PNG files (tiny settings:
the figures are not checked, only that each script works end to end)."""

import subprocess
import sys

import pytest

from tests.paths import ROOT

SCRIPTS = ROOT / "experiments"


def run_script(name: str, out, *extra: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), "--out", str(out),
                           *extra], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    return (out / f"{name}.md").read_text()


def test_table2_script_reproduces_the_paper_row_for_the_normal_edge(tmp_path):
    """table2.py writes the module counts 6/16/22 -> 6/8/14 -> 6/6/12 -> 3/6/9 of the normal
    edge beside the paper's, and a plot."""
    text = run_script("table2", tmp_path)
    normal = text.split("## cell normal")[1].split("## ")[0]
    for row in ("| original | 6 | 16 | 22 |", "| + partial module sharing | 6 | 8 | 14 |",
                "| + floating module sharing | 6 | 6 | 12 |",
                "| + reparameterization | 3 | 6 | 9 |"):
        assert row in normal
    assert (tmp_path / "table2.png").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.parametrize("name, extra", [
    ("ablation", ()), ("scaling", ()), ("single_path", ()), ("parity", ()), ("contributions", ()),
    ("spaces", ("--methods", "darts,gdas")), ("methods", ()), ("calibrate", ()), ("macro", ()),
    ("proxy_nb201", ("--methods", "darts,random-ws")), ("compile_cpu", ()), ("frontier", ()),
    ("gpu_check", ("--device", "cpu"))])
def test_script_runs(tmp_path, name, extra):
    """Each benchmark script runs in its quick mode and writes its markdown (with the machine
    and the command) and, where it plots, a PNG."""
    text = run_script(name, tmp_path, "--quick", *extra)
    assert text.startswith("# ") and "Made by `python" in text and "|---|" in text
    if name not in ("parity", "contributions", "methods", "calibrate", "macro", "proxy_nb201",
                    "compile_cpu", "gpu_check"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
