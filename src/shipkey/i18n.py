"""The languages shipkey speaks: Babel catalogs (kept as ``.po`` files and compiled in memory
when first used, so no binary ``.mo`` file lives in the repository) and the formats every page
and e-mail shares."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel.support import NullTranslations
    from jinja2 import Environment, Undefined

# Babel and Jinja2 are imported by the first translation, date or template: a server process
# that has rendered nothing (it only validated licenses, served files, took webhooks) does not
# hold them (about 3 MiB with the page helpers, bench/README.md "Footprint").

PACKAGE_DIR = Path(__file__).resolve().parent
TRANSLATIONS_DIR = PACKAGE_DIR / "translations"
SOURCE_LOCALE = "en"
LOCALES = ("en", "de")


def normalise_locale(locale: str | None, default: str = SOURCE_LOCALE) -> str:
    """``de-DE``, ``de_AT`` → ``de``; anything unsupported → ``default``."""
    if locale:
        language = locale.replace("-", "_").split("_")[0].lower()
        if language in LOCALES:
            return language
    return default if default in LOCALES else SOURCE_LOCALE


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> NullTranslations:
    """The catalog for ``locale``, compiled from its ``.po`` file (English needs none)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    if locale == SOURCE_LOCALE:
        return NullTranslations()
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def format_when(value: datetime, locale: str) -> str:
    """A point in time for people: ``29 November 2026 14:05 UTC`` in the buyer's language."""
    from babel.dates import format_date, format_time

    when = value.astimezone(UTC)
    date = format_date(when, "long", locale=locale)
    return f"{date} {format_time(when, 'HH:mm', tzinfo=UTC, locale=locale)} UTC"


def spoken_locale(locale: str | None) -> str | None:
    """The language of a locale (``de-CH`` → ``de``) when shipkey speaks it, else None."""
    language = locale.replace("-", "_").split("_")[0].lower() if locale else None
    return language if language in LOCALES else None


def jinja_environment(
    template_dir: Path,
    locale: str,
    *,
    undefined: type[Undefined] | None = None,
    escape_strings: bool,
    keep_trailing_newline: bool = False,
) -> Environment:
    """Jinja2 over the package's own ``template_dir``, speaking ``locale``: gettext from the
    catalog (``{% trans %}``, trimmed), ``.html`` templates autoescaped; ``undefined``:
    Jinja2's ``Undefined`` unless given."""
    from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(template_dir),
        auto_reload=False,  # the package's own templates: no stat() of the file per render
        autoescape=select_autoescape(
            enabled_extensions=("html",), default_for_string=escape_strings
        ),
        undefined=undefined or Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(locale), newstyle=True
    )
    return env


# --- labels of stored values ----------------------------------------------------------------


def N_(message: str) -> str:  # noqa: N802 - the name gettext's extractors know
    """A message marked for translation, translated where it is shown."""
    return message


LABELS: dict[str, str] = {
    "ProductType.DOWNLOAD": N_("Download"),
    "ProductType.LICENSE": N_("License"),
    "ProductType.SUBSCRIPTION": N_("Subscription"),
    "ProductType.COURSE": N_("Course"),
    "ProductType.MEMBERSHIP": N_("Membership"),
    "LicenseType.PERPETUAL": N_("Perpetual"),
    "LicenseType.SUBSCRIPTION": N_("Subscription"),
    "LicenseType.TRIAL": N_("Trial"),
    "AccessKind.COURSE": N_("Course"),
    "AccessKind.MEMBERSHIP": N_("Membership"),
    "AccessKind.SUBSCRIPTION": N_("Subscription"),
    "PurchaseStatus.PENDING": N_("Awaiting payment"),
    "PurchaseStatus.COMPLETED": N_("Paid"),
    "PurchaseStatus.FAILED": N_("Payment failed"),
    "PurchaseStatus.REFUNDED": N_("Refunded"),
    "PurchaseStatus.DISPUTED": N_("Disputed"),
    "LicenseStatus.ACTIVE": N_("Active"),
    "LicenseStatus.SUSPENDED": N_("Suspended"),
    "LicenseStatus.REVOKED": N_("Revoked"),
    "LicenseStatus.EXPIRED": N_("Expired"),
    "MailStatus.PENDING": N_("Waiting"),
    "MailStatus.SENT": N_("Sent"),
    "MailStatus.FAILED": N_("Failed"),
    "MailKind.delivery": N_("Delivery"),
    "MailKind.payment_failed": N_("Payment failed"),
    "MailKind.revoked": N_("Access ended"),
    "MailKind.seller_alert": N_("Seller alert"),
    "MailKind.login": N_("Sign-in link"),
    "DeliveryStatus.PENDING": N_("Waiting"),
    "DeliveryStatus.DELIVERED": N_("Delivered"),
    "DeliveryStatus.FAILED": N_("Failed"),
    "MailKind.risk_flagged": N_("Risk alert"),
    "MailKind.fraud_refund": N_("Refund after a fraud warning"),
    "MailKind.dispute_evidence": N_("Dispute evidence attached"),
    "RiskKind.DOWNLOAD_SHARING": N_("Links fetched from many networks"),
    "RiskKind.KEY_SHARING": N_("Key used from many networks"),
    "RiskKind.ACTIVATION_CHURN": N_("Activations that come and go"),
    "RiskKind.REPEAT_REFUNDER": N_("Buyer with several refunds"),
    "RiskKind.SIGN_IN_SHARING": N_("Buyer signed in from many networks"),
    "RiskKind.FRAUD_WARNING": N_("Stripe early fraud warning"),
    "RiskStatus.OPEN": N_("Open"),
    "RiskStatus.CLEARED": N_("Cleared"),
    "EventStatus.RECEIVED": N_("Received"),
    "EventStatus.PROCESSED": N_("Processed"),
    "EventStatus.WAITING": N_("Waiting for its purchase"),
    "EventStatus.IGNORED": N_("Ignored"),
    "EventStatus.FAILED": N_("Failed"),
}
"""The one mapping of stored values (enum members: product and license types, purchase,
license, mail and event statuses, mail kinds) to the words pages show, keyed by the enum's
class name and the value."""


def label(value: object, locale: str, kind: str | None = None) -> str:
    """``value`` (an enum member, or its value with the enum's name as ``kind``) in words, in
    ``locale``; a value without a label is shown as it is."""
    raw = getattr(value, "value", value)
    message = LABELS.get(f"{kind or type(value).__name__}.{raw}")
    return translations(locale).gettext(message) if message else str(raw)
