# expect: expands to more than 10,000 modules
chain d0 = relu
chain d1 = d0 -> d0
chain d2 = d1 -> d1
chain d3 = d2 -> d2
chain d4 = d3 -> d3
chain d5 = d4 -> d4
chain d6 = d5 -> d5
chain d7 = d6 -> d6
chain d8 = d7 -> d7
chain d9 = d8 -> d8
chain d10 = d9 -> d9
chain d11 = d10 -> d10
chain d12 = d11 -> d11
chain d13 = d12 -> d12
chain d14 = d13 -> d13
chain d15 = d14 -> d14
chain d16 = d15 -> d15
chain d17 = d16 -> d16
chain d18 = d17 -> d17
chain d19 = d18 -> d18
chain d20 = d19 -> d19
chain d21 = d20 -> d20
chain d22 = d21 -> d21
chain d23 = d22 -> d22
chain d24 = d23 -> d23
chain d25 = d24 -> d24
chain d26 = d25 -> d25
chain d27 = d26 -> d26
chain d28 = d27 -> d27
chain d29 = d28 -> d28
op a = d29
op b = identity
cell c { nodes 1 candidates a, b }
network n {
    stem conv(kernel=3, out=8)
    cells c * 1 channels 8
    head global_avg_pool -> linear(out=10)
}
