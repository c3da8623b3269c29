"""The audit log: every change an admin makes, through the API, the pages or the command line,
append-only and hash-chained."""
