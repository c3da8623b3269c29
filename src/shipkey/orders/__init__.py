"""Purchases, buyers, and the purchase state machine."""
