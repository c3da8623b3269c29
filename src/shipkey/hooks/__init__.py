"""Seller webhooks: signed events to the seller's own systems (Standard Webhooks)."""

from shipkey.hooks.outbox import EVENT_TYPES, emit

__all__ = ["EVENT_TYPES", "emit"]
