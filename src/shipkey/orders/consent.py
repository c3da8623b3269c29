"""The buyer's consent to immediate delivery of digital content (§ 356 (5) BGB).

A buyer in the EU may withdraw from a purchase for 14 days. For digital content that is not
on a physical medium the right ends when delivery begins, but only if the buyer expressly
agreed that it begins before the period ends and acknowledged losing the right. With
``SHIPKEY_WITHDRAWAL_WAIVER=on`` the buyer agrees before paying, on the Checkout page and in
``POST /api/checkout``; the purchase records when, the words (with their version) and from
which address, and the delivery e-mail confirms it.

The words are kept here rather than in the translation catalogs: what a buyer agreed to must
stay exactly what they read. A change of wording gets a new :data:`VERSION`.
"""

from __future__ import annotations

VERSION = "2026-12-05"
TEXTS = {
    "en": (
        "I expressly agree that delivery of the digital content begins immediately, before the "
        "withdrawal period ends, and I acknowledge that I thereby lose my right of withdrawal."
    ),
    "de": (
        "Ich stimme ausdrücklich zu, dass mit der Bereitstellung der digitalen Inhalte vor Ablauf "
        "der Widerrufsfrist begonnen wird, und bestätige meine Kenntnis davon, dass ich mit "
        "Beginn der Bereitstellung mein Widerrufsrecht verliere."
    ),
}
STRIPE_VERSION = "stripe"
"""The version recorded for words shipkey did not write (a Payment Link's own)."""


def text_for(locale: str | None, default: str = "en") -> str:
    """The words in the buyer's language (``default`` for any other)."""
    return TEXTS.get(locale or default) or TEXTS.get(default) or TEXTS["en"]


def version_of(text: str) -> str:
    """:data:`VERSION` for shipkey's own words, :data:`STRIPE_VERSION` for anything else."""
    return VERSION if text in TEXTS.values() else STRIPE_VERSION
