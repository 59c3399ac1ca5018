"""The GPU check: on a machine with one CUDA GPU, in about 8 minutes, everything the project
can only measure there, written to one markdown file (gpu_check.md).

    python experiments/gpu_check.py            # needs CUDA
    python experiments/gpu_check.py --quick --device cpu   # the same steps, tiny, on the CPU

1. The tests marked `cuda` (tests/backends/test_cuda.py): every shipped space's simplified
   supernet vertex-exact on the device (float64), searches in fp32, bf16 and fp16, kill and
   resume on the device.
2. `nasdsl bench` on nb201.nas (C=16, N=5, batch 64) and darts.nas (C=16, 8 cells, batch
   32), DARTS, naive against simplified, in fp32 and bf16: activation MiB saved for
   backward, the allocator's peak, CUDA-event step time, each as a ratio to the naive fp32
   supernet.
3. The cost model's calibration on the device (experiments/calibrate.py --device cuda):
   the throughputs in nasdsl/simplify/cost.py against those fitted to this GPU.
Each step has a time limit; a step that fails or runs out of time is reported as such and
the others still run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, SPACES, arguments, header, markdown_table, write

BENCHES = (("nb201", (), 64), ("darts", (), 32))
QUICK_BENCHES = (("nb201", ("--set", "C=4", "--set", "N=1"), 4),)


def run(command: list[str], limit: int) -> tuple[int | None, str, float]:
    """(exit status or None when out of time, the output's tail, seconds)."""
    began = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=limit)
        status, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        status, output = None, (expired.stdout or b"").decode(errors="replace") \
            if isinstance(expired.stdout, bytes) else (expired.stdout or "")
    return status, output[-3000:], time.perf_counter() - began


def outcome(status: int | None, seconds: float) -> str:
    what = "ran out of time" if status is None else "passed" if status == 0 else \
        f"failed (exit {status})"
    return f"{what} in {seconds:.0f} s"


def tests_section(device: str) -> str:
    status, output, seconds = run([sys.executable, "-m", "pytest", "-q", "-m", "cuda",
                                   "-p", "no:cacheprovider", "tests/backends/test_cuda.py"], 240)
    summary = next((line for line in reversed(output.splitlines()) if line.strip()), "")
    return (f"## Tests marked cuda\n\n`pytest -m cuda tests/backends/test_cuda.py` "
            f"{outcome(status, seconds)}: {summary}\n\n"
            + ("" if status == 0 else f"```\n{output[-2000:]}\n```\n\n"))


def bench_section(device: str, quick: bool, out: Path) -> str:
    text = "## nasdsl bench: naive against simplified, fp32 and bf16\n\n"
    for space, overrides, batch in QUICK_BENCHES if quick else BENCHES:
        path = out / f"bench_{space}.json"
        status, output, seconds = run([
            sys.executable, "-m", "nasdsl", "bench", str(SPACES / f"{space}.nas"),
            "--methods", "darts", "--device", device, "--precision", "fp32,bf16",
            "--kernel-norm", "off", "--no-flops", "--batch", str(batch), "--repeats", "5",
            *overrides, "--json", str(path)], 150)
        text += f"### {space}.nas, batch {batch}: {outcome(status, seconds)}\n\n"
        if status != 0:
            text += f"```\n{output[-2000:]}\n```\n\n"
            continue
        rows = json.loads(path.read_text())["rows"]
        text += markdown_table(
            ["supernet", "activations MiB", "ratio", "CUDA peak MiB", "ratio", "step ms",
             "ratio"],
            [[r["variant"], f"{r['activation_mib']:,.1f}", f"x{r['activation_ratio']:.2f}",
              _figure(r.get("peak_cuda_mib"), "{:,.1f}"), _figure(r.get("peak_cuda_ratio"), "x{:.2f}"),
              f"{1000 * (r['cuda_seconds'] or r['step_seconds']):.1f}",
              _figure(r.get("cuda_time_ratio", r.get("time_ratio")), "x{:.2f}")]
             for r in rows]) + "\n"
    return text


def calibration_section(device: str, quick: bool, out: Path) -> str:
    status, output, seconds = run([sys.executable, "experiments/calibrate.py", "--device",
                                   device, "--out", str(out), *(["--quick"] if quick else [])],
                                  150)
    text = f"## The cost model's calibration on {device}: {outcome(status, seconds)}\n\n"
    if status != 0:
        return text + f"```\n{output[-2000:]}\n```\n\n"
    table = (out / "calibrate.md").read_text()
    return text + table[table.index("Forward"):] + "\n"


def _figure(value, form: str) -> str:
    return "-" if value is None else form.format(value)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu with --quick")
    args = parser.parse_args()
    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("gpu_check.py measures a CUDA GPU, and this machine has none "
                 "(--quick --device cpu runs its steps on the CPU)")
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else "the CPU"
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        text = header(f"GPU check on {where}")
        text += tests_section(args.device)
        text += bench_section(args.device, args.quick, scratch)
        text += calibration_section(args.device, args.quick, scratch)
    write(args.out, "gpu_check", text)


if __name__ == "__main__":
    main()
