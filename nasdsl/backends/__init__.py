"""Backends turn the IR of a space into runnable models."""
