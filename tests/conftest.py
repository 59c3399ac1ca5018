"""Shared fixtures: where the project's files are."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPACES = ROOT / "spaces"
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture
def spaces_dir() -> Path:
    return SPACES
