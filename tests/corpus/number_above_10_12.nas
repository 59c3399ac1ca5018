# expect: value too large
network n {
    stem conv(kernel=3, out=8)
    let a = 10000000000000
}
