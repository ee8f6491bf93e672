"""One e-mail per recipient: bilingual text, the signed PDF attached byte for byte, DKIM.

The bytes of a delivery's message are a function of the delivery alone (its Message-ID, the
time it was queued as Date, a MIME boundary derived from its id): a retry after a crash sends
the same message, which a receiving system can recognise by its Message-ID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

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
_POLICY = policy.SMTP  # CRLF line ends, as sent


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


def _address(name: str, addr: str) -> Address:
    user, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=user, domain=domain)


def compose(letter: Letter) -> bytes:
    """The message as it goes on the wire (CRLF), before DKIM."""
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = _address(letter.sender_name, letter.sender)
    msg["To"] = _address(letter.to_name, letter.to)
    if letter.reply_to:
        msg["Reply-To"] = letter.reply_to
    msg["Subject"] = letter.subject
    msg["Date"] = format_datetime(letter.queued_at.astimezone(dt.UTC))
    msg["Message-ID"] = letter.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Certseal-Delivery"] = letter.delivery_id
    # Base64 keeps the Chinese text 7-bit: not every server speaks 8BITMIME or SMTPUTF8.
    msg.set_content(letter.body, charset="utf-8", cte="base64")
    msg.add_attachment(
        letter.attachment, maintype="application", subtype="pdf", filename=letter.filename
    )
    msg.set_boundary("=_certseal_" + hashlib.sha256(letter.delivery_id.encode()).hexdigest()[:32])
    return msg.as_bytes(policy=_POLICY)


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
