"""The checker's limits: sizes past which a space is a mistake, not a network.

A checker must answer every input quickly and in bounded memory. Each limit is far above
what a search space needs (the shipped ones stay under a tenth of every figure) and below
what would make `check` slow; going past one is a located error that names it. The README
lists them.
"""

MAX_FILE_BYTES = 1 << 20  # a .nas file; the shipped spaces are under 4 KB each
MAX_DEPTH = 100  # operators and parentheses nested in one expression
MAX_VALUE = 10**12  # any number in a space; sizes and channels stay far below
MAX_CHAIN_DEPTH = 100  # chains calling chains
MAX_MODULES = 10_000  # modules an op, a preprocess or a stage expands to
MAX_CALLS = 100_000  # calls of chains and modules expanded for one (failed calls count too)
MAX_INPUTS = 16  # inputs of a cell
MAX_NODES = 64  # intermediate nodes of a cell
MAX_EDGES = 1024  # edges of a cell kind
MAX_CANDIDATES = 256  # candidates of one edge
MAX_STAGES = 1000  # cells and layers of a network
MAX_NETWORK_EDGES = 100_000  # edges over all cells of a network
