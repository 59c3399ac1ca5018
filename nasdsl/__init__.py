"""nasdsl: a declarative search-space language for gradient-based one-shot NAS."""

__version__ = "0.1.0"
