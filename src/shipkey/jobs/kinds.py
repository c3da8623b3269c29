"""Job kinds enqueued by one package and run by another (the handler is registered above)."""

RISK_CHECK = "risk.check"
"""Evaluate the risk rules for a purchase (``{"purchase_id"}``), a license (``{"license_id"}``),
a sale just delivered (``{"sale": purchase_id}``) or a buyer who signed in (``{"sign_in":
email}``): enqueued when a download is counted, a machine deactivated, a license validated from
more networks than the rule's limit, a sale delivered, or a buyer's sign-in link used; run by
:mod:`shipkey.risk.handlers`."""

SALE_KEY = "sale"
"""The key of a ``risk.check`` payload that names a sale just delivered (its buyer's earlier
refunds and disputes are counted)."""

SIGN_IN_KEY = "sign_in"
"""The key of a ``risk.check`` payload that names the buyer (e-mail address) who signed in."""
