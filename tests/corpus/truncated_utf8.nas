# expect: is not UTF-8 text
op a = relu # caf√