# The operations of the DARTS CNN search space (Liu, Simonyan & Yang, ICLR 2019), as its
# reference code builds them (operations.py, model_search.py). Shared by darts.nas and
# darts_large.nas.

chain relu_conv_bn(k=1) = relu -> conv(kernel=k) -> bn
# One separable block: ReLU, depthwise conv, pointwise conv, BN. sep_conv stacks two;
# dil_conv is one block with a dilated depthwise conv.
chain sep(k, d=1) = relu -> conv(kernel=k, dilation=d, depthwise=true) -> conv(kernel=1) -> bn

op none = zero
# The reference MixedOp appends a BN to the pools while searching only.
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
