"""Stored values (enum members) shown in words: one label for every member, in both languages."""

from __future__ import annotations

import enum

import pytest

from shipkey.catalog.models import LicenseType, ProductType
from shipkey.fulfilment.models import AccessKind
from shipkey.i18n import LABELS, label
from shipkey.licensing.models import LicenseStatus
from shipkey.mail.models import MailKind, MailStatus
from shipkey.orders.models import PurchaseStatus
from shipkey.payments.models import EventStatus

SHOWN = (
    ProductType,
    LicenseType,
    AccessKind,
    PurchaseStatus,
    LicenseStatus,
    MailStatus,
    MailKind,
    EventStatus,
)


@pytest.mark.parametrize("kind", SHOWN, ids=lambda kind: kind.__name__)
def test_every_member_has_a_label_in_both_languages(kind: type[enum.StrEnum]) -> None:
    for member in kind:
        assert f"{kind.__name__}.{member.value}" in LABELS, member
        english, german = label(member, "en"), label(member, "de")
        assert english != member.value, member
        assert german != member.value, member
        assert label(member.value, "de", kind.__name__) == german


def test_labels_by_kind() -> None:
    assert label(PurchaseStatus.PENDING, "de") == "Zahlung ausstehend"
    assert label(MailStatus.PENDING, "de") == "Wartend"
    assert label(MailKind.DELIVERY, "de") == "Lieferung"
    assert label(ProductType.LICENSE, "de") == "Lizenz"
    assert label("SOMETHING_NEW", "de", "ProductType") == "SOMETHING_NEW"
