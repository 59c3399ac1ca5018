# expect: ok
op a = relu
op b = identity
cell c { nodes 1 candidates a, b }
network n {
    stem conv(kernel=3, out=8)
    cells c * 1 channels 8
    head global_avg_pool -> linear(out=10)
}
