"""A real SMTP server for the delivery tests (aiosmtpd on 127.0.0.1): STARTTLS with a test
certificate, AUTH required, and an answer per address: ``defer…@`` gets 451, ``refuse…@`` gets
550, everyone else is accepted and the message kept as received."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from delivery.sink import free_port

SMTP_USER = "certseal"
SMTP_PASSWORD = "smtp-test-password-not-secret"


def write_tls_certificate(folder: Path, name: str = "smtp") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it as its CA file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test {name} 127.0.0.1")])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * 30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def write_dkim_key(path: Path) -> str:
    """An RSA DKIM key; returns the DNS TXT record a receiver would look up."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@dataclass
class Received:
    mail_from: str
    rcpt: str
    data: bytes


@dataclass
class Handler:
    """Answers per address; ``on_mail`` runs at each MAIL FROM (the crash test kills there)."""

    received: list[Received] = field(default_factory=list)
    on_mail: Callable[[int], None] | None = None
    on_data: Callable[[int], None] | None = None
    mails: int = 0
    unverified: bool = False  # accept recipients with 252 ("cannot verify, will try")

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.mails += 1
        if self.on_mail is not None:
            self.on_mail(self.mails)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        local = address.split("@")[0].lower()
        if local.startswith("defer"):
            return "451 4.2.1 mailbox busy, try again later"
        if local.startswith("refuse"):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        if self.unverified:
            return "252 2.1.5 cannot verify the mailbox, will try to deliver"
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            self.received.append(Received(envelope.mail_from, rcpt, envelope.original_content))
        if self.on_data is not None:
            self.on_data(len(self.received))
        return "250 2.0.0 queued"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    """The test server; ``cert`` is what the client must trust."""

    def __init__(self, folder: Path) -> None:
        self.cert, key = write_tls_certificate(folder)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, key)
        self.handler = Handler()
        self.port = free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=ctx,
            require_starttls=True,
            authenticator=_authenticate,
            auth_required=True,
            auth_require_tls=True,
        )

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received


class StallingSmtpServer:
    """A plain SMTP server on 127.0.0.1 (no TLS, no AUTH: ``security = "none"``) that stalls
    where told: ``stalls`` maps a connection's number (1, 2, …) to ``greeting``, ``ehlo``,
    ``data`` or ``quit``, where that connection then sends a continuation line (``220-``,
    ``250-``, ``221-``) every ``pause`` seconds for as long as the client listens: each wait
    for data is short, the whole never ends; to ``silent``: after the data it says nothing
    more; to ``hangup``: that connection accepts one message and then closes without a
    word; or to ``longline``: its answer to the data is one line longer than any server may
    send (RFC 5321 allows 512 octets; smtplib reads 8,192 at most). Other connections accept
    every message."""

    def __init__(self, stalls: dict[int, str], pause: float = 0.2) -> None:
        self.stalls = stalls
        self.pause = pause
        self.connections = 0
        self.accepted: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> StallingSmtpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            stall = self.stalls.get(self.connections)
            threading.Thread(target=self._session, args=(conn, stall), daemon=True).start()

    def _session(self, conn: socket.socket, stall: str | None) -> None:
        # OSError: the client dropped the connection, which is what a stall should end in.
        with conn, suppress(OSError), conn.makefile("rb") as lines:

            def say(line: str) -> None:
                conn.sendall(line.encode() + b"\r\n")

            def trickle(code: str) -> None:
                while not self._done.is_set():
                    say(f"{code}-still working")
                    time.sleep(self.pause)

            if stall == "greeting":
                trickle("220")
            say("220 test ESMTP")
            while not self._done.is_set():
                line = lines.readline()
                verb = line[:4].upper()
                if not line or verb == b"QUIT":
                    if stall == "quit":
                        trickle("221")
                    say("221 bye")
                    return
                if verb in (b"EHLO", b"HELO"):
                    if stall == "ehlo":
                        trickle("250")
                    say("250 test")
                elif verb == b"DATA":
                    say("354 go ahead")
                    data = b""
                    while (chunk := lines.readline()) not in (b"", b".\r\n"):
                        data += chunk
                    if stall == "data":
                        trickle("250")
                    if stall == "silent":
                        self._done.wait()
                    if stall == "longline":
                        say("250 " + "x" * 10_000)
                        continue
                    self.accepted.append(data)
                    say("250 queued")
                    if stall == "hangup":
                        return
                elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    say("250 OK")
                else:
                    say("502 not here")


T = TypeVar("T")


def finish_within(seconds: float, work: Callable[[], T]) -> T:
    """``work()`` run in a thread of its own: a call that hangs fails the test after
    ``seconds`` instead of holding the whole suite."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as e:
            error.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds:g} s: a server held it")
    if error:
        raise error[0]
    return result[0]
