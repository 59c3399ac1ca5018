# R-DARTS search space S1 (Zela et al., Understanding and Robustifying Differentiable
# Architecture Search, ICLR 2020, Sec. 3; reference code src/search/spaces.py): two candidates per edge, different on every edge and in the two
# cell kinds, the pairs DARTS itself ranked highest
# in the DARTS search network.

import "darts_ops.nas"

cell normal {
    inputs 2
    preprocess relu_conv_bn(k=1)
    preprocess_reduced factorized_reduce
    nodes 4
    edges all
    edge 0 -> 2: skip_connect, dil_conv_3x3
    edge 1 -> 2: skip_connect, dil_conv_5x5
    edge 0 -> 3: skip_connect, dil_conv_5x5
    edge 1 -> 3: skip_connect, sep_conv_3x3
    edge 2 -> 3: skip_connect, dil_conv_3x3
    edge 0 -> 4: max_pool_3x3, skip_connect
    edge 1 -> 4: skip_connect, sep_conv_3x3
    edge 2 -> 4: skip_connect, sep_conv_3x3
    edge 3 -> 4: skip_connect, dil_conv_3x3
    edge 0 -> 5: skip_connect, sep_conv_3x3
    edge 1 -> 5: max_pool_3x3, skip_connect
    edge 2 -> 5: skip_connect, dil_conv_3x3
    edge 3 -> 5: dil_conv_3x3, dil_conv_5x5
    edge 4 -> 5: dil_conv_3x3, dil_conv_5x5
    combine sum
    output concat
    derive top 2
}

cell reduce {
    reduction
    inputs 2
    preprocess relu_conv_bn(k=1)
    preprocess_reduced factorized_reduce
    nodes 4
    edges all
    edge 0 -> 2: max_pool_3x3, avg_pool_3x3
    edge 1 -> 2: max_pool_3x3, dil_conv_3x3
    edge 0 -> 3: max_pool_3x3, avg_pool_3x3
    edge 1 -> 3: max_pool_3x3, avg_pool_3x3
    edge 2 -> 3: skip_connect, dil_conv_5x5
    edge 0 -> 4: max_pool_3x3, avg_pool_3x3
    edge 1 -> 4: max_pool_3x3, sep_conv_3x3
    edge 2 -> 4: skip_connect, dil_conv_3x3
    edge 3 -> 4: skip_connect, dil_conv_5x5
    edge 0 -> 5: max_pool_3x3, avg_pool_3x3
    edge 1 -> 5: max_pool_3x3, avg_pool_3x3
    edge 2 -> 5: skip_connect, dil_conv_5x5
    edge 3 -> 5: skip_connect, dil_conv_5x5
    edge 4 -> 5: skip_connect, dil_conv_5x5
    combine sum
    output concat
    derive top 2
}

network rdarts_s1 {
    let C = 16
    let N = 2  # normal cells a stage: 8 cells in all, as R-DARTS searched
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
