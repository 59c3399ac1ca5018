# expect: more than 1000, the limit of a network
op a = relu
op b = identity
cell c { nodes 2 candidates a, b }
network n {
    stem conv(kernel=3, out=8)
    cells c * 10000 channels 8
    head global_avg_pool -> linear(out=10)
}
