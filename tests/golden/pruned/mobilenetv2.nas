chain mbconv(k, e, s) = conv(kernel=1, out=e * in) -> bn -> relu6 -> conv(kernel=k, stride=s, depthwise=true) -> bn -> relu6 -> conv(kernel=1) -> bn

op k3_e3 {
    stride 1: mbconv(k=3, e=3, s=1)
    stride 2: mbconv(k=3, e=3, s=2)
}

op k3_e6 {
    stride 1: mbconv(k=3, e=6, s=1)
    stride 2: mbconv(k=3, e=6, s=2)
}

op k5_e3 {
    stride 1: mbconv(k=5, e=3, s=1)
    stride 2: mbconv(k=5, e=3, s=2)
}

op k5_e6 {
    stride 1: mbconv(k=5, e=6, s=1)
    stride 2: mbconv(k=5, e=6, s=2)
}

op k7_e3 {
    stride 1: mbconv(k=7, e=3, s=1)
    stride 2: mbconv(k=7, e=3, s=2)
}

op k7_e6 {
    stride 1: mbconv(k=7, e=6, s=1)
    stride 2: mbconv(k=7, e=6, s=2)
}

op skip = zero

network mobilenetv2 {
    let size = 224
    let classes = 1000
    let unit = 8
    input(channels=3, size=size)
    stem conv(kernel=3, stride=2, out=4 * unit) -> bn -> relu6
    layer conv(kernel=3, depthwise=true) -> bn -> relu6 -> conv(kernel=1, out=2 * unit) -> bn
    layers b1_1 * 1 channels 3 * unit stride 2 residual: k3_e3, k5_e3, k5_e6, k7_e3
    layers b1_2 * 1 channels 3 * unit residual: k3_e3, k5_e3, k7_e3, k7_e6, skip
    layers b2_1 * 1 channels 4 * unit stride 2 residual: k3_e3, k3_e6, k7_e6
    layers b2_2 * 1 channels 4 * unit residual: k3_e3, k5_e6, k7_e6
    layers b2_3 * 1 channels 4 * unit residual: k3_e6, k5_e3, k5_e6, k7_e3, skip
    layers b3_1 * 1 channels 8 * unit stride 2 residual: k3_e3, k3_e6, k5_e3, k5_e6
    layers b3_2 * 1 channels 8 * unit residual: k5_e3, k7_e3, k7_e6, skip
    layers b3_3 * 1 channels 8 * unit residual: k5_e3, k5_e6
    layers b3_4 * 1 channels 8 * unit residual: k5_e3, k7_e3, k7_e6, skip
    layers b4_1 * 1 channels 12 * unit residual: k5_e3, k7_e6
    layers b4_2 * 1 channels 12 * unit residual: k7_e3, k7_e6
    layers b4_3 * 1 channels 12 * unit residual: k7_e3, skip
    layers b5_1 * 1 channels 20 * unit stride 2 residual: k3_e3, k5_e6, k7_e6
    layers b5_2 * 1 channels 20 * unit residual: k3_e3, k3_e6, k5_e6
    layers b5_3 * 1 channels 20 * unit residual: k3_e6, k5_e3, k7_e6, skip
    layers b6 * 1 channels 40 * unit: k5_e3, k5_e6, k7_e3, k7_e6
    layer conv(kernel=1, out=160 * unit) -> bn -> relu6
    head global_avg_pool -> dropout(p=0.2) -> linear(out=classes)
}
