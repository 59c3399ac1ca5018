# R-DARTS search space S2 (Zela et al., Understanding and Robustifying Differentiable
# Architecture Search, ICLR 2020, Sec. 3; reference code src/search/spaces.py): {sep_conv_3x3, skip_connect} on every edge
# in the DARTS search network.

import "darts_ops.nas"

cell normal {
    inputs 2
    preprocess relu_conv_bn(k=1)
    preprocess_reduced factorized_reduce
    nodes 4
    edges all
    candidates skip_connect, sep_conv_3x3
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
    candidates skip_connect, sep_conv_3x3
    combine sum
    output concat
    derive top 2
}

network rdarts_s2 {
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
