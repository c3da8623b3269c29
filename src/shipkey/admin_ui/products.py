"""The product pages: the list with a form for a new product, and one product's form. A form
that is refused (a bad price, a field out of range, a slug taken) is shown again as typed, 422,
with every field's error next to it (:mod:`shipkey.admin_ui.product_form`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ValidationError
from starlette.responses import Response

from shipkey.admin_ui.pages import Admin, Posted, admin_router
from shipkey.admin_ui.product_form import error_context, own_errors, schema_errors, slug_taken
from shipkey.catalog import service as catalog
from shipkey.catalog.models import LicenseType, Product, ProductType
from shipkey.catalog.schemas import ProductCreate, ProductUpdate
from shipkey.errors import ShipkeyError
from shipkey.http.deps import DbSession, ReadSession, SettingsDep
from shipkey.licensing import pools
from shipkey.releases import service as releases
from shipkey.releases.models import Channel
from shipkey.sales import key_pools
from shipkey.schemas import FORM
from shipkey.web.errors import form_on_error
from shipkey.web.render import redirect, render, tr
from shipkey.web.session import get_web_session

router = admin_router()

PRODUCT_FIELDS = (
    "name",
    "slug",
    "type",
    "price",
    "currency",
    "description",
    "max_downloads",
    "link_ttl_hours",
    "license_type",
    "max_activations",
    "max_deactivations",
    "license_file_days",
    "license_days",
    "key_prefix",
)
_NUMBERS = (
    "max_downloads",
    "link_ttl_hours",
    "max_activations",
    "max_deactivations",
    "license_file_days",
    "license_days",
)


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields, as typed (to show the form again)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormFields = Annotated[dict[str, str], Depends(form_fields)]


_PRICE = re.compile(r"[0-9]{1,9}(?:\.[0-9]{0,9})?|\.[0-9]{1,9}")
"""A price as typed, in ASCII digits with a decimal point or comma."""


def _cents(raw: str) -> int | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    if _PRICE.fullmatch(raw) is None:  # Decimal() would take "1_0", "١٢" and "１０"
        raise ValueError("price")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ValueError("price") from exc
    if not value.is_finite() or value < 0 or value > 1_000_000:
        raise ValueError("price")
    return int((value * 100).quantize(Decimal(1)))


def _product_values(form: dict[str, str]) -> tuple[dict[str, Any], bool]:
    """The form's fields as the product schemas take them, and whether the price was one (a
    price that is not is left out, so that every other field is still checked)."""
    values: dict[str, Any] = {}
    price_ok = True
    for name in PRODUCT_FIELDS:
        raw = form.get(name, "").strip()
        if name == "price":
            try:
                values[name] = _cents(raw)
            except ValueError:
                values[name], price_ok = None, False
        elif name == "license_type":
            values[name] = raw or None
        elif name in _NUMBERS:
            values[name] = (
                int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else (raw or None)
            )
        else:
            values[name] = raw or None
    values["stamp"] = form.get("stamp") == "on"
    return values, price_ok


def _checked(
    request: Request,
    form: dict[str, str],
    schema: type[ProductCreate] | type[ProductUpdate],
    **extra: Any,
) -> tuple[Any, dict[str, Any]]:
    """The form read into ``schema``, or None and every error of every field at once."""
    values, price_ok = _product_values(form)
    values.update(extra)
    errors = own_errors(request, form, price_ok=price_ok)
    general: list[str] = []
    if schema is ProductCreate:
        values = {k: v for k, v in values.items() if v is not None}
    try:
        data = schema.model_validate(values, context=FORM)
    except ValidationError as exc:
        fields, general = schema_errors(request, exc)
        errors = {**fields, **errors}
        data = None
    if errors or general:
        return None, error_context(request, errors, general)
    return data, {}


def _domain_errors(request: Request, exc: ShipkeyError) -> dict[str, Any]:
    """A refusal of the catalog as the form shows it: a slug taken is the slug's error."""
    if exc.code == "SLUG_TAKEN":
        return error_context(request, slug_taken(request))
    return error_context(request, {}, [exc.message])


def _product_form_context(product: Product | None, form: dict[str, str] | None) -> dict[str, Any]:
    if form is None and product is not None:
        form = {
            "name": product.name,
            "slug": product.slug,
            "type": product.type.value,
            "price": f"{product.price / 100:.2f}",
            "currency": product.currency,
            "description": product.description,
            "max_downloads": str(product.max_downloads),
            "link_ttl_hours": str(product.link_ttl_hours),
            "license_type": product.license_type.value if product.license_type else "",
            "max_activations": str(product.max_activations),
            "max_deactivations": str(product.max_deactivations),
            "license_file_days": str(product.license_file_days),
            "license_days": str(product.license_days or ""),
            "key_prefix": product.key_prefix or "",
            "stamp": "on" if product.stamp else "",
            "active": "on" if product.active else "",
        }
    return {
        "product": product,
        "form": form
        or {
            "type": "DOWNLOAD",
            "currency": "EUR",
            "max_downloads": "5",
            "link_ttl_hours": "24",
            "max_activations": "3",
            "max_deactivations": "3",
            "license_file_days": "7",
        },
        "product_types": [t.value for t in ProductType],
        "license_types": [t.value for t in LicenseType],
    }


def _refused_form(
    request: Request,
    listing: Sequence[Product],
    product: Product | None,
    form: dict[str, str],
    errors: dict[str, Any],
) -> Response:
    """The new-product form (with the list) or ``product``'s form again, as typed, with
    ``errors`` (:func:`shipkey.admin_ui.product_form.error_context`)."""
    template = "admin/products.html" if product is None else "admin/product.html"
    return render(
        request,
        template,
        {"products": listing, **errors, **_product_form_context(product, form)},
        status_code=422,
    )


@router.get("/products", dependencies=Admin)
def products(request: Request, session: ReadSession) -> Response:
    return render(
        request,
        "admin/products.html",
        {"products": catalog.list_products(session), **_product_form_context(None, None)},
    )


@router.post("/products", dependencies=[*Admin, *Posted])
def create_product(request: Request, form: FormFields, session: DbSession) -> Response:
    # The list is read before the write: a form the catalog refuses is shown again without
    # reading after a failed write.
    listing = catalog.list_products(session)
    data, errors = _checked(request, form, ProductCreate)
    if data is None:
        return _refused_form(request, listing, None, form, errors)
    with form_on_error(
        lambda exc: _refused_form(request, listing, None, form, _domain_errors(request, exc))
    ):
        product = catalog.create_product(session, data)
    get_web_session(request).notify(tr(request, "The product was created."))
    return redirect(request, f"/admin/products/{product.id}")


@router.get("/products/{ref}", dependencies=Admin)
def product_page(request: Request, ref: str, session: ReadSession) -> Response:
    product = catalog.get_product(session, ref)
    context = _product_form_context(product, None)
    context["releases"] = releases.list_releases(session, product.id)
    context["channels"] = [c.value for c in Channel]
    if product.license_type is not None:
        context["key_pool"] = pools.available(session, product.id)
    return render(request, "admin/product.html", context)


@router.post("/products/{ref}/key-pool", dependencies=[*Admin, *Posted])
def add_pool_keys(
    request: Request, ref: str, form: FormFields, session: DbSession, settings: SettingsDep
) -> Response:
    """Keys pasted into the product page's key pool form, one a line."""
    product = catalog.get_product(session, ref)
    added = key_pools.add_keys(session, settings, product.id, form.get("keys", "").splitlines())
    message = tr(
        request,
        "%(added)s keys added, %(duplicates)s duplicates left out; %(available)s available.",
        added=added.added,
        duplicates=added.duplicates,
        available=added.available,
    )
    get_web_session(request).notify(message)
    return redirect(request, f"/admin/products/{product.id}")


@router.post("/products/{ref}", dependencies=[*Admin, *Posted])
def edit_product(request: Request, ref: str, form: FormFields, session: DbSession) -> Response:
    product = catalog.get_product(session, ref)
    data, errors = _checked(request, form, ProductUpdate, active=form.get("active") == "on")
    if data is None:
        return _refused_form(request, [], product, form, errors)
    with form_on_error(
        lambda exc: _refused_form(request, [], product, form, _domain_errors(request, exc))
    ):
        catalog.update_product(session, product, data)
    get_web_session(request).notify(tr(request, "Saved."))
    return redirect(request, f"/admin/products/{product.id}")
