# NAS-Bench-201 (Dong & Yang, ICLR 2020): the cell search space of the benchmark, as its
# reference code builds it (AutoDL-Projects: cell_operations.py, search_model_darts.py).
# Op names are the benchmark's own, so derived cells read as its arch strings.

# ReLUConvBN of the reference code.
chain relu_conv_bn(k) = relu -> conv(kernel=k) -> bn

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
