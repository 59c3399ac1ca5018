# expect: is not UTF-8 text
op a = relu
op ÿþb = identity
