"""A run directory: resolved configuration, per-epoch log, checkpoint, results, all written
atomically (a kill leaves the previous version of a file, never half of one)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import attrs
import torch

CONFIG, LOG, CHECKPOINT, RESULT, DERIVED = ("config.json", "log.jsonl", "checkpoint.pt",
                                            "result.json", "derived.nas")


def write_atomically(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


def write_text(path: Path, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


def write_json(path: Path, value) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def write_log(run_dir: Path, entries: list[dict]) -> None:
    write_text(run_dir / LOG, "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))


def read_log(run_dir: Path) -> list[dict]:
    path = run_dir / LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def save_checkpoint(run_dir: Path, state: dict) -> None:
    with tempfile.NamedTemporaryFile(dir=run_dir, prefix=f".{CHECKPOINT}.", delete=False) as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, run_dir / CHECKPOINT)


def load_checkpoint(run_dir: Path) -> dict | None:
    path = run_dir / CHECKPOINT
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def config_to_json(config) -> dict:
    return attrs.asdict(config, recurse=True)
