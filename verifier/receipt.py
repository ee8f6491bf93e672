"""The verifier's side of receipts: its key, and a receipt built from its answers.

The format and the check are the foundation's (``certseal/receipt.py``), so that a third party
checks a receipt with the ``certseal`` command alone; this module only turns verifications into
a :class:`certseal.receipt.Receipt` and signs it with the verifier's receipt key, whose
certificate the operator publishes (``GET /api/v1/receipt-certificate``, docs/receipts.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certseal.errors import ConfigurationError
from certseal.pki import cert_pem, ec_public_key, load_certificates
from certseal.receipt import Receipt, ReceiptCheck, ReceiptFile, ReceiptReason, sign_receipt
from verifier.batch import BatchItem
from verifier.messages import reason_message
from verifier.result import Verification

KEY_FILE = "receipt-key.pem"
CERT_FILE = "receipt.pem"
PASSPHRASE_ENV = "CERTSEAL_RECEIPT_PASSPHRASE"  # noqa: S105 - a variable name


def receipt_file(item: BatchItem) -> ReceiptFile:
    """One answer as a receipt records it: codes, both languages' messages, no parameters lost."""
    v = item.verification
    return ReceiptFile(
        name=item.name,
        sha256=item.sha256,
        size=item.size,
        result=v.result,
        reasons=tuple(
            ReceiptReason(
                r.code,
                reason_message(r.code, "en", r.params),
                reason_message(r.code, "zh-TW", r.params),
            )
            for r in v.reasons
        ),
        checks=tuple(ReceiptCheck(c.name, c.status, c.detail) for c in v.checks),
        document=_document(v),
        status_list=None if v.status_list is None else v.status_list.to_dict(),
    )


def _document(v: Verification) -> dict[str, Any] | None:
    doc = v.document
    if doc is None or doc.type is None:
        return None
    out: dict[str, Any] = {
        "type": doc.type,
        "type_name": dict(doc.type_name or {}),
        "issuer": doc.issuer,
        "issuer_name": dict(doc.issuer_name or {}),
        "issued_at": doc.issued_at,
        "state": doc.state,
    }
    for key in ("successor", "superseded_at", "revoked_at", "revocation_reason"):
        value = getattr(doc, key)
        if value is not None:
            out[key] = value
    if v.verifications is not None:
        out["verifications"] = {"used": v.verifications[0], "limit": v.verifications[1]}
    return out


def build_receipt(
    items: Sequence[BatchItem], now: dt.datetime, verifier: str, *, counted: bool = True
) -> Receipt:
    return Receipt(
        receipt_id=secrets.token_hex(16),
        verifier=verifier,
        checked_at=now,
        files=tuple(receipt_file(i) for i in items),
        counted=counted,
    )


@dataclass(frozen=True)
class ReceiptSigner:
    """The verifier's receipt key and the certificate it publishes for it."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    name: str  # how receipts name this verifier: its address, as people know it

    @classmethod
    def load(cls, key_path: Path, cert_path: Path, name: str) -> ReceiptSigner:
        """Read the key (encrypted with ``CERTSEAL_RECEIPT_PASSPHRASE``, or plain with file
        mode 0600) and its certificate.

        Raises:
            ConfigurationError: missing, unreadable, or a key that is not the certificate's.
        """
        passphrase = os.environ.get(PASSPHRASE_ENV)
        try:
            key = serialization.load_pem_private_key(
                key_path.read_bytes(), passphrase.encode() if passphrase else None
            )
            cert = load_certificates(cert_path.read_bytes())[0]
        except (OSError, ValueError, TypeError) as e:
            raise ConfigurationError(
                f"cannot read the receipt key or certificate: {e}",
                f"無法讀取收據簽章金鑰或憑證：{e}",
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ConfigurationError(
                "the receipt key must be an ECDSA P-256 key", "收據簽章金鑰須為 ECDSA P-256 金鑰"
            )
        if ec_public_key(cert).public_numbers() != key.public_key().public_numbers():
            raise ConfigurationError(
                "the receipt key does not belong to the receipt certificate",
                "收據簽章金鑰與收據憑證不相符",
            )
        return cls(key, cert, name)

    def sign(self, items: Sequence[BatchItem], now: dt.datetime, *, counted: bool = True) -> bytes:
        return sign_receipt(
            build_receipt(items, now, self.name, counted=counted), self.key, self.certificate
        )

    def sign_json(self, items: Sequence[BatchItem], now: dt.datetime) -> Any:
        """The signed receipt as a JSON value, for an API answer (the checker canonicalises)."""
        return json.loads(self.sign(items, now))

    def certificate_pem(self) -> bytes:
        return cert_pem(self.certificate)


def new_receipt_key(out: Path, name: str, now: dt.datetime, days: int = 825) -> tuple[Path, Path]:
    """A new receipt key and its self-signed certificate in ``out``, for the operator to
    configure and publish. The key is encrypted with ``CERTSEAL_RECEIPT_PASSPHRASE`` if it is
    set, else written plain, readable by its owner only.

    Raises:
        ConfigurationError: the folder already holds a receipt key (never overwritten).
    """
    key_path, cert_path = out / KEY_FILE, out / CERT_FILE
    if key_path.exists() or cert_path.exists():
        raise ConfigurationError(
            f"{out} already holds a receipt key: receipts it signed must stay checkable",
            f"{out} 已有收據簽章金鑰：其簽署的收據必須仍可查驗",
        )
    out.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} receipts"[:64]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "certseal verifier"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    passphrase = os.environ.get(PASSPHRASE_ENV)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    cert_path.write_bytes(cert_pem(cert))
    return key_path, cert_path
