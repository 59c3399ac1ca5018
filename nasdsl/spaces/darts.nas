# The DARTS CNN search space (Liu, Simonyan & Yang, ICLR 2019) with the search network of its
# reference code (model_search.py): 8 cells, C=16, reduction cells at 1/3 and 2/3 of the depth.

import "darts_ops.nas"

# Inputs 0 and 1 are the outputs of the two previous cells; nodes 2..5 each sum an edge from
# every earlier node; the cell outputs the concatenation of nodes 2..5.
cell normal {
    inputs 2
    preprocess relu_conv_bn(k=1)
    preprocess_reduced factorized_reduce
    nodes 4
    edges all
    candidates none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
    combine sum
    output concat
    derive top 2 exclude none
}

# The same, with stride 2 on the edges that leave the inputs.
cell reduce {
    reduction
    inputs 2
    preprocess relu_conv_bn(k=1)
    preprocess_reduced factorized_reduce
    nodes 4
    edges all
    candidates none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5
    combine sum
    output concat
    derive top 2 exclude none
}

network darts {
    let C = 16
    let N = 2  # normal cells a stage: 8 cells in all; the evaluation network has N = 6, C = 36
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
