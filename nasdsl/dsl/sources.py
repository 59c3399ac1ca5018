"""Finding .nas files: paths, shipped spaces by name, and imports (with cycle detection)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import attrs

from nasdsl.dsl import syntax as S
from nasdsl.dsl.parse import parse
from nasdsl.dsl.limits import MAX_FILE_BYTES
from nasdsl.errors import Location, NasCheckError, NasError, did_you_mean


def shipped_spaces_dir() -> Path:
    return Path(str(resources.files("nasdsl").joinpath("spaces")))


def shipped_space_names() -> list[str]:
    return sorted(path.stem for path in shipped_spaces_dir().glob("*.nas"))


def resolve(name_or_path: str) -> Path:
    """A path as given, or the shipped space of that name (`nb201` -> spaces/nb201.nas)."""
    path = Path(name_or_path)
    if _is_file(path):
        return path
    shipped = shipped_spaces_dir() / f"{path.stem}.nas"
    if path.parent == Path(".") and path.suffix in ("", ".nas") and _is_file(shipped):
        return shipped
    names = shipped_space_names()
    hint = did_you_mean(path.stem, names) or f"shipped spaces: {', '.join(names)}"
    raise NasError(f"no such file or shipped space: {name_or_path}", hint=hint)


@attrs.frozen
class Sources:
    """The root program and everything it imports, each file once, imports first."""

    root: S.Program
    programs: tuple[S.Program, ...]
    errors: tuple[NasError, ...]


def read_sources(root_path: Path, root_text: str | None = None) -> Sources:
    """Parse the root file (or `root_text`, a file that is not on disk, under that name)
    and, depth first, the files it imports.

    Syntax errors and import problems are collected, not raised, so one run reports the
    problems of every file it could read.
    """
    loaded: dict[Path, S.Program] = {}
    errors: list[NasError] = []

    def visit(path: Path, chain: tuple[Path, ...], at) -> None:
        key = path.resolve()
        if key in chain:
            cycle = " -> ".join(p.name for p in (*chain[chain.index(key):], key))
            errors.append(NasCheckError(f"circular import: {cycle}", at,
                                        "move the shared definitions into a third file"))
            return
        if key in loaded:
            return
        try:
            text = root_text if root_text is not None and not chain else read_source(path)
        except NasError as error:
            errors.append(error)
            loaded[key] = S.Program((), file=str(path))
            return
        except OSError as error:
            errors.append(NasCheckError(f"cannot read {path}: {error.strerror or error}", at))
            return
        try:
            program = parse(text, str(path))
        except NasError as error:
            errors.append(error)
            loaded[key] = S.Program((), file=str(path))
            return
        for item in program.items:
            if isinstance(item, S.Import):
                target = _import_target(path, item.path)
                if target is None:
                    errors.append(NasCheckError(f"imported file not found: {item.path}", item.at,
                                                f"paths are relative to {path.parent or '.'}"))
                else:
                    visit(target, (*chain, key), item.at)
        loaded[key] = program

    visit(root_path, (), None)
    programs = tuple(loaded.values())  # insertion order: imports before their importers
    root = loaded.get(root_path.resolve(), S.Program((), file=str(root_path)))
    return Sources(root, programs, tuple(errors))


def read_source(path: Path) -> str:
    """The text of a .nas file: UTF-8 (a leading byte-order mark allowed), every "\r\n" or
    "\r" read as "\n", so that line numbers are the lexer's and an editor's. A file over
    MAX_FILE_BYTES, or bytes that are not UTF-8, is a located error."""
    with open(path, "rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise NasCheckError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB, the limit of "
                            "a .nas file", Location(str(path), 1, 1),
                            "a search space fits in a few KB; is this the right file?")
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        start = data.rfind(b"\n", 0, error.start) + 1
        end = data.find(b"\n", error.start)
        line = data[start:end if end >= 0 else len(data)].decode("utf-8", errors="replace")
        column = len(data[start:error.start].decode("utf-8", errors="replace")) + 1
        where = Location(str(path), data.count(b"\n", 0, error.start) + 1, column, line)
        raise NasCheckError(f"byte {error.start} (0x{data[error.start]:02x}) is not UTF-8 text",
                            where, "a .nas file is UTF-8 text; save it as UTF-8") from None


def _import_target(importer: Path, name: str) -> Path | None:
    for candidate in (importer.parent / name, shipped_spaces_dir() / name):
        if _is_file(candidate):
            return candidate
    return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system, say
        return False
