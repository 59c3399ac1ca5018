"""Fit the cost model's throughputs (nasdsl/simplify/cost.py DEVICES["cpu"], or "cuda" with
--device cuda) to this machine:
time forward + backward of every alternative plan of every distinct edge of the shipped
spaces, and solve by least squares on relative error for the five figures the model's time
is linear in (seconds per dense FLOP, per depthwise FLOP, per byte of elementwise traffic,
per layer launched, per branch recomputed in backward). Prints the fitted figures, the
model's median error with them and with the ones in cost.py, and how often each picks the
fastest plan of an edge.

    python experiments/calibrate.py           # about a minute on 2 cores
    python experiments/calibrate.py --device cuda   # the GPU's figures
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from common import SPACES, arguments, header, markdown_table, write

from nasdsl.backends.torch.edge import PlanEdge
from nasdsl.backends.torch.network import resolve_device
from nasdsl.dsl.elaborate import load
from nasdsl.simplify.compiler import alternatives, edge_site
from nasdsl.simplify.cost import DEVICES, Device, Setting, plan_cost

SPACES_AND_BATCHES = (("nb201", 32), ("darts", 16), ("darts_large", 8))
INFINITE = 1e30


def unit_device(figure: int) -> Device:
    """Figure `figure` at one unit (1 FLOP/s, 1 byte/s, 1 s per layer or recomputed branch),
    every other figure free: a plan's estimated seconds on it count that figure's units."""
    figures = [INFINITE, INFINITE, INFINITE, 0.0, 0.0]
    figures[figure] = 1.0
    return Device(*figures)


def seconds(edge: PlanEdge, x: torch.Tensor, w: torch.Tensor, repeats: int) -> float:
    cuda = x.device.type == "cuda"
    times = []
    for _ in range(repeats + 1):  # the first run warms up
        if cuda:
            torch.cuda.synchronize(x.device)
        began = time.perf_counter()
        edge(x, w).sum().backward()
        if cuda:
            torch.cuda.synchronize(x.device)
        times.append(time.perf_counter() - began)
    return statistics.median(times[1:])


def measure(quick: bool, device: torch.device) -> tuple[np.ndarray, np.ndarray, list[str]]:
    features, measured, edges = [], [], []
    for name, batch in SPACES_AND_BATCHES[:1] if quick else SPACES_AND_BATCHES:
        overrides = {"classes": 10, **({"C": 4, "N": 1} if quick else {})}
        batch = 2 if quick else batch
        space = load(SPACES / f"{name}.nas", overrides=overrides)
        seen = set()
        for cell in space.network.cells:
            for edge in cell.edges:
                site = edge_site(cell, edge)
                if site in seen:
                    continue
                seen.add(site)
                channels, size = site.channels, site.size
                print(f"timing {name}, {channels} channels at {size}x{size}, "
                      f"stride {edge.stride} ...", flush=True)
                setting = Setting(batch=batch, size=size, target=device.type)
                x = torch.randn(batch, channels, size, size, device=device, requires_grad=True)
                w = torch.softmax(torch.randn(len(edge.candidates), device=device),
                                  0).requires_grad_()
                for plan in alternatives(edge.candidates):
                    features.append([plan_cost(plan, channels, setting,
                                               unit_device(figure)).seconds
                                     for figure in range(5)])
                    measured.append(seconds(PlanEdge(edge.candidates, plan).to(device), x, w,
                                            1 if quick else 3))
                    edges.append(f"{name} {channels}x{size} s{edge.stride}")
    return np.array(features), np.array(measured), edges


def fit(features: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Seconds per unit of each feature, least squares on relative error (each row divided
    by its measured time), clipped at zero for figures the data cannot see."""
    scaled = features / measured[:, None]
    coefficients, *_ = np.linalg.lstsq(scaled, np.ones(len(measured)), rcond=None)
    return np.clip(coefficients, 0.0, None)


def as_coefficients(device: Device) -> np.ndarray:
    return np.array([1 / device.dense_flops, 1 / device.depthwise_flops, 1 / device.bandwidth,
                     device.overhead, device.recompute_overhead])


def quality(coefficients, features, measured, edges) -> tuple[float, float]:
    """Median relative error, and the mean over edges of (time of the plan the model picks /
    time of the fastest plan)."""
    predicted = features @ coefficients
    error = statistics.median(abs(predicted / measured - 1))
    regret = []
    for edge in dict.fromkeys(edges):
        rows = [i for i, e in enumerate(edges) if e == edge]
        picked = min(rows, key=lambda i: predicted[i])
        regret.append(measured[picked] / min(measured[i] for i in rows))
    return error, statistics.mean(regret)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    features, measured, edges = measure(args.quick, device)
    fitted = fit(features, measured)
    shipped = as_coefficients(DEVICES[device.type])
    rows = []
    for label, coefficients in (("in cost.py", shipped), ("fitted here", fitted)):
        error, regret = quality(coefficients, features, measured, edges)
        dense, depthwise, bandwidth, overhead, recompute = coefficients
        rows.append([label, _rate(dense, 1e9), _rate(depthwise, 1e9), _rate(bandwidth, 1e9),
                     f"{overhead * 1e6:.0f}", f"{recompute * 1e3:.2f}", f"{error:.0%}",
                     f"x{regret:.3f}"])
    text = header(f"Calibration of the cost model's {device.type.upper()} throughputs")
    text += (f"Forward + backward of {len(measured)} plans ({len(set(edges))} distinct edges), "
             "median of 3 runs each (1 with --quick); plans are every alternative the chooser "
             "compares. "
             "Pick/best: mean over edges of the measured time of the plan the model ranks "
             "fastest over the fastest plan's.\n\n")
    text += markdown_table(["figures", "dense GFLOP/s", "depthwise GFLOP/s", "elementwise GB/s",
                            "us per layer", "ms per recomputed branch", "median error",
                            "pick / best"], rows)
    write(args.out, "calibrate", text)


def _rate(seconds_per_unit: float, scale: float) -> str:
    return "inf" if seconds_per_unit == 0 else f"{1 / seconds_per_unit / scale:,.1f}"


if __name__ == "__main__":
    main()
