"""How applying a Stripe event can end: it took effect (an :class:`Outcome`), it must wait for
its purchase (:class:`NotYet`), or it never can (:class:`Unprocessable`). The effects and the
purchase lookups raise these; the event log records them (:mod:`shipkey.payments.events`)."""

from __future__ import annotations

from dataclasses import dataclass

from shipkey.payments.models import EventStatus


class NotYet(Exception):  # noqa: N818 - reads as "not yet (there)"
    """The event refers to a purchase that is not there yet; apply it later."""


class Unprocessable(Exception):  # noqa: N818
    """The event can never take effect (an unknown product, no buyer); kept as FAILED."""


@dataclass(frozen=True)
class Outcome:
    """What an event did, and to which purchase."""

    status: EventStatus
    purchase_id: str | None = None
