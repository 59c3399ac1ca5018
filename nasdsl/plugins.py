"""Entry points of installed distributions that extend nasdsl (search methods, module
kinds): loaded once, each checked by the registry it extends, and a broken one reported
by name instead of stopping everything else."""

from __future__ import annotations

from collections.abc import Callable

from nasdsl.errors import NasError


def load_entry_points(group: str, what: str, register: Callable[[object, str], None]
                      ) -> dict[str, NasError]:
    """Load every entry point of `group` (sorted by name) and pass what it names to
    `register(obj, where)`, which raises a NasError to refuse it; `where` names the entry
    point for messages. Returns the refused and the unloadable, by entry-point name."""
    from importlib.metadata import entry_points
    broken: dict[str, NasError] = {}
    for entry in sorted(entry_points(group=group), key=lambda entry: entry.name):
        where = f"entry point '{entry.name} = {entry.value}' of group {group}"
        try:
            try:
                obj = entry.load()
            except Exception as error:  # the plugin's own code failed: name it, do not crash
                raise NasError(f"the {what} of {where} does not load: "
                               f"{type(error).__name__}: {error}",
                               hint="fix or uninstall the package that declares it") from error
            register(obj, where)
        except NasError as error:
            broken[entry.name] = error
    return broken
