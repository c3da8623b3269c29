"""Products and their files."""
