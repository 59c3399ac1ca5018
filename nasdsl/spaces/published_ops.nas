# The ops of the published cells that the DARTS search space lacks, as the DARTS reference
# code builds them (operations.py): NASNet's and AmoebaNet's cells use them besides the DARTS
# ops, which this file imports. The evaluation networks of published genotypes
# (nasdsl.architecture.published) take their ops from here.

import "darts_ops.nas"

op sep_conv_7x7 = sep(k=7) -> sep(k=7)
# ReLU, a 1x7 conv, a 7x1 conv, BN; at stride 2 each conv strides along its own axis, as the
# reference's (1, stride) and (stride, 1) do.
op conv_7x1_1x7 {
    stride 1: relu -> conv(kernel=1x7) -> conv(kernel=7x1) -> bn
    stride 2: relu -> conv(kernel=1x7, stride=1x2) -> conv(kernel=7x1, stride=2x1) -> bn
}
