"""The language: parse text to a syntax tree, check and elaborate it into the IR of a space."""
