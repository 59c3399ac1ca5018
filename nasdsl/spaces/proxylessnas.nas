# ProxylessNAS's mobile search space (Cai, Zhu & Han, ICLR 2019), as its reference code builds
# it (search/models/super_nets/super_proxyless.py, arch_search.py's defaults): 21 searchable
# MBConv blocks in 6 stages of widths 24, 40, 80, 96, 192, 320, with 4, 4, 4, 4, 4, 1 blocks
# and strides 2, 2, 2, 1, 2, 1; each chooses its depthwise kernel (3, 5, 7) and expansion
# (3, 6), and a block that keeps its shape has an identity shortcut and may be skipped (Zero).

import "mbconv_ops.nas"

network proxylessnas {
    let size = 224
    let classes = 1000
    let unit = 8  # every width is a multiple of 8 channels: unit=8 is width 1.0
    input(channels=3, size=size)
    stem conv(kernel=3, stride=2, out=4 * unit) -> bn -> relu6
    # The first block, 3x3_MBConv1 (no expansion), is not searched.
    layer conv(kernel=3, depthwise=true) -> bn -> relu6 -> conv(kernel=1, out=2 * unit) -> bn
    layers s1 * 4 channels 3 * unit stride 2 residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers s2 * 4 channels 5 * unit stride 2 residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers s3 * 4 channels 10 * unit stride 2 residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers s4 * 4 channels 12 * unit residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers s5 * 4 channels 24 * unit stride 2 residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers s6 * 1 channels 40 * unit: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6
    # The feature mix layer and the classifier (dropout 0 while searching).
    layer conv(kernel=1, out=160 * unit) -> bn -> relu6
    head global_avg_pool -> linear(out=classes)
}
