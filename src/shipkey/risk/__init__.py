"""Risk: shared keys, passed-around links, fraud warnings and dispute evidence."""
