"""Stripe: checkout, webhook signatures, the event log (each event takes effect once)."""
