"""The simplification compiler: an edge's mix as a plan (`plan`), the rewrite rules that
share modules between candidates and merge kernels (`rewrites`), the cost model that
chooses among the rewritten plans (`cost`), the driver that compiles a network's edges
(`compiler`), and what `nasdsl simplify --explain` prints of it (`explain`)."""
