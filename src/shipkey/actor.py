"""Who is acting in a unit of work, and what they asked for: the seller through the admin API
(a token's name), the admin pages (the name they signed in with) or the command line
(``cli:<user>``), from which address.

A boundary names the actor on a *holder* (a request's ``state``, or the command line's
:class:`ActorSource`) and notes the action it is about to run (:func:`note`); the session it
opens points at that holder (:func:`act_as`). The audit log (:mod:`shipkey.audit`) writes the
noted actions into the same transaction just before it commits, so an action and its entry
commit together or not at all. A session without an actor (a Stripe event, the worker, a
buyer's request) records nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_KEY = "shipkey.actor"
_CURRENT: ContextVar[ActorSource | None] = ContextVar("shipkey_actor", default=None)


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    """The admin token's name, the signed-in seller's name, or ``cli:<user>``."""
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """An admin action to record: its name, the object it acts on, and the change."""

    action: str
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class ActorSource:
    """Holds who acts and what they asked for; ``holder`` is anything with attributes (a
    request's ``state``), read when the session commits (the admin check may run after the
    session was opened)."""

    def __init__(self, holder: Any = None) -> None:
        self.holder: Any = holder if holder is not None else _Holder()

    @property
    def actor(self) -> Actor | None:
        actor = getattr(self.holder, "actor", None)
        return actor if isinstance(actor, Actor) else None

    def set_actor(self, actor: Actor) -> None:
        self.holder.actor = actor

    def note(self, entry: Note) -> None:
        notes = getattr(self.holder, "audit_notes", None)
        if notes is None:
            notes = []
            self.holder.audit_notes = notes
        notes.append(entry)

    def take_notes(self) -> list[Note]:
        notes: list[Note] = list(getattr(self.holder, "audit_notes", None) or [])
        if notes:
            self.holder.audit_notes = []
        return notes


class _Holder:
    actor: Actor | None = None
    audit_notes: list[Note] | None = None


def act_as(session: Session, source: ActorSource | None) -> None:
    """Point ``session`` at who acts (``None``: nobody in particular)."""
    session.info[_KEY] = source


def source_of(session: Session) -> ActorSource | None:
    value = session.info.get(_KEY)
    return value if isinstance(value, ActorSource) else None


def current_actor(session: Session) -> Actor | None:
    source = source_of(session)
    return source.actor if source is not None else None


def current_source() -> ActorSource | None:
    """The source of the request (or command) being handled, if it named one."""
    return _CURRENT.get()


@contextmanager
def acting(source: ActorSource) -> Iterator[ActorSource]:
    """Every write session opened inside (in this context, and in threads it hands work to)
    points at ``source``."""
    token = _CURRENT.set(source)
    try:
        yield source
    finally:
        try:
            _CURRENT.reset(token)
        except ValueError:  # left in another context (an exit run elsewhere): nothing to undo
            _CURRENT.set(None)
