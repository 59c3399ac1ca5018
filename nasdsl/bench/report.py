"""A benchmark's rows as the terminal table, JSON and CSV, each figure beside its ratio to the
naive supernet of the same method measured in the same run, and the normalized cost of seed
000 Eq. 29, C = (M / M_min + T / T_min) / 2 over all rows: M the memory (CUDA peak where
measured, else the activation bytes), T the step time (CUDA-event time where measured)."""

from __future__ import annotations

import csv
import io
import json

import attrs

from nasdsl.bench.measure import Row, Settings

MIB = 2**20


def memory(row: Row) -> int:
    return row.peak_cuda_bytes if row.peak_cuda_bytes is not None else row.activation_bytes


def seconds(row: Row) -> float:
    return row.cuda_seconds if row.cuda_seconds is not None else row.step_seconds


def records(rows: list[Row]) -> list[dict]:
    """Each row's figures with its ratios to its method's naive row and its normalized cost."""
    naive = {row.method: row for row in rows if row.variant == "naive"}
    least_memory = min(memory(row) for row in rows)
    least_time = min(seconds(row) for row in rows)
    out = []
    for row in rows:
        base = naive.get(row.method)
        record = attrs.asdict(row)
        record.update({
            "activation_mib": round(row.activation_bytes / MIB, 2),
            "gflops": None if row.flops is None else round(row.flops / 1e9, 3),
            "normalized_cost": round((memory(row) / least_memory
                                      + seconds(row) / least_time) / 2, 3)})
        if row.peak_cuda_bytes is not None:
            record["peak_cuda_mib"] = round(row.peak_cuda_bytes / MIB, 1)
        if base is not None:
            record.update({
                "activation_ratio": round(row.activation_bytes / base.activation_bytes, 3),
                "time_ratio": round(row.step_seconds / base.step_seconds, 3)})
            if row.flops is not None:
                record["flops_ratio"] = round(row.flops / base.flops, 3)
            if row.peak_cuda_bytes is not None:
                record["peak_cuda_ratio"] = round(row.peak_cuda_bytes / base.peak_cuda_bytes, 3)
                record["cuda_time_ratio"] = round(row.cuda_seconds / base.cuda_seconds, 3)
        out.append(record)
    return out


def to_json(settings: Settings, machine: str, rows: list[Row]) -> str:
    return json.dumps({"settings": attrs.asdict(settings), "machine": machine,
                       "rows": records(rows)}, indent=2) + "\n"


def to_csv(rows: list[Row]) -> str:
    table = records(rows)
    fields = list(dict.fromkeys(key for record in table for key in record))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()


def table(settings: Settings, machine: str, rows: list[Row]) -> str:
    cuda = any(row.peak_cuda_bytes is not None for row in rows)
    width = max(14, *(len(row.variant) + 1 for row in rows))  # "simplified+kn bf16*"
    lines = [f"{settings.space}: one search step at batch {settings.batch}, "
             f"{settings.image[0]}x{settings.image[1]}x{settings.image[1]} input, "
             f"median of {settings.repeats} on {settings.device} ({machine})",
             f"{'method':<16} {'supernet':<{width}} {'weights':>10} {'activations MiB':>17} "
             f"{'GFLOP':>15} {'step s':>14}" + (f" {'CUDA peak MiB':>17} {'CUDA s':>14}"
                                                  if cuda else "") + f" {'cost':>6}"]
    for record in records(rows):
        variant = record["variant"] + ("*" if _kept_naive(record) else "")
        line = (f"{record['method']:<16} {variant:<{width}} {record['weights']:>10,} "
                f"{_cell(record, 'activation_mib', ',.1f', 'activation_ratio', 17)} "
                f"{_cell(record, 'gflops', ',.2f', 'flops_ratio', 15)} "
                f"{_cell(record, 'step_seconds', '.3f', 'time_ratio', 14)}")
        if cuda:
            line += (f" {_cell(record, 'peak_cuda_mib', ',.1f', 'peak_cuda_ratio', 17)}"
                     f" {_cell(record, 'cuda_seconds', '.4f', 'cuda_time_ratio', 14)}")
        lines.append(line + f" {record['normalized_cost']:>6.2f}")
    lines.append("ratios: to the naive supernet of the same method in this run; cost: seed 000 "
                 "Eq. 29 over these rows")
    if any(_kept_naive(record) for record in records(rows)):
        lines.append("*: the method runs one sampled candidate per edge, so the cost model keeps "
                     "its naive supernet")
    return "\n".join(lines) + "\n"


def _kept_naive(record: dict) -> bool:
    return record["single_path"] and record["variant"].startswith("simplified")


def _cell(record: dict, key: str, form: str, ratio: str, width: int) -> str:
    """A figure and its ratio to naive (blank on the naive row itself)."""
    if record[key] is None:
        return "-".rjust(width)
    shown = f"x{record[ratio]:.2f}" if ratio in record else ""
    return f"{record[key]:{form}} {shown:>5}".rjust(width)
