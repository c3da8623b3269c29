"""The seller's side: admin tokens and the admin API."""
