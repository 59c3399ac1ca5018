"""Fetching a dataset's canonical archive: download with a progress bar, check its MD5,
extract. A failure (offline, a bad checksum) is a NasError whose hint, from the caller, says
how to use local files instead."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path
from urllib.request import urlopen

import attrs
from tqdm import tqdm

from nasdsl.errors import NasError
from nasdsl.files import write_atomically

_CHUNK = 1 << 20


@attrs.frozen
class Archive:
    url: str
    md5: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def fetch(archive: Archive, dest: Path, what: str, hint: str) -> None:
    """Extract `archive` into `dest`, downloading it first unless a copy with the right
    checksum is already there (a user may have fetched it by hand)."""
    path = dest / archive.filename
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NasError(f"cannot create the data directory {dest} ({error.strerror})",
                       hint=hint) from None
    if not (path.is_file() and _md5(path) == archive.md5):
        _download(archive, path, what, hint)
    try:
        with tarfile.open(path) as tar:
            # The 'data' filter refuses members that would land outside dest.
            tar.extractall(dest, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    except (tarfile.TarError, OSError) as error:
        raise NasError(f"cannot extract {path} ({error})", hint=hint) from None


def _download(archive: Archive, path: Path, what: str, hint: str) -> None:
    # Written atomically and checked before it is moved into place, so a killed or corrupt
    # download never leaves something that looks like the archive.
    def fetch(out) -> None:
        digest = hashlib.md5()
        try:
            with urlopen(archive.url, timeout=60) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=f"downloading {archive.filename}", disable=None) as bar:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        except OSError as error:  # URLError, HTTPError and timeouts are OSErrors
            reason = getattr(error, "reason", None) or error
            raise NasError(f"cannot download {what} from {archive.url} ({reason})",
                           hint=hint) from None
        if digest.hexdigest() != archive.md5:
            raise NasError(f"the download of {archive.url} is corrupt: MD5 "
                           f"{digest.hexdigest()}, expected {archive.md5}", hint=hint)

    write_atomically(path, fetch)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def default_data_dir() -> Path:
    """Where downloads go without --data-dir: the user's cache, shared by all runs."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "nasdsl" / "data"
