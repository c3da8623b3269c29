"""Where e-mail goes: an SMTP server (``SHIPKEY_SMTP_URL``) or, when none is set, the dev mailbox.

The SMTP sender speaks ``smtp://`` (STARTTLS whenever the server offers it) and ``smtps://``
(TLS from the first byte); it logs in when the URL carries a user. Certificates are verified
against the system's CAs, or only against ``SHIPKEY_SMTP_CA_FILE`` when that is set.

A worker thread keeps its SMTP connection open between messages sent within
:data:`SMTP_REUSE_SECONDS` of each other (checked with ``RSET`` before each reuse), so a burst
of orders costs one connection, not one per message: connecting, ``EHLO``, TLS and login cost
more than sending a message, on both sides.

The dev mailbox writes each message as an ``.eml`` file under ``<data dir>/mailbox/``, whole or
not at all (written aside, then renamed into place).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.jobs.registry import PermanentError
from shipkey.mail.render import fit_for_address, header_line

MAILBOX_DIR = "mailbox"
SMTP_TIMEOUT = 30.0
SMTP_REUSE_SECONDS = 10.0
"""An open connection idle longer than this is closed instead of used again (servers drop idle
clients after a while; RFC 5321 asks them to wait at least five minutes)."""
_MAILBOX_NAME = re.compile(r"^[0-9]{8}T[0-9]{12}-[0-9a-f]{8}\.eml$")


class InsecureLogin(ConnectionError):
    """The URL has a password but the connection is not encrypted: it is not sent."""


class MailRefused(PermanentError):
    """The server refused the recipient for good (5xx): retrying cannot deliver it."""


@dataclass(frozen=True)
class Outgoing:
    """A rendered message as it leaves the database."""

    id: str
    to_address: str
    subject: str
    text_body: str
    html_body: str
    created_at: datetime


class Sender(Protocol):
    def send(self, message: EmailMessage) -> None: ...


# --- building messages ---------------------------------------------------------------------


def mail_domain(base_url: str) -> str:
    """The host of the public URL, for ``Message-ID`` and ``EHLO``."""
    return urlsplit(base_url).hostname or "localhost"


def message_id_for(message_id: str, base_url: str) -> str:
    """The ``Message-ID`` of one outbox row: the same for every attempt, so a copy sent twice
    (a worker killed between the server's answer and recording it) is recognisably one message.
    """
    domain = mail_domain(base_url)
    if _is_ip(domain):
        domain = f"[{domain}]"
    return f"<{message_id}@{domain}>"


def build_email(outgoing: Outgoing, settings: Settings) -> EmailMessage:
    """multipart/alternative: plain text first, then HTML."""
    if not fit_for_address(outgoing.to_address):
        raise PermanentError(f"not an e-mail address: {outgoing.to_address!r}")
    email = EmailMessage()
    email["Subject"] = header_line(
        outgoing.subject
    )  # rows queued before subjects were cleaned, too
    email["From"] = settings.mail_from
    email["To"] = outgoing.to_address
    email["Date"] = format_datetime(outgoing.created_at)
    email["Message-ID"] = message_id_for(outgoing.id, settings.base_url)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(outgoing.text_body)
    email.add_alternative(outgoing.html_body, subtype="html")
    return email


# --- SMTP ----------------------------------------------------------------------------------


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class SmtpServer:
    """A parsed ``SHIPKEY_SMTP_URL``."""

    implicit_tls: bool
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SHIPKEY_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("SHIPKEY_SMTP_URL has no host")
        implicit = parts.scheme == "smtps"
        return cls(
            implicit_tls=implicit,
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class _Slot:
    """A thread's open SMTP connection (or None), to the server ``key`` names."""

    def __init__(self) -> None:
        self.key: tuple[object, ...] = ()
        self.client: smtplib.SMTP | None = None
        self.used_at = 0.0

    def take(self) -> tuple[tuple[object, ...], smtplib.SMTP, float] | None:
        client, self.client = self.client, None
        return None if client is None else (self.key, client, self.used_at)

    def keep(self, key: tuple[object, ...], client: smtplib.SMTP) -> None:
        self.key, self.client, self.used_at = key, client, time.monotonic()

    def __del__(self) -> None:  # the thread ended: its locals go, and the socket with them
        if self.client is not None:
            self.client.close()


_threads = threading.local()


def _held() -> _Slot:
    """The calling thread's slot, made on first use."""
    slot: _Slot | None = getattr(_threads, "slot", None)
    if slot is None:
        slot = _threads.slot = _Slot()
    return slot


def close_connection() -> None:
    """Close the calling thread's open SMTP connection, if it has one."""
    held = _held().take()
    if held is not None:
        _close(held[1])


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


class SmtpSender:
    """Sends through ``SHIPKEY_SMTP_URL``, reusing the calling thread's open connection."""

    def __init__(
        self,
        url: str,
        *,
        ca_file: Path | None = None,
        timeout: float = SMTP_TIMEOUT,
        local_hostname: str | None = None,
    ) -> None:
        self.server = SmtpServer.parse(url)
        self.ca_file = ca_file
        self.timeout = timeout
        self.local_hostname = local_hostname or "localhost"
        self._key = (url, ca_file, timeout, self.local_hostname)

    def tls_context(self) -> ssl.SSLContext:
        if self.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.ca_file))
        return ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        if server.implicit_tls:
            return smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self.tls_context(),
            )
        return smtplib.SMTP(
            server.host, server.port, local_hostname=self.local_hostname, timeout=self.timeout
        )

    def _open(self) -> smtplib.SMTP:
        """A new connection, greeted, encrypted where possible and logged in."""
        client = self._connect()
        try:
            client.ehlo()
            secure = self.server.implicit_tls
            if not secure and client.has_extn("starttls"):
                client.starttls(context=self.tls_context())
                client.ehlo()
                secure = True
            if self.server.username is not None:
                if not secure:
                    raise InsecureLogin(
                        f"{self.server.host} offers no STARTTLS: the SMTP password is not sent "
                        "without TLS (use smtps:// or a server that offers STARTTLS)"
                    )
                client.login(self.server.username, self.server.password or "")
        except BaseException:
            _close(client)
            raise
        return client

    def _reuse(self) -> smtplib.SMTP | None:
        """This thread's open connection to this server, when it is recent and still answers."""
        held = _held().take()
        if held is None:
            return None
        key, client, used_at = held
        if key != self._key or time.monotonic() - used_at > SMTP_REUSE_SECONDS:
            _close(client)
            return None
        try:
            client.rset()  # a clean transaction, and proof that the server still listens
        except (smtplib.SMTPException, OSError):
            client.close()
            return None
        return client

    def send(self, message: EmailMessage) -> None:
        client = self._reuse() or self._open()
        try:
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            _close(client)
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(500 <= code < 600 for code in codes):
                raise MailRefused(f"the server refused the recipient: {exc.recipients}") from exc
            raise
        except BaseException:
            client.close()
            raise
        _held().keep(self._key, client)


# --- the dev mailbox -----------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxEntry:
    name: str
    subject: str
    to: str
    sender: str
    date: datetime | None
    message_id: str
    size: int


class MailboxSender:
    """Writes each message to ``<directory>/<time>-<random>.eml``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{secrets.token_hex(4)}.eml"
        data = message.as_bytes(policy=policy.SMTP)
        tmp = self.directory / f".{name}.tmp"
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.directory / name)


def mailbox_dir(settings: Settings) -> Path:
    return settings.resolved_data_dir / MAILBOX_DIR


def _entry(path: Path) -> MailboxEntry:
    with path.open("rb") as handle:
        headers = BytesHeaderParser(policy=policy.default).parse(handle)
    try:
        date = parsedate_to_datetime(str(headers["Date"])) if headers["Date"] else None
    except (TypeError, ValueError):
        date = None
    return MailboxEntry(
        name=path.name,
        subject=str(headers["Subject"] or ""),
        to=str(headers["To"] or ""),
        sender=str(headers["From"] or ""),
        date=date,
        message_id=str(headers["Message-ID"] or ""),
        size=path.stat().st_size,
    )


def list_mailbox(directory: Path, limit: int = 200) -> list[MailboxEntry]:
    """The newest messages in the dev mailbox first."""
    if not directory.is_dir():
        return []
    names = sorted(
        (p.name for p in directory.iterdir() if _MAILBOX_NAME.match(p.name)), reverse=True
    )
    return [_entry(directory / name) for name in names[:limit]]


def read_mailbox(directory: Path, name: str) -> EmailMessage | None:
    """One message of the dev mailbox by file name; None when there is no such message."""
    if not _MAILBOX_NAME.match(name):
        return None
    path = directory / name
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        parsed = BytesParser(policy=policy.default).parse(handle)
    return parsed if isinstance(parsed, EmailMessage) else None


def sender_for(settings: Settings) -> Sender:
    """SMTP when ``SHIPKEY_SMTP_URL`` is set, else the dev mailbox in the data dir."""
    if settings.smtp_url is not None and settings.smtp_url.get_secret_value():
        domain = mail_domain(settings.base_url)
        return SmtpSender(
            settings.smtp_url.get_secret_value(),
            ca_file=settings.smtp_ca_file,
            local_hostname=f"[{domain}]" if _is_ip(domain) else domain,
        )
    return MailboxSender(mailbox_dir(settings))
