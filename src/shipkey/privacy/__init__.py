"""Personal data: what is kept about a buyer, for how long, its export and its erasure."""
