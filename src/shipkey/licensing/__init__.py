"""License keys, offline license files and the keys that sign them."""
