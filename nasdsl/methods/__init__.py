"""Search methods, one module each, in a registry keyed by their command-line name."""
