# The inverted-residual search space around MobileNetV2 (Sandler et al., CVPR 2018), as the
# one-shot NAS literature searches it (ProxylessNAS, FBNet, single-path NAS): every block
# after the first chooses its depthwise kernel (3, 5, 7) and expansion ratio (3, 6), and every
# block that keeps its shape may be skipped. The choice k3_e6 everywhere is MobileNetV2 1.0.

import "mbconv_ops.nas"

network mobilenetv2 {
    let size = 224
    let classes = 1000
    let unit = 8  # every width is a multiple of 8 channels: unit=8 is width 1.0
    input(channels=3, size=size)
    stem conv(kernel=3, stride=2, out=4 * unit) -> bn -> relu6
    # The first block has expansion 1 and is not searched.
    layer conv(kernel=3, depthwise=true) -> bn -> relu6 -> conv(kernel=1, out=2 * unit) -> bn
    layers b1 * 2 channels 3 * unit stride 2 residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers b2 * 3 channels 4 * unit stride 2 residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers b3 * 4 channels 8 * unit stride 2 residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers b4 * 3 channels 12 * unit residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers b5 * 3 channels 20 * unit stride 2 residual: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6 or skip
    layers b6 * 1 channels 40 * unit: k3_e3, k3_e6, k5_e3, k5_e6, k7_e3, k7_e6
    layer conv(kernel=1, out=160 * unit) -> bn -> relu6
    head global_avg_pool -> dropout(p=0.2) -> linear(out=classes)
}
