# The NAS-Bench-101 cell (Ying et al., ICML 2019) as NAS-Bench-1Shot1 relaxes it for one-shot
# search (Zela, Siems & Hutter, ICLR 2020; search space 3 of automl/nasbench-1shot1): the ops
# sit on the vertices, each vertex applying its op to the sum of its inputs, and the search
# chooses each vertex's op and which earlier vertices feed it.

chain conv_bn_relu(k) = conv(kernel=k) -> bn -> relu
op conv3x3_bn_relu = conv_bn_relu(k=3)
op conv1x1_bn_relu = conv_bn_relu(k=1)
op maxpool3x3 = max_pool(kernel=3)
# A wire between vertices is there or not; a wire from the cell's input is NAS-Bench-101's
# 1x1 projection of the input (to the vertex's channels, or to the output's width).
op link = identity
op project = conv_bn_relu(k=1)
op none = zero(out=out)  # out: what its edge gives (wider into the output vertex)

# Node 0 is the cell's input, vertices 1..5 carry the ops, node 6 is the output vertex: the
# concatenation of the vertices wired to it, plus the input's projection if it is wired.
cell cell {
    inputs 1
    nodes 5
    edges all
    candidates link, none
    edge 0 -> 1: project
    edge 0 -> 2: project, none
    edge 0 -> 3: project, none
    edge 0 -> 4: project, none
    edge 0 -> 5: project, none
    edge 0 -> 6: project, none
    node_ops conv3x3_bn_relu, conv1x1_bn_relu, maxpool3x3
    output vertex
    # Search space 3's parents per vertex: 1, 1, 1, 2, 2 and 2 for the output; 9 edges.
    derive top 1, 1, 1, 2, 2, 2 exclude none
    max_edges 9
}

network nb101 {
    let C = 16
    let N = 3
    let classes = 10
    input(channels=3, size=32)
    stem conv(kernel=3, out=C) -> bn -> relu
    cells cell * N channels C
    layer max_pool(kernel=2, stride=2)
    cells cell * N channels 2 * C
    layer max_pool(kernel=2, stride=2)
    cells cell * N channels 4 * C
    head global_avg_pool -> linear(out=classes)
}
