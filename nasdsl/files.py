"""Files written atomically: a kill leaves the previous version of a file, never half of one.

A file is written to a temporary beside it (named `.NAME.XXXX`, so that `temporaries` finds
what a kill left behind) and moved over it once complete. Files get the permissions the
user's umask gives new files, not the owner-only mode of temporary files.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `path` by `write(file)` on a temporary beside it, then move it into place."""
    path = Path(path)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.",
                                     delete=False) as file:
        try:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        except BaseException:
            file.close()
            os.unlink(file.name)
            raise
    os.chmod(file.name, 0o666 & ~_umask())
    os.replace(file.name, path)


def write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def write_json(path: Path, value) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def temporaries(directory: Path, name: str) -> Iterator[Path]:
    """The temporaries that writes of `directory/name` interrupted by a kill left behind."""
    return Path(directory).glob(f".{name}.*")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
