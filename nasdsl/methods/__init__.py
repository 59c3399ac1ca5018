"""Search methods, one module each, in a registry keyed by their command-line name.

Only fully implemented methods are registered; `get_method` says which exist.
"""

from __future__ import annotations

from nasdsl.errors import NasError, did_you_mean

METHODS: dict[str, type] = {}


def register(cls):
    """Class decorator: make a method available under its `name`."""
    METHODS[cls.name] = cls
    return cls


def get_method(name: str):
    _load_all()
    if name not in METHODS:
        raise NasError(f"unknown search method '{name}'",
                       hint=did_you_mean(name, METHODS) or f"methods: {', '.join(sorted(METHODS))}")
    return METHODS[name]


def method_names() -> list[str]:
    _load_all()
    return sorted(METHODS)


def _load_all() -> None:
    """Import every module of this package: each registers its method."""
    import importlib
    import pkgutil
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
