"""Search methods, one module each, in a registry keyed by their command-line name.

Only fully implemented methods are registered; `get_method` says which exist. Besides the
modules of this package, any installed distribution may add methods through the entry-point
group `nasdsl.methods` (the README shows one written outside nasdsl): each entry point names
a subclass of `nasdsl.methods.base.Method`, registered under its `name`. One that cannot be
registered is an error where it is asked for, and a warning of the command line otherwise.
"""

from __future__ import annotations

from nasdsl.errors import NasError, did_you_mean
from nasdsl.plugins import load_entry_points

METHODS: dict[str, type] = {}
ENTRY_POINTS = "nasdsl.methods"
# Entry points that could not be registered, by entry-point name, with the reason: asking
# for that method raises it; other methods stay usable.
BROKEN_PLUGINS: dict[str, NasError] = {}


def register(cls):
    """Class decorator: make a method available under its `name`."""
    METHODS[cls.name] = cls
    return cls


def get_method(name: str):
    _load_all()
    if name in BROKEN_PLUGINS:
        raise BROKEN_PLUGINS[name]
    if name not in METHODS:
        raise NasError(f"unknown search method '{name}'",
                       hint=did_you_mean(name, METHODS) or f"methods: {', '.join(sorted(METHODS))}")
    return METHODS[name]


def method_names() -> list[str]:
    _load_all()
    return sorted(METHODS)


_loaded = False


def _load_all() -> None:
    """Import every module of this package (each registers its method), then the methods
    that installed distributions declare as entry points."""
    global _loaded
    if _loaded:
        return
    import importlib
    import pkgutil
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    _loaded = True  # before the plugins: a failing one must not hide the shipped methods
    BROKEN_PLUGINS.update(load_entry_points(ENTRY_POINTS, "method", _register_plugin))


def _register_plugin(cls, where: str) -> None:
    """Register the method an entry point names, or say plainly why it cannot be."""
    from nasdsl.methods.base import Method
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise NasError(f"{where} names {cls!r}, not a subclass of nasdsl.methods.base.Method")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise NasError(f"the method of {where} has no `name`",
                       hint="set the class attribute name = \"my-method\"")
    if name in METHODS and METHODS[name] is not cls:
        raise NasError(f"the method of {where} is called '{name}', which "
                       f"{METHODS[name].__module__} already registers",
                       hint="give the plugin's method another name")
    METHODS[name] = cls
