"""nasdsl: a declarative search-space language for gradient-based one-shot NAS.

The Python API (`nasdsl.api`) is available from here: `nasdsl.load_space`, `nasdsl.method`,
`nasdsl.supernet`, `nasdsl.arch_text`, `nasdsl.derived_network`, `nasdsl.lookup` ... It is
imported on first use, so that `import nasdsl` (and `nasdsl check`) stays light."""

__version__ = "0.1.0"

_API = ("Architecture", "DerivedNetwork", "Method", "Space", "Supernet", "arch_text",
        "derived_network", "load_space", "lookup", "method", "method_names", "supernet")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from nasdsl import api
        return getattr(api, name)
    raise AttributeError(f"module 'nasdsl' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
