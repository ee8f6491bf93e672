"""Signed verification receipts: what a verifier checked, when, and what it answered.

A receipt is read by a third party long after the verification (an admissions office's auditor,
a court), with nothing but the ``certseal`` command and the verifier's published certificate.
So its format, its signature check and its errors live here, in the foundation, and the
verifier only builds and signs them (``verifier/receipt.py``); ``docs/receipts.md`` describes
the format for people who re-implement the check.

The envelope is the status list's (``certseal/statuslist.py``): the canonical JSON of
``signed`` (``certseal/canonical.py``), signed with ECDSA P-256/SHA-256 in raw ``r || s`` form,
named by key id (SHA-256 of the key's SubjectPublicKeyInfo). One addition: the envelope carries
the verifier's certificate, so that a checker who pinned its fingerprint needs nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certseal.canonical import canonical_bytes, load_json_object
from certseal.errors import (
    CertsealError,
    DeserializationError,
    SignatureVerificationError,
)
from certseal.pki import (
    cert_fingerprint,
    cert_pem,
    ec_public_key,
    key_id,
    load_certificates,
    sign_raw,
    verify_raw,
)
from certseal.timeutil import format_time, parse_time

RECEIPT_TYPE = "certseal/receipt"
SPEC_VERSION = "1.0"
VERDICTS = ("success", "warning", "failure")
CHECK_STATUSES = ("passed", "failed", "skipped")
MAX_RECEIPT_BYTES = 16 << 20  # a receipt of 1,000 files is about 2 MB
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,60}$")


class ReceiptError(CertsealError):
    """A receipt cannot be relied on; the message says why."""

    code = "receipt"


class ReceiptFormatError(ReceiptError, DeserializationError):
    """The file is not a receipt in the documented format."""

    code = "receipt_format"


class ReceiptSignatureError(ReceiptError, SignatureVerificationError):
    """The receipt's signature does not hold: altered after signing, or signed by another key."""

    code = "receipt_signature"


class ReceiptKeyError(ReceiptError):
    """The verifier certificate given cannot vouch for this receipt (wrong key, not yet valid or
    expired when the receipt was signed, or not the fingerprint pinned)."""

    code = "receipt_key"


class ReceiptFileError(ReceiptError):
    """A file given to compare is not one the receipt lists (other bytes than were checked)."""

    code = "receipt_file"


def _fail(what: str) -> ReceiptFormatError:
    return ReceiptFormatError(f"not a valid receipt: {what}", f"不是有效的驗證收據：{what}")


def _str(d: Mapping[str, Any], key: str, what: str, *, optional: bool = False) -> Any:
    value = d.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _fail(f"{what} {key} must be text")
    return value


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(f"{what} must be a whole number")
    return value


@dataclass(frozen=True)
class ReceiptReason:
    """One reason of a verdict: its stable code and the message shown, in both languages."""

    code: str
    en: str
    zh: str

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE.match(self.code):
            raise _fail(f"reason code {self.code!r}")
        if not isinstance(self.en, str) or not isinstance(self.zh, str):
            raise _fail("reason messages must be text")

    @classmethod
    def from_dict(cls, d: object) -> ReceiptReason:
        if not isinstance(d, Mapping):
            raise _fail("a reason must be an object")
        return cls(d.get("code"), d.get("en"), d.get("zh"))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "en": self.en, "zh": self.zh}


@dataclass(frozen=True)
class ReceiptCheck:
    """One check as run: its name, its status and the key of its detail message."""

    name: str
    status: str
    detail: str

    def __post_init__(self) -> None:
        if not all(isinstance(v, str) and _CODE.match(v) for v in (self.name, self.detail)):
            raise _fail("a check's name and detail must be codes")
        if self.status not in CHECK_STATUSES:
            raise _fail(f"check status {self.status!r}")

    @classmethod
    def from_dict(cls, d: object) -> ReceiptCheck:
        if not isinstance(d, Mapping):
            raise _fail("a check must be an object")
        return cls(d.get("name"), d.get("status"), d.get("detail"))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class ReceiptFile:
    """One file checked: its name as given, its bytes' hash and size, and the answer."""

    name: str
    sha256: str | None  # None: refused before it was read in full (too large)
    size: int
    result: str
    reasons: tuple[ReceiptReason, ...] = ()
    checks: tuple[ReceiptCheck, ...] = ()
    # What the issuer's status list says of the document (type, issuer, issued_at, state...).
    document: Mapping[str, Any] | None = None
    # The status list the answer used: issuer, version, issued_at, expires, checkpoint.
    status_list: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise _fail("a file name must be text")
        if self.sha256 is not None and (
            not isinstance(self.sha256, str) or not _HEX64.match(self.sha256)
        ):
            raise _fail("a file's sha256 must be 64 lower-case hex digits")
        _int(self.size, "a file's size")
        if self.result not in VERDICTS:
            raise _fail(f"verdict {self.result!r}")
        if (self.result == "success") != (not self.reasons):
            raise _fail("a success has no reasons, and only a success")
        for value, what in ((self.document, "document"), (self.status_list, "status_list")):
            if value is not None and not isinstance(value, Mapping):
                raise _fail(f"a file's {what} must be an object")

    @classmethod
    def from_dict(cls, d: object) -> ReceiptFile:
        if not isinstance(d, Mapping):
            raise _fail("a file must be an object")
        reasons, checks = d.get("reasons", []), d.get("checks", [])
        if not isinstance(reasons, list) or not isinstance(checks, list):
            raise _fail("a file's reasons and checks must be lists")
        return cls(
            name=_str(d, "name", "file"),
            sha256=_str(d, "sha256", "file", optional=True),
            size=d.get("size"),  # type: ignore[arg-type]
            result=_str(d, "result", "file"),
            reasons=tuple(ReceiptReason.from_dict(r) for r in reasons),
            checks=tuple(ReceiptCheck.from_dict(c) for c in checks),
            document=d.get("document"),
            status_list=d.get("status_list"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "result": self.result,
            "reasons": [r.to_dict() for r in self.reasons],
            "checks": [c.to_dict() for c in self.checks],
            "document": None if self.document is None else dict(self.document),
            "status_list": None if self.status_list is None else dict(self.status_list),
        }


@dataclass(frozen=True)
class Receipt:
    """What one verifier answered for one request (one file, or a batch), and when."""

    receipt_id: str
    verifier: str  # the verifier's name or address, as its operator set it
    checked_at: dt.datetime
    files: tuple[ReceiptFile, ...]
    counted: bool = True  # False: an offline check, which cannot count verifications
    extra: Mapping[str, Any] = field(default_factory=dict)  # unknown fields are kept

    def __post_init__(self) -> None:
        if not isinstance(self.receipt_id, str) or not re.match(r"^[0-9a-f]{32}$", self.receipt_id):
            raise _fail("receipt_id must be 32 lower-case hex digits")
        if not isinstance(self.verifier, str) or not self.verifier:
            raise _fail("the verifier must be named")
        if self.checked_at.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        if not self.files:
            raise _fail("a receipt lists at least one file")

    @property
    def result(self) -> str:
        """The worst verdict of its files."""
        return max((f.result for f in self.files), key=VERDICTS.index)

    @property
    def status_lists(self) -> tuple[Mapping[str, Any], ...]:
        """Each status-list version the answers used, once."""
        out: dict[tuple[Any, Any], Mapping[str, Any]] = {}
        for f in self.files:
            if f.status_list is not None:
                out.setdefault(
                    (f.status_list.get("issuer"), f.status_list.get("version")), f.status_list
                )
        return tuple(out.values())

    def to_signed(self) -> dict[str, Any]:
        return {
            **self.extra,
            "_type": RECEIPT_TYPE,
            "spec_version": SPEC_VERSION,
            "receipt_id": self.receipt_id,
            "verifier": self.verifier,
            "checked_at": format_time(self.checked_at),
            "counted": self.counted,
            "result": self.result,
            "status_lists": [dict(s) for s in self.status_lists],
            "files": [f.to_dict() for f in self.files],
        }

    @classmethod
    def from_signed(cls, d: Mapping[str, Any]) -> Receipt:
        if d.get("_type") != RECEIPT_TYPE:
            raise _fail(f"expected a {RECEIPT_TYPE} document")
        spec = d.get("spec_version")
        if not isinstance(spec, str) or spec.split(".")[0] != SPEC_VERSION.split(".")[0]:
            raise _fail(f"unsupported spec_version {spec!r}")
        files = d.get("files")
        if not isinstance(files, list):
            raise _fail("files must be a list")
        if not isinstance(d.get("counted"), bool):
            raise _fail("counted must be true or false")
        try:
            checked_at = parse_time(d.get("checked_at"), "checked_at")
        except DeserializationError as e:
            raise _fail(e.en) from None
        receipt = cls(
            receipt_id=_str(d, "receipt_id", "receipt"),
            verifier=_str(d, "verifier", "receipt"),
            checked_at=checked_at,
            files=tuple(ReceiptFile.from_dict(f) for f in files),
            counted=d["counted"],
            extra={k: v for k, v in d.items() if k not in _KNOWN},
        )
        # Derived fields are signed too; a receipt whose summary disagrees with its own files
        # was not made by a verifier, whatever key signed it.
        if d.get("result") != receipt.result:
            raise _fail("the overall result is not the worst of the files' results")
        if d.get("status_lists") != [dict(s) for s in receipt.status_lists]:
            raise _fail("status_lists do not match the files' status lists")
        return receipt


_KNOWN = {
    "_type",
    "spec_version",
    "receipt_id",
    "verifier",
    "checked_at",
    "counted",
    "result",
    "status_lists",
    "files",
}


def sign_receipt(
    receipt: Receipt, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> bytes:
    """The receipt's bytes: the signed body, its signature, and the verifier's certificate."""
    if key_id(key.public_key()) != key_id(ec_public_key(certificate)):
        raise ReceiptKeyError(
            "the receipt key does not belong to the receipt certificate",
            "收據簽章金鑰與收據憑證不相符",
        )
    signed = receipt.to_signed()
    envelope = {
        "signed": signed,
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": sign_raw(key, canonical_bytes(signed))}
        ],
        "certificate": cert_pem(certificate).decode("ascii"),
    }
    return canonical_bytes(envelope)


@dataclass(frozen=True)
class CheckedReceipt:
    """A receipt whose signature held, and the certificate that vouched for it."""

    receipt: Receipt
    certificate: x509.Certificate

    @property
    def fingerprint(self) -> str:
        return cert_fingerprint(self.certificate)


def embedded_certificate(data: bytes) -> x509.Certificate:
    """The certificate a receipt carries (not trusted by itself: pin its fingerprint)."""
    d = load_receipt_json(data)
    pem = d.get("certificate")
    if not isinstance(pem, str):
        raise _fail("it carries no certificate")
    try:
        return load_certificates(pem.encode("ascii"))[0]
    except (CertsealError, UnicodeEncodeError):
        raise _fail("its certificate cannot be read") from None


def load_receipt_json(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_RECEIPT_BYTES:
        raise _fail(f"larger than {MAX_RECEIPT_BYTES:,} bytes")
    try:
        return load_json_object(data, "receipt")
    except DeserializationError:
        raise _fail("it is not JSON") from None


def check_receipt(
    data: bytes,
    *,
    certificates: Sequence[x509.Certificate] = (),
    pin: str | None = None,
) -> CheckedReceipt:
    """Check a receipt against the verifier certificates the checker trusts.

    Trust comes from the checker, never from the receipt: ``certificates`` obtained from the
    verifier's operator, or ``pin``, the SHA-256 fingerprint of its certificate as the operator
    announces it (then the certificate the receipt carries is used if it matches).

    Raises:
        ReceiptFormatError: not a receipt in the format.
        ReceiptKeyError: no trusted certificate, the pin does not match, or the certificate was
            not valid when the receipt says it was signed.
        ReceiptSignatureError: the receipt was changed after signing, or signed by another key.
    """
    d = load_receipt_json(data)
    signed, sigs = d.get("signed"), d.get("signatures")
    if not isinstance(signed, dict) or not isinstance(sigs, list) or not sigs:
        raise _fail("it must have 'signed' and 'signatures'")
    trusted = list(certificates)
    if pin is not None:
        carried = embedded_certificate(data)
        if _norm_fingerprint(cert_fingerprint(carried)) != _norm_fingerprint(pin):
            raise ReceiptKeyError(
                "the certificate in the receipt is not the one whose fingerprint you pinned: "
                "it was not signed by that verifier",
                "收據中的憑證與您指定的指紋不符：此收據並非由該驗證服務簽署",
            )
        trusted.append(carried)
    if not trusted:
        raise ReceiptKeyError(
            "give the verifier's certificate or its fingerprint: a receipt proves nothing "
            "with the certificate it carries alone",
            "請提供驗證服務的憑證或其指紋：僅憑收據自帶的憑證無法證明任何事",
        )
    by_id = {key_id(ec_public_key(c)): c for c in trusted}
    try:
        payload = canonical_bytes(signed)
    except (UnicodeEncodeError, DeserializationError):
        raise _fail("it holds text or numbers that cannot have been signed") from None
    for s in sigs:
        if not isinstance(s, dict) or not isinstance(s.get("keyid"), str):
            raise _fail("a signature entry is malformed")
        cert = by_id.get(s["keyid"])
        if cert is None:
            continue
        sig = s.get("sig")
        if not isinstance(sig, str):
            raise _fail("a signature must be text")
        try:
            verify_raw(ec_public_key(cert), payload, sig)
        except SignatureVerificationError:
            raise ReceiptSignatureError(
                "the receipt does not match its signature: it was changed after the verifier "
                "signed it",
                "收據內容與其簽章不符：收據在驗證服務簽署後遭到修改",
            ) from None
        receipt = Receipt.from_signed(signed)
        _check_validity(cert, receipt.checked_at)
        return CheckedReceipt(receipt, cert)
    raise ReceiptSignatureError(
        "the receipt is not signed by the verifier key you trust",
        "此收據並非由您信任的驗證服務金鑰所簽署",
    )


def _check_validity(cert: x509.Certificate, at: dt.datetime) -> None:
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise ReceiptKeyError(
            f"the verifier's certificate was not valid at {format_time(at)}, when the receipt "
            "says it was signed",
            f"收據所載的簽署時間 {format_time(at)}，驗證服務的憑證並不在有效期間內",
        )


def _norm_fingerprint(text: str) -> str:
    return text.replace(":", "").strip().lower()


def fingerprint_hex(cert: x509.Certificate) -> str:
    """The certificate's SHA-256 fingerprint as plain lower-case hex (what ``--pin`` takes)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def match_files(receipt: Receipt, files: Mapping[str, bytes]) -> dict[str, ReceiptFile]:
    """Which listed file each given file is, by its hash; a file not listed is an error.

    Raises:
        ReceiptFileError: a file's bytes are not any the receipt lists.
    """
    by_hash = {f.sha256: f for f in receipt.files if f.sha256 is not None}
    out = {}
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        listed = by_hash.get(digest)
        if listed is None:
            raise ReceiptFileError(
                f"{name}: these bytes are not among the files the receipt lists",
                f"{name}：此檔案內容不在收據所列的檔案之中",
            )
        out[name] = listed
    return out
