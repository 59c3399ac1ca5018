# The inverted-residual (MBConv) candidates of the MobileNet-family macro spaces, imported by
# mobilenetv2.nas and proxylessnas.nas: depthwise kernel 3, 5 or 7 by expansion ratio 3 or 6,
# and `skip` for depth search.

# MBConv (Sandler et al., MobileNetV2): expand (1x1) - depthwise (k x k, stride s) - project
# (1x1, linear), BN after each, ReLU6 after the first two. The shortcut is the layers'
# `residual`, outside the choice, as ProxylessNAS builds it.
chain mbconv(k, e, s) = conv(kernel=1, out=e * in) -> bn -> relu6
                     -> conv(kernel=k, stride=s, depthwise=true) -> bn -> relu6
                     -> conv(kernel=1) -> bn

op k3_e3 { stride 1: mbconv(k=3, e=3, s=1)  stride 2: mbconv(k=3, e=3, s=2) }
op k3_e6 { stride 1: mbconv(k=3, e=6, s=1)  stride 2: mbconv(k=3, e=6, s=2) }
op k5_e3 { stride 1: mbconv(k=5, e=3, s=1)  stride 2: mbconv(k=5, e=3, s=2) }
op k5_e6 { stride 1: mbconv(k=5, e=6, s=1)  stride 2: mbconv(k=5, e=6, s=2) }
op k7_e3 { stride 1: mbconv(k=7, e=3, s=1)  stride 2: mbconv(k=7, e=3, s=2) }
op k7_e6 { stride 1: mbconv(k=7, e=6, s=1)  stride 2: mbconv(k=7, e=6, s=2) }
# The block's branch is zero, so the residual passes its input on: the layer is skipped
# (ProxylessNAS's `Zero` candidate).
op skip = zero
