"""A real SMTP server for tests: aiosmtpd on a loopback port, recording what it accepts.

It can stall on chosen DATA commands (to kill a worker mid-send), hold every message after the
first few unanswered until told to go on (a drain stopped mid-way), refuse recipients, speak
STARTTLS or implicit TLS with a certificate from a throw-away CA, and require a login.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shipkey.mail.senders import close_connection


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _encrypted(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


@dataclass
class Received:
    message: EmailMessage
    rcpt_tos: list[str]
    tls: bool
    authenticated: bool
    at: float = field(default_factory=time.monotonic)
    """When it was accepted (``time.monotonic()``)."""


@dataclass
class Recorder:
    """The aiosmtpd handler: keeps every accepted message."""

    stall_on: set[int] = field(default_factory=set)
    hold_after: int | None = None
    """Accept this many messages, then leave each further one unanswered after its data while
    this stays set: a message whose client goes away meanwhile is not accepted; the others are
    once it is set back to None."""
    held: int = 0
    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    data_calls: int = 0
    stalled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.data_calls += 1
            call = self.data_calls
        if call in self.stall_on:
            self.stalled.set()
            await asyncio.sleep(3600)  # cancelled when the server stops
        if await self._held_back(server, call) is not None:
            return "421 4.3.0 Connection closed"
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(
                Received(
                    message=message,
                    rcpt_tos=list(envelope.rcpt_tos),
                    tls=session.ssl is not None or _encrypted(server),
                    authenticated=bool(session.authenticated),
                )
            )
        return "250 Message accepted for delivery"

    async def _held_back(self, server: SMTP, call: int) -> str | None:
        """Wait while ``hold_after`` holds this message back; why it is not to be accepted."""
        limit = self.hold_after
        if limit is None or call <= limit:
            return None
        with self.lock:
            self.held += 1
        try:
            while self.hold_after is not None:
                await asyncio.sleep(0.02)  # cancelled when the client goes away
        finally:
            with self.lock:
                self.held -= 1
        if server.transport is None or server.transport.is_closing():
            return "the client went away"
        return None

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages()]


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(directory: Path) -> Certificates:
    """A CA and a server certificate for localhost / 127.0.0.1 signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shipkey test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class Authenticator:
    """Accepts one user name and password."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user.encode()
        self.password = password.encode()

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.user
            and data.password == self.password
        )
        return AuthResult(success=ok)


class SmtpTestServer:
    """An aiosmtpd server that can be stopped and started again on the same port."""

    def __init__(
        self,
        recorder: Recorder | None = None,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        authenticator: Authenticator | None = None,
        auth_require_tls: bool = True,
    ) -> None:
        self.recorder = recorder or Recorder()
        self.auth_require_tls = auth_require_tls
        self.port = free_port()
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.authenticator = authenticator
        self._controller: Controller | None = None

    def url(self, scheme: str = "smtp", credentials: str = "") -> str:
        userinfo = f"{credentials}@" if credentials else ""
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}"

    def start(self) -> None:
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 10}
        if self.starttls is not None:
            kwargs["tls_context"] = self.starttls
        if self.implicit_tls is not None:
            kwargs["ssl_context"] = self.implicit_tls
        if self.authenticator is not None:
            kwargs["authenticator"] = self.authenticator
            kwargs["auth_require_tls"] = self.auth_require_tls
        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        # shipkey keeps its connection open between messages: the test's own thread closes it
        # first, or the server would stop with that session open.
        close_connection()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
