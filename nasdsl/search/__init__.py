"""The search: configuration, the shared bi-level loop, run directories and resuming."""
