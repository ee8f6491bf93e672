"""A school's published key history: every certificate it signed with, and when each counts.

Published next to the status list (``status/keys/<version>.json``) in the status list's signed
envelope, and pinned by the signed snapshot (its ``key_history`` field: path, hash, length), so
a host can neither withhold it nor serve an older one. The records are the trust list's
(:class:`certseal.trustlist.KeyRecord`: ``valid_from``/``valid_to``, ``revoked_at`` and
``reason``), each with its certificate; the federation judges keys from the same records.

The rule a single school's verifier applies (:func:`judge`) is the national one: a document
counts when the key that signed it was valid at the issuance time the status list proves, and
not revoked before it; a key compromised after that issuance needs the log to show the
document before the compromise (``valid_if_logged``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certseal.canonical import load_json_object
from certseal.errors import DeserializationError, FormatError
from certseal.statuslist import FileRef, open_envelope, sign_envelope
from certseal.timeutil import format_time, parse_time
from certseal.trustlist import KeyCheck, KeyRecord, check_key_history, key_outcome

TYPE = "certseal/key-history"
SNAPSHOT_FIELD = "key_history"
MAX_BYTES = 4 << 20


def history_path(version: int) -> str:
    """Where version ``version`` is published, under ``status/``: a new file each time."""
    return f"keys/{version}.json"


@dataclass(frozen=True)
class KeyHistory:
    """Every certificate of one school (both roles), in the order they were added."""

    issuer: str
    version: int
    issued_at: dt.datetime
    records: tuple[KeyRecord, ...]
    certs: Mapping[str, bytes]
    """Each record's certificate (DER), by its SHA-256."""

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, str) or not self.issuer:
            raise FormatError("a key history names its issuer")
        if type(self.version) is not int or self.version < 1:
            raise FormatError("a key history's version is a positive integer")
        check_key_history((), self.records)  # no certificate twice
        for r in self.records:
            der = self.certs.get(r.cert_sha256)
            if der is None or hashlib.sha256(der).hexdigest() != r.cert_sha256:
                raise FormatError(f"key {r.cert_sha256[:16]}… comes without its certificate")

    def certificate(self, cert_sha256: str) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certs[cert_sha256])

    def record(self, cert_sha256: str) -> KeyRecord | None:
        return next((r for r in self.records if r.cert_sha256 == cert_sha256), None)

    def signing_key_at(self, at: dt.datetime) -> KeyRecord | None:
        """The document-signing key whose window holds ``at``, revoked or not: the one the
        authority signed with then."""
        held = [r for r in self.records if r.role == "signing" and r.valid_from <= at < r.valid_to]
        return held[-1] if held else None

    @cached_property
    def says_more(self) -> bool:
        """Whether the history can change a verdict: more than one signing key, or a
        revocation. A school that never rotated gets no extra check, nor its cost. Worked out
        once: a history never changes (a new version is a new object), and every listed
        document's answer asks."""
        signing = [r for r in self.records if r.role == "signing"]
        return len(signing) > 1 or any(r.revoked_at is not None for r in self.records)

    def with_records(self, records: Iterable[KeyRecord], certs: Mapping[str, bytes],
                     at: dt.datetime) -> KeyHistory:  # fmt: skip
        """The next version; raises FormatError when it rewrites this one (history only grows)."""
        new = tuple(records)
        check_key_history(self.records, new)
        return KeyHistory(self.issuer, self.version + 1, at, new, {**self.certs, **certs})

    def to_dict(self) -> dict[str, Any]:
        return {
            "_type": TYPE,
            "issuer": self.issuer,
            "version": self.version,
            "issued_at": format_time(self.issued_at),
            "keys": [
                {**r.to_dict(), "cert": base64.b64encode(self.certs[r.cert_sha256]).decode()}
                for r in self.records
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> KeyHistory:
        try:
            if d.get("_type") != TYPE:
                raise FormatError(f"not a key history (_type {d.get('_type')!r})")
            keys = d.get("keys")
            if not isinstance(keys, list):
                raise FormatError("a key history's keys must be a list")
            records, certs = [], {}
            for k in keys:
                if not isinstance(k, Mapping) or not isinstance(k.get("cert"), str):
                    raise FormatError("a key record must carry its certificate")
                der = base64.b64decode(k["cert"], validate=True)
                body = {n: v for n, v in k.items() if n != "cert"}
                record = KeyRecord.from_dict(body, len(der))
                records.append(record)
                certs[record.cert_sha256] = der
            return cls(
                str(d.get("issuer") or ""),
                d.get("version"),  # type: ignore[arg-type]
                parse_time(d.get("issued_at"), "key history issued_at"),
                tuple(records),
                certs,
            )
        except (ValueError, TypeError) as e:
            raise DeserializationError(
                f"the key history is malformed: {e}", f"金鑰歷程格式錯誤：{e}"
            ) from e

    @classmethod
    def from_certificates(
        cls, issuer: str, certs: Iterable[tuple[x509.Certificate, str]], at: dt.datetime
    ) -> KeyHistory:
        """The first version: each certificate valid over its own validity."""
        records, ders = [], {}
        for cert, role in certs:
            record = KeyRecord.from_certificate(cert, role)
            records.append(record)
            ders[record.cert_sha256] = cert.public_bytes(serialization.Encoding.DER)
        return cls(issuer, 1, at, tuple(records), ders)

    def sign(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        """The published file: this history in the status list's envelope."""
        return sign_envelope(self.to_dict(), key)

    @classmethod
    def open(
        cls, data: bytes, key_lookup: Callable[[str], ec.EllipticCurvePublicKey | None]
    ) -> KeyHistory:
        """Check the envelope's signature by a status-list key; the history it holds."""
        if len(data) > MAX_BYTES:
            raise DeserializationError("the key history is too large", "金鑰歷程檔過大")
        return cls.from_dict(open_envelope(data, "key history", key_lookup))


def snapshot_ref(history: KeyHistory, published: bytes) -> dict[str, Any]:
    """What the signed snapshot carries to pin this history (its ``extra``)."""
    ref = FileRef(hashlib.sha256(published).hexdigest(), len(published))
    return {SNAPSHOT_FIELD: {"path": history_path(history.version), **ref.to_dict()}}


def ref_from_snapshot(extra: Mapping[str, Any]) -> tuple[str, FileRef] | None:
    """The pinned key history a snapshot names, or None for a list published without one."""
    value = extra.get(SNAPSHOT_FIELD)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("path"), str):
        raise DeserializationError("the snapshot's key_history must name a path")
    path = value["path"]
    if not path.startswith("keys/") or ".." in path.split("/"):
        raise DeserializationError(f"the snapshot's key history path {path!r} is refused")
    return path, FileRef.from_dict(value, "key history")


def judge(history: KeyHistory, cert_sha256: str | None, issued_at: dt.datetime) -> KeyCheck:
    """Whether the document-signing certificate ``cert_sha256`` vouches for a document issued
    at ``issued_at`` (the outcomes of :data:`certseal.trustlist.KEY_OUTCOMES`)."""
    key = None if cert_sha256 is None else history.record(cert_sha256)
    if key is None:
        return KeyCheck("unknown_key", issued_at)
    if key.role != "signing":
        return KeyCheck("wrong_key_role", issued_at, None, key)
    return KeyCheck(key_outcome(key, issued_at), issued_at, None, key)


def load_local(data: bytes) -> KeyHistory:
    """The authority's own copy (``keys/history.json``): the same body, unsigned."""
    return KeyHistory.from_dict(load_json_object(data, "key history"))
