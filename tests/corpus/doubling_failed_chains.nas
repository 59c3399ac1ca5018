# expect: unknown module or chain 'fz15'
chain fz0 = relu
chain fz1 = fz0 -> fz0
chain fz2 = fz1 -> fz1
chain fz3 = fz2 -> fz2
chain fz4 = fz3 -> fz3
chain fz5 = fz4 -> fz4
chain fz6 = fz5 -> fz5
chain fz7 = fz6 -> fz6
chain fz8 = fz7 -> fz7
chain fz9 = fz8 -> fz8
chain fz10 = fz9 -> fz9
chain fz11 = fz10 -> fz10
chain fz12 = fz11 -> fz11
chain fz13 = fz12 -> fz12
chain fz14 = fz13 -> f1z13
chain fz5 = fz14 -> fz14
chain fz16 = fz15 -> fz15
chain fz17 = fz16 -> fz16
chain fz18 = fz17 -> fz17
chain fz19 = fz18 -> fz18
chain fz20 = fz19 -> fz19
chain fz21 = fz20 -> fz20
chain fz22 = fz21 -> fz21
chain fz23 = fz22 -> fz22
chain fz24 = fz23 -> fz23
chain fz25 = fz24 -> fz24
chain fz26 = fz25 -> fz25
chain fz27 = fz26 -> fz26
chain fz28 = fz27 -> fz27
chain fz29 = fz28 -> fz28
chain fz30 = fz29 -> fz29
chain fz31 = fz30 -> fz30
chain fz32 = fz31 -> fz31
chain fz33 = fz32 -> fz32
chain fz34 = fz33 -> fz33
chain fz35 = fz34 -> fz34
chain fz36 = fz35 -> fz35
chain fz37 = fz36 -> fz36
chain fz38 = fz37 -> fz37
chain fz39 = fz38 -> fz38
# NAS-Bench-201 (Dong & Yang, ICLR 2020): the cell search space of the benchmark, as its
# reference code builds it (AutoDL-Projects: cell_operations.py, search_model_darts.py).
# Op names are the benchmark's own, so derived cells read as its arch strings.

# ReLUConvBN of the reference code.
chain relu_conv_bn(k) = fz39 -> conv(kernel=k) -> bn

op none = zero
op skip_connect {
    stride 1: identity
    stride 2: factorized_reduce
}
op nor_conv_1x1 = relu_conv_bn(k=1)
op nor_conv_3x3 = relu_conv_bn(k=3)
op avg_pool_3x3 = avg_pool(kernel=3, count_include_pad=false)

# Node 0 is the cell input; nodes 1..3 each sum an edge from every earlier node.
cell cell {
    inputs 1
    nodes 3
    edges all
    candidates none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3
    combine sum
    output last
    derive all
}

network nb201 {
    let C = 16
    let N = 5
    let classes = 10
    input(channels=3, size=32)
    # While searching, BN in cells is not affine and keeps no running statistics, and the
    # reference code's convs then have a bias (bias = not affine).
    search bn(affine=false, track_running_stats=false)
    search conv(bias=true)
    stem conv(kernel=3, out=C) -> bn
    cells cell * N channels C
    layer resnet_block(out=2 * C, stride=2)
    cells cell * N channels 2 * C
    layer resnet_block(out=4 * C, stride=2)
    cells cell * N channels 4 * C
    head bn -> relu -> global_avg_pool -> linear(out=classes)
}
