"""Job kinds enqueued by one package and run by another (the handler is registered above)."""

RISK_CHECK = "risk.check"
"""Evaluate the risk rules for a purchase (``{"purchase_id"}``) or a license
(``{"license_id"}``): enqueued when a download is counted, a machine deactivated, or a license
validated from a new network; run by :mod:`shipkey.risk.handlers`."""
