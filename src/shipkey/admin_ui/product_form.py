"""What is wrong with a product form, in words next to each field: the form's own checks (a
name and a slug are needed, a price must be one) and every error of the product schema, each
field's first error mapped to a sentence in the page's language."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError

from shipkey.catalog.schemas import ProductCreate
from shipkey.web.render import tr

FIELD_IDS = {
    "name": "p-name",
    "slug": "p-slug",
    "type": "p-type",
    "price": "p-price",
    "currency": "p-currency",
    "description": "p-description",
    "max_downloads": "p-max-downloads",
    "link_ttl_hours": "p-ttl",
    "license_type": "p-license-type",
    "max_activations": "p-max-act",
    "max_deactivations": "p-max-deact",
    "license_file_days": "p-file-days",
    "license_days": "p-days",
    "key_prefix": "p-prefix",
}
"""Each field's input id, in the form's order (the first invalid one gets the focus)."""

_LABELS = {
    "name": "Name",
    "slug": "Slug (in URLs and Payment Links)",
    "type": "Type",
    "price": "Price",
    "currency": "Currency",
    "description": "Description",
    "max_downloads": "Downloads per purchase",
    "link_ttl_hours": "Link valid (hours)",
    "license_type": "License type",
    "max_activations": "Machines per license",
    "max_deactivations": "Deactivations per 30 days",
    "license_file_days": "License file days",
    "license_days": "License days",
    "key_prefix": "Key prefix",
}


def _bounds(field: str) -> tuple[int, int]:
    """The lowest and highest whole number the product schema takes for ``field``."""
    low, high = 0, 0
    for rule in ProductCreate.model_fields[field].metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    return low, high


def _sentence(request: Request, field: str, kind: str) -> str:
    """The sentence for an error of type ``kind`` (pydantic's, or "missing") on ``field``."""
    if field == "name":
        if kind == "string_too_long":
            return tr(request, "Use at most 200 characters for the name.")
        return tr(request, "Enter a name.")
    if field == "slug":
        if kind in ("missing", "string_too_short"):
            return tr(request, "Enter a slug.")
        if kind == "string_too_long":
            return tr(request, "Use at most 64 characters for the slug.")
        if kind == "taken":
            return tr(request, "This slug is already taken. Choose another one.")
        return tr(request, "Use lower-case letters, digits and hyphens, such as pixel-forge.")
    if field == "price":
        return tr(request, "Enter a price from 0 to 1,000,000, such as 19.99.")
    if field == "currency":
        return tr(request, "Enter a three-letter currency code, such as EUR.")
    if field == "description":
        return tr(request, "Use at most 20,000 characters for the description.")
    if field == "type":
        return tr(request, "Choose a product type.")
    if field == "license_type":
        return tr(request, "Choose a license type.")
    if field == "key_prefix":
        return tr(request, "Use two to four letters, such as PF.")
    if field in ProductCreate.model_fields and field in FIELD_IDS:
        low, high = _bounds(field)
        return tr(request, "Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
    return tr(request, "Check this field.")


def own_errors(request: Request, form: dict[str, str], *, price_ok: bool) -> dict[str, str]:
    """The form's own checks: a name and a slug are needed (also when editing, where the schema
    would read an empty field as "unchanged"), and a price must be one."""
    errors = {}
    for field in ("name", "slug"):
        if not form.get(field, "").strip():
            errors[field] = _sentence(request, field, "missing")
    if not price_ok:
        errors["price"] = _sentence(request, "price", "price")
    return errors


def schema_errors(request: Request, exc: ValidationError) -> tuple[dict[str, str], list[str]]:
    """Every field's first error from the product schema, and the errors of no field."""
    fields: dict[str, str] = {}
    general: list[str] = []
    for err in exc.errors():
        loc = err.get("loc", ())
        field = str(loc[0]) if loc else ""
        if field in FIELD_IDS:
            fields.setdefault(field, _sentence(request, field, str(err.get("type", ""))))
        else:
            general.append(tr(request, "The product could not be saved. Check the form."))
    return fields, general


def slug_taken(request: Request) -> dict[str, str]:
    return {"slug": _sentence(request, "slug", "taken")}


def error_context(
    request: Request, fields: dict[str, str], general: list[str] | None = None
) -> dict[str, Any]:
    """What the form template shows: ``field_errors`` in the form's order, the first invalid
    field (``autofocus``), and the summary's lines (label, id, sentence)."""
    ordered = {name: fields[name] for name in FIELD_IDS if name in fields}
    return {
        "field_errors": ordered,
        "first_invalid": next(iter(ordered), None),
        "error_summary": [
            (tr(request, _LABELS[name]), FIELD_IDS[name], sentence)
            for name, sentence in ordered.items()
        ],
        "errors": general or [],
    }
