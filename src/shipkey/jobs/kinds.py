"""Job kinds enqueued by one package and run by another (the handler is registered above)."""

RISK_CHECK = "risk.check"
"""Evaluate the risk rules for a purchase (``{"purchase_id"}``) or a license
(``{"license_id"}``): enqueued when a download, a deactivation, a completed sale or a new
network of a license is recorded (a completed sale only when its buyer had money back before); run by :mod:`shipkey.risk.handlers`."""
