"""Releases of a product: versions, channels, signed artifacts, and who may download them."""
