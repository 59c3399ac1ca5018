chain relu_conv_bn(k=1) = relu -> conv(kernel=k) -> bn

chain sep(k, d=1) = relu -> conv(kernel=k, dilation=d, depthwise=true) -> conv(kernel=1) -> bn

op none = zero

op max_pool_3x3 = max_pool(kernel=3) -> bn(search_only=true)

op avg_pool_3x3 = avg_pool(kernel=3, count_include_pad=false) -> bn(search_only=true)

op skip_connect {
    stride 1: identity
    stride 2: factorized_reduce
}

op sep_conv_3x3 = sep(k=3) -> sep(k=3)

op sep_conv_5x5 = sep(k=5) -> sep(k=5)

op dil_conv_3x3 = sep(k=3, d=2)

op dil_conv_5x5 = sep(k=5, d=2)

cell normal {
    inputs 2
    preprocess relu_conv_bn(k=1)
    preprocess_reduced factorized_reduce
    nodes 4
    edges all
    candidates none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
    edge 0 -> 2: none, avg_pool_3x3, skip_connect, sep_conv_3x3, dil_conv_3x3
    edge 1 -> 2: none, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3
    edge 0 -> 3: avg_pool_3x3, skip_connect, dil_conv_3x3
    edge 1 -> 3: none, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3
    edge 2 -> 3: none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3
    edge 0 -> 4: max_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5
    edge 1 -> 4: none, max_pool_3x3, dil_conv_5x5
    edge 2 -> 4: max_pool_3x3, avg_pool_3x3, skip_connect, dil_conv_3x3
    edge 3 -> 4: max_pool_3x3, dil_conv_3x3, dil_conv_5x5
    edge 0 -> 5: sep_conv_5x5, dil_conv_5x5
    edge 1 -> 5: none, skip_connect, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
    edge 2 -> 5: max_pool_3x3, dil_conv_3x3, dil_conv_5x5
    edge 3 -> 5: avg_pool_3x3, skip_connect, dil_conv_3x3, dil_conv_5x5
    edge 4 -> 5: none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, dil_conv_3x3
    combine sum
    output concat
    derive top 2 exclude none
}

cell reduce {
    reduction
    inputs 2
    preprocess relu_conv_bn(k=1)
    preprocess_reduced factorized_reduce
    nodes 4
    edges all
    candidates none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
    edge 0 -> 2: none, skip_connect, sep_conv_3x3
    edge 1 -> 2: avg_pool_3x3, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
    edge 0 -> 3: none, max_pool_3x3, avg_pool_3x3, sep_conv_3x3, sep_conv_5x5, dil_conv_5x5
    edge 1 -> 3: max_pool_3x3, dil_conv_5x5
    edge 2 -> 3: none, max_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
    edge 0 -> 4: none, skip_connect, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
    edge 1 -> 4: none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, dil_conv_3x3
    edge 2 -> 4: none, max_pool_3x3, skip_connect, dil_conv_3x3
    edge 3 -> 4: none, max_pool_3x3, skip_connect, sep_conv_5x5
    edge 0 -> 5: avg_pool_3x3, skip_connect, sep_conv_3x3
    edge 1 -> 5: none, avg_pool_3x3, skip_connect, sep_conv_3x3, dil_conv_3x3, dil_conv_5x5
    edge 2 -> 5: avg_pool_3x3, skip_connect, sep_conv_3x3, dil_conv_3x3
    edge 3 -> 5: avg_pool_3x3, skip_connect, sep_conv_5x5, dil_conv_3x3
    edge 4 -> 5: none, max_pool_3x3, skip_connect, sep_conv_3x3
    combine sum
    output concat
    derive top 2 exclude none
}

network darts {
    let C = 16
    let N = 2
    let classes = 10
    input(channels=3, size=32)
    search bn(affine=false)
    stem conv(kernel=3, out=3 * C) -> bn
    cells normal * N channels C
    cells reduce * 1 channels 2 * C
    cells normal * N channels 2 * C
    cells reduce * 1 channels 4 * C
    cells normal * N channels 4 * C
    head global_avg_pool -> linear(out=classes)
}
