"""The seller's pages at ``/admin``. Every change is a POST with the session's CSRF token; the
rules live in the domain services (and :mod:`shipkey.admin_ui.service`)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from shipkey.admin_ui import charts, service
from shipkey.catalog import service as catalog
from shipkey.catalog.models import LicenseType, Product, ProductType
from shipkey.catalog.schemas import ProductCreate, ProductUpdate
from shipkey.db.engine import Database
from shipkey.downloads import links as downloads
from shipkey.errors import NotFound, ShipkeyError, TooManyRequests
from shipkey.http.deps import (
    ClientDep,
    DatabaseDep,
    DbSession,
    ReadSession,
    SettingsDep,
    StorageDep,
)
from shipkey.licensing import service as licensing
from shipkey.licensing.models import License
from shipkey.mail import senders
from shipkey.mail import service as mail
from shipkey.mail.models import MailStatus
from shipkey.metrics import Metrics
from shipkey.orders import service as orders
from shipkey.orders.models import Purchase
from shipkey.portal import service as portal
from shipkey.sales import flows
from shipkey.web.csrf import CsrfChecked
from shipkey.web.errors import NeedsSignIn, PageError
from shipkey.web.render import money, page_locale, redirect, render, short_date_plain, tr
from shipkey.web.session import WebSessionDep, get_web_session, safe_next

router = APIRouter(prefix="/admin", tags=["pages: admin"], include_in_schema=False)
Posted = [CsrfChecked]


def current_admin(request: Request) -> str:
    admin = get_web_session(request).admin
    if admin is None:
        raise NeedsSignIn("/admin/login", request.url.path)
    return admin


AdminDep = Annotated[str, Depends(current_admin)]
Admin = [Depends(current_admin)]


def _not_found(request: Request, what: str) -> PageError:
    return PageError(404, tr(request, "Not found"), what)


# --- signing in -----------------------------------------------------------------------------


@router.get("/login")
def login_page(
    request: Request, settings: SettingsDep, next: Annotated[str | None, Query()] = None
) -> Response:
    return render(
        request,
        "admin/login.html",
        {"next": safe_next(next, "/admin"), "email_login": bool(settings.admin_email)},
    )


@router.post("/login", dependencies=Posted)
def sign_in_with_token(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    client: ClientDep,
    web_session: WebSessionDep,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/admin",
) -> Response:
    name = service.admin_name_for_token(session, settings, token)
    if name is None:
        limits: portal.LoginRateLimits = request.app.state.login_rate_limits
        try:
            limits.hit_failed_token(client.ip)
        except TooManyRequests as exc:
            raise PageError(429, tr(request, "Too many requests"), exc.message) from exc
        return render(
            request,
            "admin/login.html",
            {
                "next": next,
                "email_login": bool(settings.admin_email),
                "error": tr(request, "This admin token is not valid."),
            },
            status_code=401,
        )
    web_session.sign_in_admin(name)
    return redirect(request, safe_next(next, "/admin"))


@router.post("/login/email", dependencies=Posted)
def sign_in_by_email(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    client: ClientDep,
    email: Annotated[str, Form()] = "",
) -> Response:
    """A sign-in link to ``SHIPKEY_ADMIN_EMAIL``; the same answer for any other address."""
    address = portal.normalise_email(email) or ""
    limits: portal.LoginRateLimits = request.app.state.login_rate_limits
    try:
        limits.hit(client.ip, address)
    except TooManyRequests as exc:
        raise PageError(429, tr(request, "Too many requests"), exc.message) from exc
    portal.request_admin_link(session, settings, address, page_locale(request))
    return render(request, "portal/login_sent.html", {"email": address})


@router.post("/logout", dependencies=Posted)
def sign_out(request: Request, web_session: WebSessionDep) -> Response:
    web_session.sign_out()
    return redirect(request, "/admin/login")


# --- dashboard ------------------------------------------------------------------------------


@router.get("", dependencies=Admin)
def dashboard(request: Request, session: ReadSession) -> Response:
    numbers = service.dashboard(session)
    locale = page_locale(request)
    currency = numbers.revenue_currency or "EUR"

    def count_chart(chart_id: str, title: str, series: service.Series, unit: str) -> Any:
        return charts.bar_chart(
            chart_id,
            title,
            series.points,
            describe=lambda day, value: f"{short_date_plain(day, locale)}: {value:g} {unit}",
            integers=True,
        )

    sales_chart = count_chart(
        "sales", tr(request, "Sales per day"), numbers.sales, tr(request, "sales")
    )
    revenue_chart = charts.bar_chart(
        "revenue",
        tr(request, "Revenue per day (%(currency)s)", currency=currency),
        numbers.revenue_series.points,
        describe=lambda day, value: (
            f"{short_date_plain(day, locale)}: {money(int(value * 100), currency, locale)}"
        ),
    )
    deliveries_chart = count_chart(
        "deliveries",
        tr(request, "Delivery e-mails sent per day"),
        numbers.deliveries,
        tr(request, "e-mails"),
    )
    downloads_chart = count_chart(
        "downloads", tr(request, "Downloads per day"), numbers.downloads, tr(request, "downloads")
    )
    return render(
        request,
        "admin/dashboard.html",
        {
            "d": numbers,
            "charts": [
                (tr(request, "Sales per day"), sales_chart),
                (tr(request, "Revenue per day (%(currency)s)", currency=currency), revenue_chart),
                (tr(request, "Delivery e-mails sent per day"), deliveries_chart),
                (tr(request, "Downloads per day"), downloads_chart),
            ],
        },
    )


# --- products -------------------------------------------------------------------------------

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
    "license_days",
    "key_prefix",
)


def _cents(raw: str) -> int | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ValueError("price") from exc
    if not value.is_finite() or value < 0 or value > 1_000_000:
        raise ValueError("price")
    return int((value * 100).quantize(Decimal(1)))


def _product_values(form: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in PRODUCT_FIELDS:
        raw = form.get(name, "").strip()
        if name == "price":
            values[name] = _cents(raw)
        elif name == "license_type":
            values[name] = raw or None
        elif name in ("max_downloads", "link_ttl_hours", "max_activations", "license_days"):
            values[name] = (
                int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else (raw or None)
            )
        else:
            values[name] = raw or None
    values["stamp"] = form.get("stamp") == "on"
    return values


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err.get("loc", ()))
        out.append(f"{field}: {err.get('msg', '')}" if field else str(err.get("msg", "")))
    return out


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
            "license_days": str(product.license_days or ""),
            "key_prefix": product.key_prefix or "",
            "stamp": "on" if product.stamp else "",
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
        },
        "product_types": [t.value for t in ProductType],
        "license_types": [t.value for t in LicenseType],
    }


@router.get("/products", dependencies=Admin)
def products(request: Request, session: ReadSession) -> Response:
    return render(
        request,
        "admin/products.html",
        {"products": catalog.list_products(session), **_product_form_context(None, None)},
    )


@router.post("/products", dependencies=[*Admin, *Posted])
async def create_product(request: Request, db: DatabaseDep) -> Response:
    form = await _form(request)
    try:
        values = _product_values(form)
        data = ProductCreate.model_validate({k: v for k, v in values.items() if v is not None})
        with db.session() as session:
            product = catalog.create_product(session, data)
            product_id = product.id
    except ValueError as exc:
        errors = (
            _errors(exc) if isinstance(exc, ValidationError) else [tr(request, "Invalid price.")]
        )
        return _product_errors(request, db, None, form, errors)
    except ShipkeyError as exc:
        return _product_errors(request, db, None, form, [exc.message])
    get_web_session(request).notify(tr(request, "The product was created."))
    return redirect(request, f"/admin/products/{product_id}")


def _product_errors(
    request: Request,
    db: Database,
    product: Product | None,
    form: dict[str, str],
    errors: list[str],
) -> Response:
    with db.read_session() as session:
        listing = catalog.list_products(session) if product is None else []
    template = "admin/products.html" if product is None else "admin/product.html"
    return render(
        request,
        template,
        {"products": listing, "errors": errors, **_product_form_context(product, form)},
        status_code=422,
    )


@router.get("/products/{ref}", dependencies=Admin)
def product_page(request: Request, ref: str, session: ReadSession) -> Response:
    try:
        product = catalog.get_product(session, ref)
    except NotFound as exc:
        raise _not_found(request, exc.message) from exc
    return render(request, "admin/product.html", _product_form_context(product, None))


@router.post("/products/{ref}", dependencies=[*Admin, *Posted])
async def edit_product(request: Request, ref: str, db: DatabaseDep) -> Response:
    form = await _form(request)
    with db.read_session() as session:
        try:
            current = catalog.get_product(session, ref)
        except NotFound as exc:
            raise _not_found(request, exc.message) from exc
    try:
        values = _product_values(form)
        values["active"] = form.get("active") == "on"
        data = ProductUpdate.model_validate(values)
        with db.session() as session:
            catalog.update_product(session, catalog.get_product(session, ref), data)
    except ValueError as exc:
        errors = (
            _errors(exc) if isinstance(exc, ValidationError) else [tr(request, "Invalid price.")]
        )
        return _product_errors(request, db, current, form, errors)
    except ShipkeyError as exc:
        return _product_errors(request, db, current, form, [exc.message])
    get_web_session(request).notify(tr(request, "Saved."))
    return redirect(request, f"/admin/products/{current.id}")


@router.put("/products/{ref}/file", dependencies=[*Admin, *Posted])
async def upload_file(
    request: Request,
    ref: str,
    db: DatabaseDep,
    storage: StorageDep,
    filename: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    """The upload script's target: the body is the file, streamed into storage."""
    uploaded = await catalog.upload_file(
        db, storage, ref, filename, request.headers.get("content-type"), request.stream()
    )
    metrics: Metrics = request.app.state.metrics
    metrics.uploaded_bytes.inc(uploaded.file_size)
    return JSONResponse(
        {
            "fileName": uploaded.file_name,
            "fileSize": uploaded.file_size,
            "fileMimeType": uploaded.file_mime_type,
            "sha256": uploaded.sha256,
        }
    )


# --- purchases ------------------------------------------------------------------------------


@router.get("/purchases", dependencies=Admin)
def purchases(
    request: Request, session: ReadSession, q: Annotated[str, Query(max_length=320)] = ""
) -> Response:
    return render(
        request,
        "admin/purchases.html",
        {"purchases": service.search_purchases(session, q), "q": q},
    )


def _purchase(request: Request, session: Session, purchase_id: str) -> Purchase:
    try:
        return orders.get_purchase(session, purchase_id)
    except NotFound as exc:
        raise _not_found(request, exc.message) from exc


@router.get("/purchases/{purchase_id}", dependencies=Admin)
def purchase_page(request: Request, purchase_id: str, session: ReadSession) -> Response:
    purchase = _purchase(request, session, purchase_id)
    view = portal.purchase_view(session, purchase)
    return render(
        request,
        "admin/purchase.html",
        {
            "purchase": purchase,
            "view": view,
            "messages": service.messages_for(session, purchase.id),
        },
    )


PurchaseAction = Callable[[Request, Session, Any, Purchase], str]


def _resend(request: Request, session: Session, settings: Any, purchase: Purchase) -> str:
    service.resend_delivery(session, settings, purchase)
    return tr(request, "The delivery e-mail was queued again.")


def _refund(request: Request, session: Session, settings: Any, purchase: Purchase) -> str:
    flows.refund(session, settings, purchase)
    return tr(request, "Refunded: links ended and licenses revoked.")


def _reset(request: Request, session: Session, settings: Any, purchase: Purchase) -> str:
    service.reset_download_count(session, purchase)
    return tr(request, "The download count was reset.")


def _link(request: Request, session: Session, settings: Any, purchase: Purchase) -> str:
    link = downloads.issue_link(session, purchase, settings.base_url)
    get_web_session(request).notify(tr(request, "A new download link:"), "link", url=link.url)
    return ""


PURCHASE_ACTIONS: dict[str, PurchaseAction] = {
    "resend": _resend,
    "refund": _refund,
    "reset-downloads": _reset,
    "download-link": _link,
}


@router.post("/purchases/{purchase_id}/add-downloads", dependencies=[*Admin, *Posted])
def add_downloads(
    request: Request,
    purchase_id: str,
    session: DbSession,
    web_session: WebSessionDep,
    count: Annotated[str, Form()] = "",
) -> Response:
    purchase = _purchase(request, session, purchase_id)
    try:
        service.add_downloads(
            session,
            purchase,
            int(count) if count.isascii() and count.isdigit() and len(count) < 7 else 0,
        )
    except ShipkeyError as exc:
        web_session.notify(exc.message, "error")
    else:
        web_session.notify(tr(request, "Downloads added."))
    return redirect(request, f"/admin/purchases/{purchase.id}")


@router.post("/purchases/{purchase_id}/{action}", dependencies=[*Admin, *Posted])
def purchase_action(
    request: Request,
    purchase_id: str,
    action: str,
    session: DbSession,
    settings: SettingsDep,
    web_session: WebSessionDep,
) -> Response:
    handler = PURCHASE_ACTIONS.get(action)
    if handler is None:
        raise _not_found(request, tr(request, "No such action."))
    purchase = _purchase(request, session, purchase_id)
    try:
        message = handler(request, session, settings, purchase)
    except ShipkeyError as exc:
        web_session.notify(exc.message, "error")
    else:
        if message:
            web_session.notify(message)
    return redirect(request, f"/admin/purchases/{purchase.id}")


# --- licenses -------------------------------------------------------------------------------


@router.get("/licenses", dependencies=Admin)
def licenses(
    request: Request, session: ReadSession, q: Annotated[str, Query(max_length=320)] = ""
) -> Response:
    found = service.search_licenses(session, q)
    emails = service.customer_emails(session, [lic.customer_id for lic in found])
    return render(request, "admin/licenses.html", {"licenses": found, "emails": emails, "q": q})


def _license(request: Request, session: Session, license_id: str) -> License:
    try:
        return licensing.lookup(session, license_id)
    except NotFound as exc:
        raise _not_found(request, exc.message) from exc


@router.get("/licenses/{license_id}", dependencies=Admin)
def license_page(request: Request, license_id: str, session: ReadSession) -> Response:
    lic = _license(request, session, license_id)
    emails = service.customer_emails(session, [lic.customer_id])
    return render(
        request,
        "admin/license.html",
        {
            "lic": lic,
            "email": emails.get(lic.customer_id, ""),
            "activations": licensing.list_activations(session, lic.id),
        },
    )


LICENSE_ACTIONS: dict[str, Callable[[Session, License], object]] = {
    "suspend": licensing.suspend,
    "reinstate": licensing.reinstate,
    "revoke": licensing.revoke,
    "reset-activations": licensing.reset_activations,
}


@router.post("/licenses/{license_id}/{action}", dependencies=[*Admin, *Posted])
def license_action(
    request: Request,
    license_id: str,
    action: str,
    session: DbSession,
    web_session: WebSessionDep,
    back: Annotated[str, Form()] = "",
) -> Response:
    handler = LICENSE_ACTIONS.get(action)
    if handler is None:
        raise _not_found(request, tr(request, "No such action."))
    lic = _license(request, session, license_id)
    try:
        handler(session, lic)
    except ShipkeyError as exc:
        web_session.notify(exc.message, "error")
    else:
        web_session.notify(
            tr(request, "License %(key)s: %(status)s", key=lic.key, status=lic.status.value)
        )
    return redirect(request, safe_next(back, f"/admin/licenses/{lic.id}"))


# --- deliveries, webhooks, mailbox ----------------------------------------------------------


@router.get("/deliveries", dependencies=Admin)
def deliveries(
    request: Request, session: ReadSession, status: Annotated[str, Query(max_length=10)] = ""
) -> Response:
    wanted = MailStatus(status) if status in MailStatus.__members__ else None
    return render(
        request,
        "admin/deliveries.html",
        {"messages": mail.list_messages(session, wanted, 200), "status": status},
    )


@router.post("/deliveries/{message_id}/retry", dependencies=[*Admin, *Posted])
def retry_delivery(
    request: Request, message_id: str, session: DbSession, web_session: WebSessionDep
) -> Response:
    try:
        mail.retry(session, message_id)
    except NotFound as exc:
        raise _not_found(request, exc.message) from exc
    except ShipkeyError as exc:
        web_session.notify(exc.message, "error")
    else:
        web_session.notify(tr(request, "The e-mail will be sent again."))
    return redirect(request, "/admin/deliveries")


@router.get("/webhooks", dependencies=Admin)
def webhooks(request: Request, session: ReadSession) -> Response:
    return render(request, "admin/webhooks.html", {"events": service.webhook_events(session)})


@router.get("/mailbox", dependencies=Admin)
def mailbox(request: Request, settings: SettingsDep) -> Response:
    smtp = settings.smtp_url is not None and bool(settings.smtp_url.get_secret_value())
    entries = senders.list_mailbox(senders.mailbox_dir(settings))
    return render(request, "admin/mailbox.html", {"entries": entries, "smtp": smtp})


@router.get("/mailbox/{name}", dependencies=Admin)
def mailbox_message(request: Request, name: str, settings: SettingsDep) -> Response:
    message = senders.read_mailbox(senders.mailbox_dir(settings), name)
    if message is None:
        raise _not_found(request, tr(request, "No such message in the dev mailbox."))
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return render(
        request,
        "admin/mailbox_message.html",
        {
            "name": name,
            "message": message,
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else "",
        },
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
