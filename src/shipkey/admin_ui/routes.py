"""The seller's pages at ``/admin``, one module per page group. Every change is a POST with the
session's CSRF token; the rules live in the domain services (and :mod:`shipkey.admin_ui.service`),
and domain errors are answered as pages by :mod:`shipkey.web.errors`."""

from __future__ import annotations

from fastapi import FastAPI

from shipkey.admin_ui import (
    audit,
    dashboard,
    deliveries,
    licenses,
    mailbox,
    products,
    purchases,
    releases,
    risk,
    sign_in,
    uploads,
    webhook_endpoints,
    webhooks,
)

PAGE_GROUPS = (
    sign_in,
    dashboard,
    products,
    uploads,
    risk,
    releases,
    purchases,
    licenses,
    deliveries,
    webhooks,
    webhook_endpoints,
    audit,
    mailbox,
)


def install(app: FastAPI) -> None:
    """Every seller page (the static files and error pages come with the portal's)."""
    for group in PAGE_GROUPS:
        app.include_router(group.router)
    app.include_router(releases.upload_router)
