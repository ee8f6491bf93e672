"""One e-mail per recipient: bilingual text, the signed PDF attached byte for byte, DKIM.

The bytes of a delivery's message are a function of the delivery alone (its Message-ID, the
time it was queued as Date, a MIME boundary derived from its id): a retry after a crash sends
the same message, which a receiving system can recognise by its Message-ID.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from delivery.errors import DeliveryConfigError

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
)


@dataclass(frozen=True)
class Letter:
    """Everything a message says; :func:`compose` turns it into bytes."""

    delivery_id: str
    message_id: str
    sender: str
    sender_name: str
    to: str
    to_name: str
    subject: str
    body: str
    queued_at: dt.datetime
    attachment: bytes
    filename: str
    reply_to: str | None = None


@dataclass(frozen=True)
class DkimKey:
    """A DKIM signing key, checked when loaded: a bad key stops the run before any sending."""

    domain: str
    selector: str
    pem: bytes  # PKCS#1, the form dkimpy reads

    @classmethod
    def from_pem(cls, domain: str, selector: str, data: bytes) -> DkimKey:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as e:
            raise DeliveryConfigError(
                f"the DKIM key is not an unencrypted PEM private key: {e}",
                "DKIM 金鑰不是未加密的 PEM 私鑰",
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
            raise DeliveryConfigError(
                "the DKIM key must be an RSA key of at least 1024 bits (2048 recommended)",
                "DKIM 金鑰須為至少 1024 位元的 RSA 金鑰（建議 2048）",
            )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return cls(domain, selector, pem)

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header in front (relaxed/simple, rsa-sha256)."""
        present = {
            line.split(b":", 1)[0].strip().lower()
            for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if line and line[:1] not in (b" ", b"\t")
        }
        header = dkim.sign(
            message,
            self.selector.encode(),
            self.domain.encode(),
            self.pem,
            include_headers=[h for h in SIGNED_HEADERS if h in present],
        )
        return bytes(header) + message


def _headers(letter: Letter, boundary: str) -> bytes:
    """The header block. ``email.header`` writes the RFC 2047 words: the modern policy's
    folding took longer than signing and sending the message together."""
    subject = Header(letter.subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
    items = [
        ("From", formataddr((letter.sender_name, letter.sender), charset="utf-8")),
        ("To", formataddr((letter.to_name, letter.to), charset="utf-8")),
        *([("Reply-To", letter.reply_to)] if letter.reply_to else []),
        ("Subject", subject),
        ("Date", format_datetime(letter.queued_at.astimezone(dt.UTC))),
        ("Message-ID", letter.message_id),
        ("Auto-Submitted", "auto-generated"),
        ("X-Certseal-Delivery", letter.delivery_id),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/mixed;\r\n boundary="{boundary}"'),
    ]
    return "".join(f"{name}: {value}\r\n" for name, value in items).encode("ascii")


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def compose(letter: Letter) -> bytes:
    """The message as it goes on the wire (CRLF), before DKIM. Written directly: the standard
    library's generator re-folds a large base64 attachment line by line, slowly."""
    boundary = "=_certseal_" + hashlib.sha256(letter.delivery_id.encode()).hexdigest()[:32]
    b = boundary.encode()
    # Base64 keeps the Chinese text 7-bit: not every server speaks 8BITMIME or SMTPUTF8.
    return b"".join(
        (
            _headers(letter, boundary),
            b"\r\n--" + b + b"\r\n",
            b'Content-Type: text/plain; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            _base64(letter.body.encode("utf-8")),
            b"--" + b + b"\r\n",
            b"Content-Type: application/pdf\r\n",
            b'Content-Disposition: attachment; filename="' + _filename(letter.filename) + b'"\r\n',
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            _base64(letter.attachment),
            b"--" + b + b"--\r\n",
        )
    )


def _filename(name: str) -> bytes:
    if not name.isascii() or any(c in name for c in '"\\\r\n'):
        raise ValueError(f"attachment name {name!r} must be plain ASCII")
    return name.encode()


def attachments(message: bytes) -> list[tuple[str, bytes]]:
    """The attached files of a message, decoded: (filename, bytes)."""
    parsed = message_from_bytes(message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    out = []
    for part in parsed.iter_attachments():
        assert isinstance(part, EmailMessage)
        data = part.get_payload(decode=True)
        out.append((part.get_filename() or "", data if isinstance(data, bytes) else b""))
    return out
