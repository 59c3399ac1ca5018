# The enlarged DARTS space of TopoNAS (Zhao, Liu & Yuan), Sec. 4.5 / Table 6: skip, max pool,
# avg pool, 5 separable dilated convs and 7 double-stacked separable convs, 15 candidates,
# in the DARTS search network. The paper does not list the kernel sizes and dilations; the
# choice here is in spaces/README.md.

import "darts_ops.nas"

# Separable dilated convs: one ReLU-DWConv(dilated)-PWConv-BN block.
op dil_conv_3x3_d2 = sep(k=3, d=2)
op dil_conv_5x5_d2 = sep(k=5, d=2)
op dil_conv_3x3_d3 = sep(k=3, d=3)
op dil_conv_5x5_d3 = sep(k=5, d=3)
op dil_conv_7x7_d2 = sep(k=7, d=2)

# Double-stacked separable convs: two blocks.
op sep_conv_3x3_x2 = sep(k=3) -> sep(k=3)
op sep_conv_5x5_x2 = sep(k=5) -> sep(k=5)
op sep_conv_7x7_x2 = sep(k=7) -> sep(k=7)
op sep_conv_9x9_x2 = sep(k=9) -> sep(k=9)
op sep_conv_3x3_d2_x2 = sep(k=3, d=2) -> sep(k=3, d=2)
op sep_conv_5x5_d2_x2 = sep(k=5, d=2) -> sep(k=5, d=2)
op sep_conv_3x3_d3_x2 = sep(k=3, d=3) -> sep(k=3, d=3)

cell normal {
    inputs 2
    preprocess relu_conv_bn(k=1)
    preprocess_reduced factorized_reduce
    nodes 4
    edges all
    candidates skip_connect, max_pool_3x3, avg_pool_3x3, dil_conv_3x3_d2, dil_conv_5x5_d2, dil_conv_3x3_d3, dil_conv_5x5_d3, dil_conv_7x7_d2, sep_conv_3x3_x2, sep_conv_5x5_x2, sep_conv_7x7_x2, sep_conv_9x9_x2, sep_conv_3x3_d2_x2, sep_conv_5x5_d2_x2, sep_conv_3x3_d3_x2
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
    candidates skip_connect, max_pool_3x3, avg_pool_3x3, dil_conv_3x3_d2, dil_conv_5x5_d2, dil_conv_3x3_d3, dil_conv_5x5_d3, dil_conv_7x7_d2, sep_conv_3x3_x2, sep_conv_5x5_x2, sep_conv_7x7_x2, sep_conv_9x9_x2, sep_conv_3x3_d2_x2, sep_conv_5x5_d2_x2, sep_conv_3x3_d3_x2
    combine sum
    output concat
    derive top 2
}

network darts_large {
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
