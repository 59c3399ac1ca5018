"""Published results that a derived architecture can be looked up in (NAS-Bench-201)."""
