"""`nasdsl bench`: what one search step costs, naive against simplified, method by method."""
