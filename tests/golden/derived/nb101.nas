chain conv_bn_relu(k) = conv(kernel=k) -> bn -> relu

op conv3x3_bn_relu = conv_bn_relu(k=3)

op conv1x1_bn_relu = conv_bn_relu(k=1)

op maxpool3x3 = max_pool(kernel=3)

op link = identity

op project = conv_bn_relu(k=1)

cell cell {
    inputs 1
    nodes 5
    output vertex
    node 1: maxpool3x3
    node 2: conv3x3_bn_relu
    node 3: conv1x1_bn_relu
    node 4: conv1x1_bn_relu
    node 5: conv1x1_bn_relu
    edges 0 -> 1, 0 -> 2, 2 -> 3, 1 -> 4, 2 -> 4, 1 -> 5, 4 -> 5, 1 -> 6, 4 -> 6
    candidates project, link
    edge 0 -> 1: project
    edge 0 -> 2: project
    edge 2 -> 3: link
    edge 1 -> 4: link
    edge 2 -> 4: link
    edge 1 -> 5: link
    edge 4 -> 5: link
    edge 1 -> 6: link
    edge 4 -> 6: link
    derive all
}

network nb101 {
    let C = 16
    let N = 3
    let classes = 10
    input(channels=3, size=32)
    stem conv(kernel=3, out=C) -> bn -> relu
    cells cell * N channels C
    layer max_pool(kernel=2, stride=2)
    cells cell * N channels 2 * C
    layer max_pool(kernel=2, stride=2)
    cells cell * N channels 4 * C
    head global_avg_pool -> linear(out=classes)
}
