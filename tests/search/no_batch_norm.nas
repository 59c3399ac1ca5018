# A cell space without batch-dependent modules (no batch norm).
op none = zero
op skip = identity
op conv1 = relu -> conv(kernel=1)
op conv3 = relu -> conv(kernel=3)
op pool = avg_pool(kernel=3, count_include_pad=false)

cell cell {
    inputs 1
    nodes 2
    edges all
    candidates none, skip, conv1, conv3, pool
    combine sum
    output last
    derive all
}

network nobn {
    let C = 4
    let N = 1
    let classes = 10
    input(channels=3, size=32)
    search conv(bias=true)
    stem conv(kernel=3, out=C)
    cells cell * N channels C
    head relu -> global_avg_pool -> linear(out=classes)
}
