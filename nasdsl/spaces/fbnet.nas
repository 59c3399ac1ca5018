# FBNet's TBS search space (Wu et al., CVPR 2019, Tables 1 and 2), with the blocks of its
# reference builder (maskrcnn-benchmark fbnet_builder.py: IRFBlock, Identity, ChannelShuffle):
# 22 searchable layers, each choosing among 9 candidates, 9^22 architectures.

# IRFBlock: a 1x1 (group) conv expanding by e - BN - ReLU, a depthwise k x k conv (the
# stride) - BN - ReLU, a 1x1 (group) conv to the layer's channels - BN; with groups, a channel
# shuffle after the first ReLU. The shortcut is the layers' `residual`: the reference adds it
# inside each block, which is the same for mixing weights that sum to one (FBNet's
# Gumbel-softmax's do), and the same network once a block is chosen.
chain irf(k, e, s) = conv(kernel=1, out=e * in) -> bn -> relu
                  -> conv(kernel=k, stride=s, depthwise=true) -> bn -> relu
                  -> conv(kernel=1) -> bn
chain irf_g2(k, s) = conv(kernel=1, out=in, groups=2) -> bn -> relu -> channel_shuffle(groups=2)
                  -> conv(kernel=k, stride=s, depthwise=true) -> bn -> relu
                  -> conv(kernel=1, groups=2) -> bn

op k3_e1 { stride 1: irf(k=3, e=1, s=1)  stride 2: irf(k=3, e=1, s=2) }
op k3_e1_g2 { stride 1: irf_g2(k=3, s=1)  stride 2: irf_g2(k=3, s=2) }
op k3_e3 { stride 1: irf(k=3, e=3, s=1)  stride 2: irf(k=3, e=3, s=2) }
op k3_e6 { stride 1: irf(k=3, e=6, s=1)  stride 2: irf(k=3, e=6, s=2) }
op k5_e1 { stride 1: irf(k=5, e=1, s=1)  stride 2: irf(k=5, e=1, s=2) }
op k5_e1_g2 { stride 1: irf_g2(k=5, s=1)  stride 2: irf_g2(k=5, s=2) }
op k5_e3 { stride 1: irf(k=5, e=3, s=1)  stride 2: irf(k=5, e=3, s=2) }
op k5_e6 { stride 1: irf(k=5, e=6, s=1)  stride 2: irf(k=5, e=6, s=2) }
# `skip` where a layer keeps its shape: the residual passes the input on. Where it does not
# (the first layer of a stage), the reference's Identity is a strided 1x1 conv - BN - ReLU.
op skip = zero
op skip_conv = conv(kernel=1) -> bn -> relu

network fbnet {
    let size = 224
    let classes = 1000
    let unit = 8  # every width is a multiple of 8 channels: unit=8 is FBNet's (unit=2 at least:
                  # the group convs need even widths)
    input(channels=3, size=size)
    stem conv(kernel=3, stride=2, out=2 * unit) -> bn -> relu
    layers s1 * 1 channels 2 * unit residual: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6 or skip
    # Each later stage: its first layer (changing the width, perhaps striding), then the rest.
    layers t2 * 1 channels 3 * unit stride 2: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6, skip_conv
    layers s2 * 3 channels 3 * unit residual: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6 or skip
    layers t3 * 1 channels 4 * unit stride 2: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6, skip_conv
    layers s3 * 3 channels 4 * unit residual: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6 or skip
    layers t4 * 1 channels 8 * unit stride 2: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6, skip_conv
    layers s4 * 3 channels 8 * unit residual: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6 or skip
    layers t5 * 1 channels 14 * unit: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6, skip_conv
    layers s5 * 3 channels 14 * unit residual: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6 or skip
    layers t6 * 1 channels 23 * unit stride 2: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6, skip_conv
    layers s6 * 3 channels 23 * unit residual: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6 or skip
    layers t7 * 1 channels 44 * unit: k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6, skip_conv
    layer conv(kernel=1, out=248 * unit) -> bn -> relu
    head global_avg_pool -> linear(out=classes)
}
