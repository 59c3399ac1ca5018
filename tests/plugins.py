"""Installing a plugin the way `pip install` leaves it (a module and its dist-info with an
entry point) in a directory of its own, and running nasdsl in a process that sees it."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_example(heading: str) -> str:
    """The first Python block of the README's section `heading`."""
    section = (ROOT / "README.md").read_text().split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def install(site: Path, module: str, source: str, group: str, entry: str) -> Path:
    """`source` as module `module` of a distribution installed under `site`, declaring
    `entry` in the entry-point group `group`."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
    return site


def python(site: Path, code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -c code args` in `cwd`, with the plugin's site and this checkout importable."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def nasdsl(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The nasdsl command line, as `python` runs code."""
    return python(site, "import sys; from nasdsl.cli import main; sys.exit(main())", *args,
                  cwd=cwd)
