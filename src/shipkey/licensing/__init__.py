"""Licenses: keys, issuing, seats on machines, validation, signed license files, the seller's
state changes."""
