chain relu_conv_bn(k) = relu -> conv(kernel=k) -> bn

op none = zero

op skip_connect {
    stride 1: identity
    stride 2: factorized_reduce
}

op nor_conv_1x1 = relu_conv_bn(k=1)

op nor_conv_3x3 = relu_conv_bn(k=3)

cell cell {
    inputs 1
    nodes 3
    combine sum
    output last
    edges 0 -> 1, 0 -> 2, 1 -> 2, 0 -> 3, 1 -> 3, 2 -> 3
    candidates nor_conv_3x3, skip_connect, nor_conv_1x1, none
    edge 0 -> 1: nor_conv_3x3
    edge 0 -> 2: skip_connect
    edge 1 -> 2: nor_conv_1x1
    edge 0 -> 3: none
    edge 1 -> 3: skip_connect
    edge 2 -> 3: nor_conv_1x1
    derive all
}

network nb201 {
    let C = 16
    let N = 5
    let classes = 10
    input(channels=3, size=32)
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
