# expect: unexpected character '\u2028'
op a = relu 
op b = identity
