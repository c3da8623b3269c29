"""Download links, signed URLs, and serving files."""
