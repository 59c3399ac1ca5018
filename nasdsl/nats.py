"""The NATS-Bench topology archive as a lazy NAS-Bench-201 table (see nasdsl/nb201.py).

NATS-Bench's topology search space is NAS-Bench-201's: the same 15,625 cells and arch strings,
trained on the same datasets and splits, 200 epochs among its settings (the figures nasdsl
reports). Its "fast mode" archive, NATS-tss-v1_0-3ffb9-simple (unpacked from
NATS-tss-v1_0-3ffb9-simple.tar), is a directory: meta.pickle.pbz2 lists the arch strings, and
000000.pickle.pbz2 ... 015624.pickle.pbz2 hold one architecture's results each (bz2-compressed
pickles; the `nats_bench` package also accepts unpadded names such as 7.pickle.pbz2). The
package reads it, `create(path, 'tss', fast_mode=True)`, which loads the meta file only; an
architecture's file is read when it is first looked up. The files are pickles, unpickled in
full by the package: open only an archive from a trusted source, such as the official
download.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator, Mapping
from pathlib import Path

from nasdsl.architecture.derive import from_nb201
from nasdsl.errors import NasError
from nasdsl.nb201 import Figures, queried_figures

META = "meta.pickle.pbz2"
SUFFIX = ".pickle.pbz2"
ARCHIVE_HINT = ("a NATS-Bench topology archive is a directory such as "
                f"NATS-tss-v1_0-3ffb9-simple, holding {META} and a file per architecture "
                f"(000000{SUFFIX}, ...); other benchmarks are files: a NAS-Bench-201 CSV table "
                "or the official .pth")

# How nats_bench and bz2 report a file that is not what the archive holds: asserts and
# ValueErrors of the package, bare KeyErrors from missing entries, bz2 and unpickling errors.
_UNREADABLE = (AssertionError, AttributeError, EOFError, IndexError, KeyError, TypeError,
               ValueError, OSError, pickle.UnpicklingError)


def is_archive(path: Path) -> bool:
    """Whether `path` is a directory in the archive's layout (its meta file, at least)."""
    return path.is_dir() and (path / META).is_file()


def open_archive(path: Path) -> Archive:
    """The archive at `path` (a directory `is_archive` accepts), its list of architectures
    read and checked; no architecture's file is read yet."""
    try:
        from nats_bench import create
    except ImportError:
        raise NasError(f"reading the NATS-Bench archive {path} needs the nats_bench package",
                       hint="pip install nats_bench (nasdsl's `nats` extra)") from None
    try:
        api = create(str(path), "tss", fast_mode=True, verbose=False)
    except _UNREADABLE as error:
        raise NasError("cannot read the NATS-Bench archive's list of architectures, "
                       f"{path / META}: {error}", hint=ARCHIVE_HINT) from None
    archs = api.meta_archs
    if not isinstance(archs, list) or not all(isinstance(arch, str) for arch in archs):
        raise NasError(f"{path / META} does not list arch strings", hint=ARCHIVE_HINT)
    if not archs:
        raise NasError(f"the NATS-Bench archive {path} lists no architectures")
    try:
        from_nb201(archs[0])  # one space per archive: its first arch string stands for all
    except NasError:
        raise NasError(f"{path} is not a NATS-Bench topology archive: its architectures are "
                       f"not NAS-Bench-201 cells (e.g. {archs[0]!r})",
                       hint="the size search space's archive (NATS-sss-...) has no cells to "
                            "look up; give NATS-tss-v1_0-3ffb9-simple") from None
    _check_files(path, len(archs))
    return Archive(path, api)


def single_file_error(path: Path) -> NasError:
    """Why NATS-Bench's single file is not read, and what to give instead."""
    return NasError(f"the NATS-Bench single file {path} is not read: nats_bench unpickles it "
                    "whole, every architecture at once",
                    hint="give the fast-mode archive instead, the directory "
                         "NATS-tss-v1_0-3ffb9-simple (from NATS-tss-v1_0-3ffb9-simple.tar), "
                         "read an architecture at a time")


def _check_files(path: Path, count: int) -> None:
    # a lookup comes after the search: a partly unpacked archive is found before it
    names = set(os.listdir(path))
    missing = [index for index in range(count)
               if f"{index:06d}{SUFFIX}" not in names and f"{index}{SUFFIX}" not in names]
    if missing:
        raise NasError(f"the NATS-Bench archive {path} lists {count} architectures and lacks the "
                       f"files of {len(missing)} (the first: {missing[0]:06d}{SUFFIX})",
                       hint="unpack the archive's .tar again, completely")


class Archive(Mapping[str, Figures]):
    """The archive's figures by arch string. Keys cost nothing; a value reads that
    architecture's file (nats_bench keeps it for the next time)."""

    def __init__(self, path: Path, api) -> None:
        self.path = path
        self._api = api

    def __contains__(self, arch: object) -> bool:
        # query_index_by_arch takes an int as an index: only strings are keys
        return isinstance(arch, str) and self._api.query_index_by_arch(arch) >= 0

    def __getitem__(self, arch: str) -> Figures:
        if arch not in self:
            raise KeyError(arch)
        index = self._api.query_index_by_arch(arch)
        try:
            # the datasets it was trained on: get_more_info fails with a KeyError on another
            trained = self._api.query_meta_info_by_index(index, hp="200").get_dataset_names()
            return queried_figures(self._api, index, trained)
        except _UNREADABLE as error:
            raise NasError(f"cannot read architecture {index} of the NATS-Bench archive "
                           f"{self.path}: {error}",
                           hint="its file is not as the archive ships it: unpack the archive's "
                                ".tar again") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._api.meta_archs)

    def __len__(self) -> int:
        return len(self._api.meta_archs)
