"""The federation's trust list: which schools exist, which keys are theirs, and since when.

The format is TUF metadata (python-tuf's Metadata API), laid out as ``docs/trust-list.md``
describes: the operator's ``root`` (threshold of offline keys) delegates ``targets`` (the list
of schools), ``snapshot`` and ``timestamp`` (freshness, rollback protection); ``targets``
delegates each school's paths to one of 16 groups (``schools-<h>``, same offline keys), which
holds the school's profile and delegates the school's own role, named after the school and
signed with the school's status-list key, which lists the school's key history. A browser
checking one document thus reads one group, not every school's profile and delegation. This
module holds the models, the school's role as a school writes it, the onboarding request, the
leaves of the trust list's transparency log, and the client rules (:class:`TrustListClient`),
which are python-tuf's own (:mod:`certseal._tuf`). It does no I/O of its own: reads go through
a :data:`Fetch`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, TypeVar, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.signer import CryptoSigner, Signature, SSlibKey
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import DelegatedRole, Delegations, Metadata, TargetFile, Targets
from tuf.api.serialization import SerializationError
from tuf.api.serialization.json import JSONSerializer

from certseal import _tuf, pki
from certseal.canonical import canonical_bytes, load_json_object
from certseal.errors import (
    CertsealError,
    DeserializationError,
    ExpiredError,
    FetchError,
    FormatError,
    RollbackError,
    SignatureVerificationError,
)
from certseal.fetch import Fetch
from certseal.timeutil import format_time, parse_time

TRUST_DIR = "trust"
"""The trust list's folder in the operator's published site."""
METADATA_DIR = "metadata"
TARGETS_DIR = "targets"
LOG_DIR = "log"

SCHOOL_STATES = ("active", "suspended", "merged", "closed")
KEY_ROLES = ("signing", "statuslist")
KEY_REASONS = ("key_compromise", "superseded", "cessation_of_operation", "affiliation_changed")
TRUST_EVENTS = ("admitted", "profile", "key", "root")
LOG_FIELD = "x-certseal-log"
"""The field of ``snapshot`` naming the checkpoint of the trust-list log it reflects."""

MAX_BYTES = {
    "root": 256 * 1024,
    "timestamp": 16 * 1024,
    "snapshot": 1 << 20,
    "targets": 4 << 20,
    "school": 1 << 20,
    "certificate": 64 * 1024,
}
MAX_ROOT_ROTATIONS = 32
MAX_NAME = 300

_SCHOOL_ID = re.compile(r"[A-Z][A-Z0-9]{1,9}")
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_T = TypeVar("_T")

GROUP_PREFIX = "schools-"
"""Groups of schools are the roles ``schools-0`` … ``schools-f`` (never a school id: lower case)."""
_GROUP = re.compile(r"schools-[0-9a-f]")


class _CompactUtf8(JSONSerializer):
    """python-tuf's compact JSON, but text as UTF-8 rather than ``\\uXXXX`` escapes (a Chinese
    character costs 3 bytes, not 6). Signatures are over TUF's canonical JSON of ``signed``,
    not over the file's bytes, so the file's spelling is free; both readers parse UTF-8."""

    def serialize(self, metadata_obj: Metadata[Any]) -> bytes:
        try:
            text = json.dumps(
                metadata_obj.to_dict(), separators=(",", ":"), sort_keys=True, ensure_ascii=False
            )
            return text.encode("utf-8")
        except Exception as e:  # as python-tuf's own serializer: one error type
            raise SerializationError("Failed to serialize JSON") from e


_SERIALIZER = _CompactUtf8()


def school_path(school_id: str) -> str:
    """The target path of a school's profile in ``targets``."""
    return f"schools/{school_id}.json"


def key_path(school_id: str, cert_sha256: str) -> str:
    """The target path of one of a school's certificates (DER) in the school's role."""
    return f"schools/{school_id}/keys/{cert_sha256}.der"


def keys_pattern(school_id: str) -> str:
    """The paths a school's own role is delegated: its certificates, nothing else."""
    return f"schools/{school_id}/keys/*"


def group_of(school_id: str) -> str:
    """The role holding a school's profile and delegation: one of 16 groups, by the first hex
    digit of the SHA-256 of its id, so a school never moves and a browser reads one group."""
    return GROUP_PREFIX + hashlib.sha256(school_id.encode()).hexdigest()[0]


def group_paths(school_ids: Iterable[str]) -> list[str]:
    """What ``targets`` delegates to a group: each of its schools' profile and certificates."""
    return [p for sid in sorted(school_ids) for p in (school_path(sid), keys_pattern(sid))]


def group_schools(delegation: DelegatedRole) -> tuple[str, ...]:
    """The schools ``targets`` gives a group, from its paths (as :func:`group_paths` writes them).

    Raises:
        DeserializationError: not a group, or its paths are not exactly pairs of a school's
            profile and certificates.
    """
    name = delegation.name
    paths = delegation.paths
    if not _GROUP.fullmatch(name) or paths is None or not delegation.terminating:
        raise DeserializationError(
            f"the list of schools delegates {name!r}, which is not a group of schools",
            f"學校清單委派的 {name!r} 不是學校群組",
        )
    ids = []
    for profile in paths[::2]:
        sid = profile.removeprefix("schools/").removesuffix(".json")
        ids.append(sid)
        if not _SCHOOL_ID.fullmatch(sid):
            break
    if not paths or paths != group_paths(ids) or len(set(ids)) != len(ids):
        raise DeserializationError(
            f"group {name} is delegated paths other than its schools' profiles and keys",
            f"群組 {name} 受委派的路徑不只是其學校的資料與金鑰",
        )
    return tuple(ids)


def metadata_path(role: str, version: int | None = None) -> str:
    """``metadata/<version>.<role>.json``, or ``metadata/timestamp.json`` (consistent snapshots)."""
    return (
        f"{METADATA_DIR}/{role}.json"
        if version is None
        else f"{METADATA_DIR}/{version}.{role}.json"
    )


def _text(value: object, what: str, limit: int = MAX_NAME) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise FormatError(f"{what} must be a non-empty string of at most {limit} characters")
    if _CONTROL.search(value):
        raise FormatError(f"{what} must not contain a control character")
    return value


def _school_id(value: object, what: str = "school id") -> str:
    if not isinstance(value, str) or not _SCHOOL_ID.fullmatch(value):
        raise FormatError(f"{what} {value!r} must be 2 to 10 upper-case letters or digits")
    return value


def _url(value: object, what: str) -> str:
    text = _text(value, what, 2000)
    if not text.startswith(("https://", "http://")) or any(c.isspace() for c in text):
        raise FormatError(f"{what} must be an http(s) address")
    return text


def _time(value: object, what: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise FormatError(f"{what} must be an aware UTC time")
        return value.astimezone(dt.UTC).replace(microsecond=0)
    return parse_time(value, what)


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise FormatError(f"{what} must be base64 text")
    try:
        data = base64.b64decode(value, validate=True)
    except ValueError as e:
        raise FormatError(f"{what} is not base64") from e
    if base64.b64encode(data).decode() != value:
        raise FormatError(f"{what} is not canonical base64")
    return data


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FormatError(f"{what} must be a JSON object")
    return value


# --- a school's profile and lifecycle ------------------------------------------------------


@dataclass(frozen=True)
class StateChange:
    """One step of a school's lifecycle: from ``at`` on the school is ``state``.

    ``successor`` names the school that keeps the records: required when merged, allowed when
    closed, absent otherwise.
    """

    state: str
    at: dt.datetime
    successor: str | None = None

    def __post_init__(self) -> None:
        if self.state not in SCHOOL_STATES:
            raise FormatError(f"school state {self.state!r} is not one of {SCHOOL_STATES}")
        object.__setattr__(self, "at", _time(self.at, "state change time"))
        if self.state == "merged" and self.successor is None:
            raise FormatError("a merged school names the school it merged into")
        if self.successor is not None:
            if self.state not in ("merged", "closed"):
                raise FormatError(f"a {self.state} school names no successor")
            _school_id(self.successor, "successor")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"state": self.state, "at": format_time(self.at)}
        if self.successor is not None:
            d["successor"] = self.successor
        return d

    @classmethod
    def from_dict(cls, d: object) -> StateChange:
        m = _mapping(d, "state change")
        return cls(m.get("state"), m.get("at"), m.get("successor"))  # type: ignore[arg-type]


@dataclass(frozen=True)
class SchoolProfile:
    """What the operator says about a school: names, where it publishes, its lifecycle.

    Unknown fields are kept (``extra``) so an older reader passes newer profiles through.
    """

    school_id: str
    name_zh: str
    name_en: str
    domains: tuple[str, ...]
    status_list_url: str
    log_url: str
    lifecycle: tuple[StateChange, ...]
    predecessors: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _school_id(self.school_id)
        _text(self.name_zh, "Chinese name")
        _text(self.name_en, "English name")
        object.__setattr__(self, "domains", tuple(self.domains))
        object.__setattr__(self, "lifecycle", tuple(self.lifecycle))
        object.__setattr__(self, "predecessors", tuple(self.predecessors))
        if not self.domains:
            raise FormatError("a school has at least one domain")
        for d in self.domains:
            if not isinstance(d, str) or not _DOMAIN.fullmatch(d):
                raise FormatError(f"domain {d!r} is not a lower-case DNS name")
        _url(self.status_list_url, "status list address")
        _url(self.log_url, "log address")
        if not self.lifecycle or self.lifecycle[0].state != "active":
            raise FormatError("a school's lifecycle starts with its admission as active")
        for before, after in zip(self.lifecycle, self.lifecycle[1:], strict=False):
            if after.at <= before.at:
                raise FormatError("a school's lifecycle must be in time order")
            if before.state in ("merged", "closed"):
                raise FormatError(f"nothing follows a school's {before.state} state")
            if after.state == before.state:
                raise FormatError(f"the school is already {after.state}")
        for p in self.predecessors:
            if _school_id(p, "predecessor") == self.school_id:
                raise FormatError("a school is not its own predecessor")
        if any(s.successor == self.school_id for s in self.lifecycle):
            raise FormatError("a school is not its own successor")

    @property
    def current(self) -> StateChange:
        return self.lifecycle[-1]

    def state_at(self, moment: dt.datetime) -> StateChange | None:
        """The lifecycle step in force at ``moment`` (None before the school was admitted)."""
        found = None
        for step in self.lifecycle:
            if step.at <= moment:
                found = step
        return found

    @property
    def successor(self) -> str | None:
        return self.current.successor

    def with_state(self, step: StateChange) -> SchoolProfile:
        return SchoolProfile(**{**self._fields(), "lifecycle": (*self.lifecycle, step)})

    def with_predecessor(self, school_id: str) -> SchoolProfile:
        return SchoolProfile(**{**self._fields(), "predecessors": (*self.predecessors, school_id)})

    def _fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "id": self.school_id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "domains": list(self.domains),
            "status_list_url": self.status_list_url,
            "log_url": self.log_url,
            "lifecycle": [s.to_dict() for s in self.lifecycle],
            "predecessors": list(self.predecessors),
        }

    def to_bytes(self) -> bytes:
        """The profile file: canonical JSON, whose hash the operator signs in ``targets``."""
        return canonical_bytes(self.to_dict())

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_dict(cls, d: object) -> SchoolProfile:
        """Parse the JSON form; any malformation raises DeserializationError."""
        try:
            m = _mapping(d, "school profile")
            known = (
                "id",
                "name_zh",
                "name_en",
                "domains",
                "status_list_url",
                "log_url",
                "lifecycle",
                "predecessors",
            )
            missing = [k for k in known if k not in m]
            if missing:
                raise FormatError(f"school profile lacks {', '.join(missing)}")
            for k in ("domains", "lifecycle", "predecessors"):
                if not isinstance(m[k], list):
                    raise FormatError(f"school profile {k} must be a list")
            return cls(
                m["id"],
                m["name_zh"],
                m["name_en"],
                tuple(m["domains"]),
                m["status_list_url"],
                m["log_url"],
                tuple(StateChange.from_dict(s) for s in m["lifecycle"]),
                tuple(m["predecessors"]),
                {k: v for k, v in m.items() if k not in known},
            )
        except FormatError as e:
            raise DeserializationError(f"school profile: {e}", f"學校資料格式錯誤：{e}") from e


# --- a school's key history ----------------------------------------------------------------


@dataclass(frozen=True)
class KeyRecord:
    """One of a school's certificates and when it may be relied on.

    A document signed with the key counts from ``valid_from`` to ``valid_to``; ``revoked_at``
    (with a ``reason``) ends that early, and for ``key_compromise`` makes every signature from
    that moment on suspect. ``cert_sha256`` is the certificate's SHA-256 (its fingerprint),
    ``spki`` its SubjectPublicKeyInfo DER, so the trust list alone verifies status lists.
    """

    cert_sha256: str
    cert_length: int
    role: str
    spki: bytes
    valid_from: dt.datetime
    valid_to: dt.datetime
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.cert_sha256, str) or not _HEX64.fullmatch(self.cert_sha256):
            raise FormatError("certificate hash must be 64 lower-case hex digits")
        if (
            type(self.cert_length) is not int
            or not 0 < self.cert_length <= MAX_BYTES["certificate"]
        ):
            raise FormatError("certificate length must be a positive integer")
        if self.role not in KEY_ROLES:
            raise FormatError(f"key role {self.role!r} is not one of {KEY_ROLES}")
        if not isinstance(self.spki, bytes) or not self.spki:
            raise FormatError("a key record carries the key's SubjectPublicKeyInfo")
        object.__setattr__(self, "valid_from", _time(self.valid_from, "valid_from"))
        object.__setattr__(self, "valid_to", _time(self.valid_to, "valid_to"))
        if self.valid_to <= self.valid_from:
            raise FormatError("a key's valid_to must come after its valid_from")
        if (self.revoked_at is None) != (self.reason is None):
            raise FormatError("a revoked key, and only it, carries a reason")
        if self.revoked_at is not None:
            object.__setattr__(self, "revoked_at", _time(self.revoked_at, "revoked_at"))
        if self.reason is not None and self.reason not in KEY_REASONS:
            raise FormatError(f"key revocation reason {self.reason!r} is not one of {KEY_REASONS}")

    @property
    def spki_sha256(self) -> str:
        """The key id the project uses everywhere (:func:`certseal.pki.key_id`)."""
        return hashlib.sha256(self.spki).hexdigest()

    def public_key(self) -> ec.EllipticCurvePublicKey:
        try:
            key = serialization.load_der_public_key(self.spki)
        except ValueError as e:
            raise DeserializationError("a key record's public key is not valid DER") from e
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise DeserializationError("a key record's status-list key must be ECDSA")
        return key

    @classmethod
    def from_certificate(
        cls,
        cert: x509.Certificate,
        role: str,
        *,
        valid_from: dt.datetime | None = None,
        valid_to: dt.datetime | None = None,
    ) -> KeyRecord:
        """A record for ``cert``, valid over the certificate's own validity unless narrowed."""
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(
            hashlib.sha256(der).hexdigest(),
            len(der),
            role,
            cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            valid_from or cert.not_valid_before_utc,
            valid_to or cert.not_valid_after_utc,
        )

    def replace(self, **changes: Any) -> KeyRecord:
        return KeyRecord(**{**{k: getattr(self, k) for k in self.__dataclass_fields__}, **changes})

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            **self.extra,
            "cert_sha256": self.cert_sha256,
            "role": self.role,
            "spki": base64.b64encode(self.spki).decode(),
            "valid_from": format_time(self.valid_from),
            "valid_to": format_time(self.valid_to),
        }
        if self.revoked_at is not None:
            d["revoked_at"] = format_time(self.revoked_at)
            d["reason"] = self.reason
        return d

    @classmethod
    def from_dict(cls, d: object, cert_length: int) -> KeyRecord:
        m = _mapping(d, "key record")
        known = ("cert_sha256", "role", "spki", "valid_from", "valid_to", "revoked_at", "reason")
        return cls(
            m.get("cert_sha256"),  # type: ignore[arg-type]
            cert_length,
            m.get("role"),  # type: ignore[arg-type]
            _b64(m.get("spki"), "key record spki"),
            m.get("valid_from"),  # type: ignore[arg-type]
            m.get("valid_to"),  # type: ignore[arg-type]
            None if m.get("revoked_at") is None else m["revoked_at"],
            m.get("reason"),
            {k: v for k, v in m.items() if k not in known},
        )

    def target(self, school_id: str) -> TargetFile:
        """The record as a TUF target of the school's role: the certificate, described."""
        return TargetFile(
            self.cert_length,
            {"sha256": self.cert_sha256},
            key_path(school_id, self.cert_sha256),
            {"custom": {"key": self.to_dict()}},
        )

    @classmethod
    def from_target(cls, target: TargetFile) -> KeyRecord:
        custom = target.custom
        record = cls.from_dict(_mapping(custom, "target custom").get("key"), target.length)
        if target.hashes != {"sha256": record.cert_sha256}:
            raise FormatError(f"target {target.path} is not described by its own hash")
        return record


def check_key_history(old: Sequence[KeyRecord], new: Sequence[KeyRecord]) -> None:
    """The rules a school's new key history keeps against its last one: history only grows.

    No key leaves; a key's role, key and start never change; its end may only come earlier;
    a revocation, once published, never changes.

    Raises:
        FormatError: the new history rewrites the old one.
    """
    by_hash = {k.cert_sha256: k for k in new}
    if len(by_hash) != len(new):
        raise FormatError("a certificate is listed twice in the school's key history")
    for before in old:
        after = by_hash.get(before.cert_sha256)
        if after is None:
            raise FormatError(f"key {before.cert_sha256[:16]}… was removed from the history")
        if (after.role, after.spki, after.valid_from) != (
            before.role,
            before.spki,
            before.valid_from,
        ):
            raise FormatError(f"key {before.cert_sha256[:16]}… changed its role, key or start")
        if after.valid_to > before.valid_to:
            raise FormatError(f"key {before.cert_sha256[:16]}… was extended past its end")
        if before.revoked_at is not None and (after.revoked_at, after.reason) != (
            before.revoked_at,
            before.reason,
        ):
            raise FormatError(f"key {before.cert_sha256[:16]}… changed a published revocation")


# --- TUF plumbing a school and the operator share ------------------------------------------


def tuf_key(public_key: ec.EllipticCurvePublicKey) -> SSlibKey:
    """A P-256 key as TUF names it; its key id is the project's (SHA-256 of the SPKI DER)."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != (
        "secp256r1"
    ):
        raise FormatError("trust-list keys are ECDSA P-256")
    return SSlibKey.from_crypto(public_key, keyid=pki.key_id(public_key))


def sign(md: Metadata[Any], private_key: ec.EllipticCurvePrivateKey) -> None:
    """Add one signature to ``md`` (TUF signs its canonical JSON)."""
    md.sign(CryptoSigner(private_key, tuf_key(private_key.public_key())), append=True)


def to_bytes(md: Metadata[Any]) -> bytes:
    return md.to_bytes(_SERIALIZER)


def school_role(
    school_id: str, keys: Iterable[KeyRecord], version: int, expires: dt.datetime
) -> Metadata[Targets]:
    """A school's role, unsigned: its key history as TUF targets (sign with :func:`sign`)."""
    targets = {}
    for k in keys:
        t = k.target(_school_id(school_id))
        targets[t.path] = t
    return Metadata(Targets(version=version, expires=expires, targets=targets))


def list_of_schools(
    keys: Sequence[SSlibKey],
    threshold: int,
    groups: Mapping[str, Iterable[str]],
    version: int,
    expires: dt.datetime,
) -> Targets:
    """``targets``, unsigned: each group of schools delegated its schools' paths, to the
    offline keys (the same ``keys`` and ``threshold`` as ``targets`` itself)."""
    roles = {
        name: DelegatedRole(name, [k.keyid for k in keys], threshold, True, group_paths(ids))
        for name, ids in sorted(groups.items())
        if ids
    }
    delegations = Delegations({k.keyid: k for k in keys}, roles)
    return Targets(version=version, expires=expires, delegations=delegations)


def put_school(group: Targets, profile: SchoolProfile, status_key: SSlibKey) -> None:
    """Set a school's profile and its delegation (to ``status_key``) in its group."""
    if group.delegations is None or group.delegations.roles is None:
        group.delegations = Delegations({}, {})
    roles = group.delegations.roles
    assert roles is not None
    sid = profile.school_id
    for keyid in roles[sid].keyids if sid in roles else []:
        group.revoke_key(keyid, sid)
    roles[sid] = DelegatedRole(sid, [], 1, True, [keys_pattern(sid)])
    group.add_key(status_key, sid)
    group.targets[school_path(sid)] = profile_target(profile)


def parse_metadata(data: bytes, what: str) -> Metadata[Any]:
    try:
        return Metadata.from_bytes(data)
    except (tuf_errors.RepositoryError, ValueError, TypeError, KeyError) as e:
        raise DeserializationError(
            f"{what} is not TUF metadata: {e}", f"{what} 不是 TUF 格式"
        ) from e


def role_keys(md: Metadata[Targets], school_id: str) -> tuple[KeyRecord, ...]:
    """The key history in a school's role; every target lies under the school's own path.

    Raises:
        DeserializationError: a target is outside the school's path or malformed.
    """
    records = []
    for path, target in md.signed.targets.items():
        try:
            record = KeyRecord.from_target(target)
        except FormatError as e:
            raise DeserializationError(
                f"{school_id}'s role: {e}", f"{school_id} 的金鑰紀錄格式錯誤"
            ) from e
        if path != key_path(school_id, record.cert_sha256):
            raise DeserializationError(
                f"{school_id}'s role lists {path}, outside schools/{school_id}/keys/",
                f"{school_id} 的角色列出不屬於該校的路徑 {path}",
            )
        records.append(record)
    return tuple(records)


def verify_self_signed_role(md: Metadata[Targets], public_key: ec.EllipticCurvePublicKey) -> None:
    """Check that a school's role is signed by ``public_key`` (onboarding, before delegation)."""
    key = tuf_key(public_key)
    sig: Signature | None = md.signatures.get(key.keyid)
    if sig is None:
        raise SignatureVerificationError(
            "the school's key history is not signed with its status-list key",
            "學校的金鑰紀錄未以其狀態清單金鑰簽署",
        )
    try:
        key.verify_signature(sig, md.signed_bytes)
    except Exception as e:  # securesystemslib raises its own UnverifiedSignatureError
        raise SignatureVerificationError(
            "the school's key history signature does not verify", "學校金鑰紀錄的簽章驗證失敗"
        ) from e


# --- the onboarding request ----------------------------------------------------------------

REQUEST_TYPE = "certseal/onboarding-request"


@dataclass(frozen=True)
class OnboardingRequest:
    """What a school's authority hands the operator to be admitted or to rotate keys.

    ``school`` proposes the profile fields (id, names, domains, addresses); ``certificates``
    are the school's root, document-signing and status-list certificates (DER); ``role`` is the
    school's key history, already signed as its TUF role. The whole is signed with the
    status-list key, whose certificate is among ``certificates``.
    """

    school: Mapping[str, Any]
    certificates: tuple[bytes, ...]
    role: bytes
    keyid: str
    signature: str

    def signed_body(self) -> dict[str, Any]:
        return {
            "school": dict(self.school),
            "certificates": [base64.b64encode(c).decode() for c in self.certificates],
            "role": base64.b64encode(self.role).decode(),
        }

    def to_bytes(self) -> bytes:
        return canonical_bytes(
            {
                "_type": REQUEST_TYPE,
                "signed": self.signed_body(),
                "signature": {"keyid": self.keyid, "sig": self.signature},
            }
        )

    @classmethod
    def create(
        cls,
        school: Mapping[str, Any],
        certificates: Sequence[x509.Certificate],
        role: Metadata[Targets],
        status_key: ec.EllipticCurvePrivateKey,
    ) -> OnboardingRequest:
        ders = tuple(c.public_bytes(serialization.Encoding.DER) for c in certificates)
        draft = cls(dict(school), ders, to_bytes(role), pki.key_id(status_key.public_key()), "")
        signature = pki.sign_raw(status_key, canonical_bytes(draft.signed_body()))
        return cls(draft.school, ders, draft.role, draft.keyid, signature)

    @classmethod
    def from_bytes(cls, data: bytes) -> OnboardingRequest:
        d = load_json_object(data, "onboarding request")
        try:
            signed = _mapping(d.get("signed"), "request body")
            sig = _mapping(d.get("signature"), "request signature")
            if d.get("_type") != REQUEST_TYPE:
                raise FormatError(f"not a {REQUEST_TYPE}")
            certs = signed.get("certificates")
            if not isinstance(certs, list) or not certs:
                raise FormatError("the request lists no certificates")
            return cls(
                _mapping(signed.get("school"), "request school"),
                tuple(_b64(c, "certificate") for c in certs),
                _b64(signed.get("role"), "role"),
                _text(sig.get("keyid"), "key id", 64),
                _text(sig.get("sig"), "signature", 200),
            )
        except FormatError as e:
            raise DeserializationError(
                f"onboarding request: {e}", f"加入申請檔格式錯誤：{e}"
            ) from e

    def verify(self) -> VerifiedRequest:
        """Check every signature and that the key history describes the certificates given.

        Raises:
            SignatureVerificationError: a signature or a certificate chain does not verify.
            DeserializationError: malformed.
        """
        certs = [pki.load_certificates(c)[0] for c in self.certificates]
        by_kid = {}
        for c in certs:
            key = c.public_key()
            if isinstance(key, ec.EllipticCurvePublicKey):
                by_kid[pki.key_id(key)] = (c, key)
        if self.keyid not in by_kid:
            raise SignatureVerificationError(
                "the request is not signed by one of its own certificates",
                "申請檔並非以其所附憑證之金鑰簽署",
            )
        status_cert, status_key = by_kid[self.keyid]
        pki.verify_raw(status_key, canonical_bytes(self.signed_body()), self.signature)
        school_id = _school_id(self.school.get("id"))
        md = parse_metadata(self.role, "the school's key history")
        if md.signed.type != "targets":
            raise DeserializationError("the school's key history must be a targets role")
        verify_self_signed_role(md, status_key)
        keys = role_keys(md, school_id)
        given = {
            hashlib.sha256(c).hexdigest(): cert
            for c, cert in zip(self.certificates, certs, strict=True)
        }
        missing = [k.cert_sha256 for k in keys if k.cert_sha256 not in given]
        if missing:
            raise DeserializationError(
                f"the key history lists certificates the request lacks: {missing[0][:16]}…",
                "金鑰紀錄列出申請檔未附的憑證",
            )
        status = [k for k in keys if k.role == "statuslist" and k.spki_sha256 == self.keyid]
        if not status:
            raise DeserializationError(
                "the key history does not list the status-list key that signed it",
                "金鑰紀錄未列出簽署它的狀態清單金鑰",
            )
        roots = [c for c in certs if c.issuer == c.subject]
        for k in keys:
            cert = given[k.cert_sha256]
            if not any(_issued_by(cert, r) for r in roots):
                raise SignatureVerificationError(
                    f"certificate {k.cert_sha256[:16]}… does not chain to a root in the request",
                    "憑證無法鏈結至申請檔所附的根憑證",
                )
        return VerifiedRequest(school_id, dict(self.school), md, keys, status_key, status_cert)


def _issued_by(cert: x509.Certificate, root: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


@dataclass(frozen=True)
class VerifiedRequest:
    """An onboarding request whose signatures and certificates were checked."""

    school_id: str
    school: Mapping[str, Any]
    role: Metadata[Targets]
    keys: tuple[KeyRecord, ...]
    status_key: ec.EllipticCurvePublicKey
    status_cert: x509.Certificate


# --- the trust list as a client sees it ----------------------------------------------------


@dataclass(frozen=True)
class SchoolEntry:
    """One school of the trust list: the operator's profile and the school's key history."""

    profile: SchoolProfile
    keys: tuple[KeyRecord, ...]
    role_version: int
    delegation_keyids: tuple[str, ...]

    @property
    def school_id(self) -> str:
        return self.profile.school_id


KEY_OUTCOMES: Mapping[str, tuple[str, str]] = {
    "valid": ("the key was the school's, valid when the document was issued", "簽發時該金鑰有效"),
    "valid_if_logged": (
        "the key was valid at issuance but later revoked as compromised: the issuance must be "
        "in the school's log before the revocation",
        "簽發時金鑰有效，但其後因外洩而撤銷：須確認簽發紀錄早於撤銷時間",
    ),
    "unknown_key": ("no school in the trust list holds this key", "信任清單中沒有學校持有此金鑰"),
    "key_of_another_school": (
        "the key belongs to another school than the one named",
        "此金鑰屬於另一所學校",
    ),
    "key_claimed_twice": (
        "more than one school lists this key: it cannot be attributed",
        "多所學校列出同一金鑰，無法判定歸屬",
    ),
    "wrong_key_role": (
        "the key is the school's, but not for this use",
        "此金鑰屬於該校，但用途不符",
    ),
    "key_not_valid_at_issuance": (
        "the key was not valid when the document was issued",
        "文件簽發時該金鑰不在有效期間",
    ),
    "key_revoked_before_issuance": (
        "the key had been revoked before the document was issued",
        "文件簽發前該金鑰已被撤銷",
    ),
    "key_compromised_before_issuance": (
        "the key had been revoked as compromised before the document was issued",
        "文件簽發前該金鑰已因外洩而撤銷",
    ),
    "school_not_active_at_issuance": (
        "the school was not active in the federation when the document was issued",
        "文件簽發時該校不在聯盟中或已停權",
    ),
}


@dataclass(frozen=True)
class KeyCheck:
    """Whether a key can vouch for a document issued at ``issued_at``, and why.

    ``successor`` names the school that now keeps the records when the school has merged or
    closed; documents issued while it was active stay valid.
    """

    outcome: str
    issued_at: dt.datetime
    school: SchoolEntry | None = None
    key: KeyRecord | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("valid", "valid_if_logged")

    def __bool__(self) -> bool:
        return self.ok

    @property
    def successor(self) -> str | None:
        return None if self.school is None else self.school.profile.successor

    def message(self, lang: str = "en") -> str:
        en, zh = KEY_OUTCOMES[self.outcome]
        return zh if lang == "zh-TW" else en


@dataclass(frozen=True)
class TrustList:
    """A verified trust list: every school, by id, at one snapshot of the federation."""

    targets_version: int
    snapshot_version: int
    timestamp_version: int
    expires: dt.datetime
    schools: Mapping[str, SchoolEntry]
    log: Mapping[str, Any] | None = None
    groups: Mapping[str, int] = field(default_factory=dict)
    """Each group of schools (``schools-<h>``) and its version."""

    def school(self, school_id: str) -> SchoolEntry | None:
        return self.schools.get(school_id)

    def holders(
        self, *, cert_sha256: str | None = None, spki_sha256: str | None = None
    ) -> list[tuple[SchoolEntry, KeyRecord]]:
        """Every (school, record) listing this certificate or key."""
        if spki_sha256 is None:
            return list(self._by_certificate.get(cert_sha256 or "", ()))
        return [
            (s, k)
            for s in self.schools.values()
            for k in s.keys
            if (cert_sha256 is not None and k.cert_sha256 == cert_sha256)
            or k.spki_sha256 == spki_sha256
        ]

    @cached_property
    def _by_certificate(self) -> dict[str, list[tuple[SchoolEntry, KeyRecord]]]:
        """:meth:`holders` by certificate, made once: a national verifier asks it at every
        answer, and the trust list names every school's every key (60 schools and more)."""
        index: dict[str, list[tuple[SchoolEntry, KeyRecord]]] = {}
        for s in self.schools.values():
            for k in s.keys:
                index.setdefault(k.cert_sha256, []).append((s, k))
        return index

    def check_key(
        self,
        issued_at: dt.datetime,
        role: str,
        *,
        cert_sha256: str | None = None,
        spki_sha256: str | None = None,
        school_id: str | None = None,
    ) -> KeyCheck:
        """Find the school holding a key and judge the key as of ``issued_at``.

        Args:
            issued_at: when the document (or status list) was issued.
            role: ``signing`` for a document's signer, ``statuslist`` for a status list.
            cert_sha256: the signer certificate's SHA-256, or
            spki_sha256: the key's id (SHA-256 of its SubjectPublicKeyInfo).
            school_id: the school the document names, when it names one.
        """
        found = self.holders(cert_sha256=cert_sha256, spki_sha256=spki_sha256)
        schools = {s.school_id for s, _ in found}
        if not found:
            return KeyCheck("unknown_key", issued_at)
        if len(schools) > 1:
            return KeyCheck("key_claimed_twice", issued_at)
        school, _ = found[0]
        if school_id is not None and school.school_id != school_id:
            return KeyCheck("key_of_another_school", issued_at, school, found[0][1])
        matching = [k for _, k in found if k.role == role]
        if not matching:
            return KeyCheck("wrong_key_role", issued_at, school, found[0][1])
        key = matching[0]
        step = school.profile.state_at(issued_at)
        outcome = key_outcome(key, issued_at)
        if outcome in ("valid", "valid_if_logged") and (step is None or step.state != "active"):
            return KeyCheck("school_not_active_at_issuance", issued_at, school, key)
        return KeyCheck(outcome, issued_at, school, key)


def key_outcome(key: KeyRecord, issued_at: dt.datetime) -> str:
    """The key's own verdict for a document issued at ``issued_at`` (one of
    :data:`KEY_OUTCOMES`): revoked before it, outside its window, valid only if the log shows
    the document before a later compromise, or valid. The federation and a single school's
    verifier (:mod:`certseal.keyhistory`) judge with it."""
    if key.revoked_at is not None and key.revoked_at <= issued_at:
        if key.reason == "key_compromise":
            return "key_compromised_before_issuance"
        return "key_revoked_before_issuance"
    if not key.valid_from <= issued_at < key.valid_to:
        return "key_not_valid_at_issuance"
    return "valid_if_logged" if key.reason == "key_compromise" else "valid"


def entry_from_metadata(
    profile_target: TargetFile, delegation: DelegatedRole, role: Targets
) -> SchoolEntry:
    """One school from its ``targets`` entry, its delegation, and its verified role."""
    profile = SchoolProfile.from_dict(_mapping(profile_target.custom, "custom").get("school"))
    if (
        profile_target.path != school_path(profile.school_id)
        or delegation.name != profile.school_id
    ):
        raise DeserializationError(
            f"the trust list's entry {profile_target.path} names school {profile.school_id}",
            f"信任清單項目 {profile_target.path} 與學校代碼 {profile.school_id} 不符",
        )
    try:
        profile_target.verify_length_and_hashes(profile.to_bytes())
    except tuf_errors.LengthOrHashMismatchError as e:
        raise DeserializationError(
            f"school {profile.school_id}'s profile does not match its signed hash",
            f"{profile.school_id} 的學校資料與簽署的雜湊不符",
        ) from e
    keys = role_keys(Metadata(role), profile.school_id)
    return SchoolEntry(profile, keys, role.version, tuple(delegation.keyids))


def profile_target(profile: SchoolProfile) -> TargetFile:
    """The profile as a target of ``targets``: the file's hash, and the profile itself."""
    data = profile.to_bytes()
    return TargetFile(
        len(data),
        {"sha256": hashlib.sha256(data).hexdigest()},
        school_path(profile.school_id),
        {"custom": {"school": profile.to_dict()}},
    )


# --- the client ----------------------------------------------------------------------------


def _wrap(e: Exception, what: str) -> CertsealError:
    """One translation of python-tuf's failures into ours."""
    if isinstance(e, tuf_errors.UnsignedMetadataError):
        return SignatureVerificationError(
            f"the trust list's {what} is not signed by enough of its keys ({e})",
            f"信任清單的 {what} 簽章不足門檻（{e}）",
        )
    if isinstance(e, tuf_errors.BadVersionNumberError):
        return RollbackError(
            f"the trust list's {what} is older than one already seen ({e})",
            f"信任清單的 {what} 版本比已見過的舊（{e}）",
        )
    if isinstance(e, tuf_errors.ExpiredMetadataError):
        return ExpiredError(
            f"the trust list's {what} has expired ({e})", f"信任清單的 {what} 已過期"
        )
    if isinstance(e, tuf_errors.LengthOrHashMismatchError):
        return SignatureVerificationError(
            f"the trust list's {what} is not the file the snapshot signed ({e})",
            f"信任清單的 {what} 與快照簽署的檔案不符",
        )
    if isinstance(e, CertsealError):
        return e
    return DeserializationError(
        f"the trust list's {what} is malformed: {e}", f"信任清單的 {what} 格式錯誤"
    )


class TrustListClient:
    """A relying party's trust list: pins the federation's root, follows TUF's client rules.

    The first root is the trust anchor (shipped with the verifier, the site, the auditor). Each
    :meth:`refresh` rotates the root as far as the signed chain goes, then reads timestamp,
    snapshot, targets, every group of schools and every school's role, refusing anything older
    than what this client saw before (rollback), expired at ``now`` (freeze), or signed by
    fewer keys than its threshold. Roles whose version did not change are not fetched again.
    """

    def __init__(self, fetch: Fetch, root: bytes) -> None:
        self._fetch = fetch
        self._root = root
        self._timestamp: bytes | None = None
        self._snapshot: bytes | None = None
        self._roles: dict[tuple[str, int], bytes] = {}
        self.current: TrustList | None = None
        _tuf.trusted_set(root, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))  # fail early on a bad pin

    @property
    def root(self) -> bytes:
        """The latest trusted root: persist it to pin it next time."""
        return self._root

    def _get(self, path: str, limit: int, what: str) -> bytes:
        data = self._fetch(path, limit + 1)
        if len(data) > limit:
            raise DeserializationError(f"the trust list's {what} is over {limit} bytes")
        return data

    def refresh(self, now: dt.datetime) -> TrustList:
        """Fetch and verify the current trust list as of ``now``.

        Raises:
            SignatureVerificationError: a role is not signed by its threshold.
            RollbackError: a role is older than one this client accepted before.
            ExpiredError: a role has expired.
            DeserializationError: malformed.
            FetchError: a file is missing.
        """
        trusted = self._call(partial(_tuf.trusted_set, self._root, now), "root")
        for _ in range(MAX_ROOT_ROTATIONS):
            version = trusted.root.version + 1
            try:
                data = self._get(metadata_path("root", version), MAX_BYTES["root"], "root")
            except FetchError:
                break
            self._call(partial(trusted.update_root, data), f"root v{version}")
            self._root = data
        if self._timestamp is not None:
            # An expired local copy still guards versions; one the new root no longer signs
            # is dropped, as python-tuf's own Updater does.
            with contextlib.suppress(tuf_errors.RepositoryError):
                trusted.update_timestamp(self._timestamp)
        data = self._get(metadata_path("timestamp"), MAX_BYTES["timestamp"], "timestamp")
        try:
            trusted.update_timestamp(data)
        except tuf_errors.EqualVersionNumberError:
            pass
        except Exception as e:
            raise _wrap(e, "timestamp") from e
        self._timestamp = data
        snapshot_version = trusted.timestamp.snapshot_meta.version
        loaded = False
        if self._snapshot is not None:
            try:
                trusted.update_snapshot(self._snapshot, trusted=True)
                loaded = True
            except tuf_errors.RepositoryError:
                pass
        if not loaded:
            data = self._get(
                metadata_path("snapshot", snapshot_version), MAX_BYTES["snapshot"], "snapshot"
            )
            self._call(partial(trusted.update_snapshot, data), "snapshot")
            self._snapshot = data
        snapshot = trusted.snapshot
        targets_version = (
            snapshot.meta["targets.json"].version if "targets.json" in snapshot.meta else 0
        )
        data = self._get(metadata_path("targets", targets_version), MAX_BYTES["targets"], "targets")
        targets = self._call(partial(trusted.update_targets, data), "targets")
        if targets.targets:
            raise DeserializationError(
                "the list of schools lists targets of its own: schools are in its groups",
                "學校清單本身列有目標，學校應列在其群組中",
            )
        schools: dict[str, SchoolEntry] = {}
        groups: dict[str, int] = {}
        for name, delegation in _delegated(targets, "the list of schools").items():
            ids = group_schools(delegation)
            if schools.keys() & set(ids):
                raise DeserializationError(
                    f"group {name} lists a school another group lists", "同一學校列於兩個群組"
                )
            group = self._delegated(trusted, snapshot, name, "targets", MAX_BYTES["targets"])
            groups[name] = group.version
            roles = _delegated(group, f"group {name}")
            if set(roles) != set(ids) or set(group.targets) != {school_path(s) for s in ids}:
                raise DeserializationError(
                    f"group {name} does not hold exactly the schools the list gives it",
                    f"群組 {name} 所列學校與學校清單不符",
                )
            for sid in ids:
                if roles[sid].paths != [keys_pattern(sid)] or not roles[sid].terminating:
                    raise DeserializationError(
                        f"school {sid} is delegated more than its own keys",
                        f"學校 {sid} 受委派的範圍超出其金鑰",
                    )
                role = self._delegated(trusted, snapshot, sid, name, MAX_BYTES["school"])
                profile = group.targets[school_path(sid)]
                schools[sid] = entry_from_metadata(profile, roles[sid], role)
        log = snapshot.unrecognized_fields.get(LOG_FIELD)
        self.current = TrustList(
            targets.version,
            snapshot.version,
            trusted.timestamp.version,
            min(trusted.timestamp.expires, snapshot.expires, targets.expires, trusted.root.expires),
            schools,
            log if isinstance(log, Mapping) else None,
            groups,
        )
        return self.current

    def _delegated(
        self, trusted: Any, snapshot: Any, name: str, delegator: str, limit: int
    ) -> Targets:
        """A delegated role (a group, or a school's), as pinned by the snapshot and signed by
        its delegator's keys; one already read at that version is not fetched again."""
        what = f"role of {name}" if delegator != "targets" else f"group {name}"
        meta = snapshot.meta.get(f"{name}.json")
        if meta is None:
            raise DeserializationError(
                f"{what} is delegated but has no snapshot entry", f"{name} 已委派但缺少快照項目"
            )
        key = (name, meta.version)
        data = self._roles.get(key) or self._get(metadata_path(name, meta.version), limit, what)
        role: Targets = self._call(
            partial(trusted.update_delegated_targets, data, name, delegator), what
        )
        self._roles[key] = data
        return role

    @staticmethod
    def _call(fn: Callable[[], _T], what: str) -> _T:
        try:
            return fn()
        except (tuf_errors.RepositoryError, ValueError) as e:
            raise _wrap(e, what) from e


def _delegated(targets: Targets, what: str) -> dict[str, DelegatedRole]:
    delegations = targets.delegations
    if delegations is not None and delegations.succinct_roles is not None:
        raise DeserializationError(f"{what} uses hash-bin delegations", f"{what} 使用雜湊分箱委派")
    return {} if delegations is None or delegations.roles is None else dict(delegations.roles)


# --- the trust list's transparency log -----------------------------------------------------


@dataclass(frozen=True)
class TrustEvent:
    """One leaf of the trust list's log: a change the operator published.

    ``admitted`` and ``profile`` carry the SHA-256 of the school's new profile (and its state);
    ``key`` carries a key record as the school's role now lists it, ``sha256`` being the
    certificate's; ``root`` (no school) carries a new root's version and the SHA-256 of its
    file, so a root published without an event, or rewritten after it, shows. The leaf is the
    canonical JSON of :meth:`to_dict`.
    """

    index: int
    event: str
    school: str
    at: dt.datetime
    sha256: str
    state: str | None = None
    key: KeyRecord | None = None
    version: int | None = None  # a root event's root version

    def __post_init__(self) -> None:
        if type(self.index) is not int or self.index < 0:
            raise FormatError("leaf index must be a non-negative integer")
        if self.event not in TRUST_EVENTS:
            raise FormatError(f"trust-list event {self.event!r} is not one of {TRUST_EVENTS}")
        object.__setattr__(self, "at", _time(self.at, "event time"))
        if not isinstance(self.sha256, str) or not _HEX64.fullmatch(self.sha256):
            raise FormatError("event sha256 must be 64 lower-case hex digits")
        if self.event == "root":
            if self.school or self.state is not None or self.key is not None:
                raise FormatError("a root event names no school, state or key")
            if type(self.version) is not int or self.version < 2:
                raise FormatError("a root event carries the new root's version (2 or more)")
            return
        if self.version is not None:
            raise FormatError("only a root event carries a root version")
        _school_id(self.school)
        if (self.event == "key") != (self.key is not None):
            raise FormatError("a key event, and only it, carries a key record")
        if (self.event != "key") != (self.state in SCHOOL_STATES):
            raise FormatError("a profile event, and only it, carries the school's state")
        if self.key is not None and self.key.cert_sha256 != self.sha256:
            raise FormatError("a key event's sha256 is its certificate's")

    def to_dict(self) -> dict[str, Any]:
        if self.event == "root":
            return {
                "index": self.index,
                "event": self.event,
                "version": self.version,
                "at": format_time(self.at),
                "sha256": self.sha256,
            }
        d: dict[str, Any] = {
            "index": self.index,
            "event": self.event,
            "school": self.school,
            "at": format_time(self.at),
            "sha256": self.sha256,
        }
        if self.key is not None:
            d["key"] = self.key.to_dict()
            d["cert_length"] = self.key.cert_length
        else:
            d["state"] = self.state
        return d

    def to_bytes(self) -> bytes:
        return canonical_bytes(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> TrustEvent:
        """Parse a leaf; it must be exactly the canonical bytes of a valid event.

        Raises:
            DeserializationError: malformed or not canonical.
        """
        d = load_json_object(data, "trust-list log leaf")
        try:
            key = None
            if d.get("event") == "key":
                length = d.get("cert_length")
                if type(length) is not int:
                    raise FormatError("a key event carries the certificate's length")
                key = KeyRecord.from_dict(d.get("key"), length)
            event = cls(
                cast(int, d.get("index")),
                cast(str, d.get("event")),
                cast(str, d.get("school", "")),
                cast(dt.datetime, d.get("at")),  # parsed and checked on construction
                cast(str, d.get("sha256")),
                d.get("state"),
                key,
                d.get("version"),
            )
        except FormatError as e:
            raise DeserializationError(f"trust-list log leaf: {e}") from e
        if event.to_bytes() != data:
            raise DeserializationError("trust-list log leaf is not in canonical form")
        return event


def events_for(old: SchoolEntry | None, new: SchoolEntry, at: dt.datetime) -> list[TrustEvent]:
    """The log events that turn ``old`` (None: not yet admitted) into ``new``, numbered from 0."""
    events = []
    if old is None or old.profile.sha256 != new.profile.sha256:
        events.append(
            TrustEvent(
                0,
                "admitted" if old is None else "profile",
                new.school_id,
                at,
                new.profile.sha256,
                new.profile.current.state,
            )
        )
    before = {} if old is None else {k.cert_sha256: k for k in old.keys}
    for k in new.keys:
        if before.get(k.cert_sha256) != k:
            events.append(TrustEvent(0, "key", new.school_id, at, k.cert_sha256, key=k))
    return events


@dataclass(frozen=True)
class Discrepancy:
    """A difference between the published trust list and what its log says was published."""

    code: str
    school: str
    en: str
    zh: str


def compare_with_log(
    trust_list: TrustList, events: Iterable[TrustEvent]
) -> tuple[Discrepancy, ...]:
    """What the trust list shows that its log does not account for, or the reverse.

    Replays the log: the last profile event and the last event of each key must equal what
    the list holds. A school the log admitted but the list lacks was removed (schools are
    closed, never removed); a key the list holds that no event announced was silently added
    or replaced.
    """
    profiles: dict[str, str] = {}
    keys: dict[str, dict[str, KeyRecord]] = {}
    for ev in events:
        if ev.event == "root":
            continue  # roots are checked against the published chain by the auditor
        if ev.event == "key":
            assert ev.key is not None
            keys.setdefault(ev.school, {})[ev.sha256] = ev.key
        else:
            profiles[ev.school] = ev.sha256
    found: list[Discrepancy] = []
    for sid in sorted(profiles.keys() - trust_list.schools.keys()):
        found.append(
            Discrepancy(
                "school_removed",
                sid,
                f"school {sid} was admitted in the log but is missing from the trust list",
                f"紀錄中已加入的學校 {sid} 不在信任清單中",
            )
        )
    for sid, entry in sorted(trust_list.schools.items()):
        if sid not in profiles:
            found.append(
                Discrepancy(
                    "school_not_logged",
                    sid,
                    f"school {sid} is in the trust list but was never admitted in the log",
                    f"信任清單中的學校 {sid} 未見於紀錄",
                )
            )
        elif profiles[sid] != entry.profile.sha256:
            found.append(
                Discrepancy(
                    "profile_not_logged",
                    sid,
                    f"school {sid}'s profile differs from the last one its log announced",
                    f"學校 {sid} 的資料與紀錄中最後公布的不同",
                )
            )
        logged = keys.get(sid, {})
        listed = {k.cert_sha256: k for k in entry.keys}
        for sha, record in sorted(listed.items()):
            if logged.get(sha) != record:
                found.append(
                    Discrepancy(
                        "key_not_logged",
                        sid,
                        f"school {sid}'s key {sha[:16]}… is not as its log announced it: "
                        "added or replaced silently",
                        f"學校 {sid} 的金鑰 {sha[:16]}… 與紀錄不符：遭悄悄新增或替換",
                    )
                )
        for sha in sorted(logged.keys() - listed.keys()):
            found.append(
                Discrepancy(
                    "key_removed",
                    sid,
                    f"school {sid}'s key {sha[:16]}… was announced in the log but is missing",
                    f"學校 {sid} 的金鑰 {sha[:16]}… 已見於紀錄卻不在清單中",
                )
            )
    return tuple(found)


def log_reference(snapshot_field: Mapping[str, Any] | None) -> tuple[str, int, bytes] | None:
    """The (origin, size, root) of the log checkpoint a snapshot names, if it names one."""
    if snapshot_field is None:
        return None
    try:
        size = snapshot_field.get("size")
        if type(size) is not int:
            raise FormatError("log size must be an integer")
        return (
            _text(snapshot_field.get("origin"), "log origin"),
            size,
            _b64(snapshot_field.get("root"), "log root"),
        )
    except FormatError as e:
        raise DeserializationError(f"the snapshot's log reference: {e}") from e


def cast_targets(md: Metadata[Any]) -> Metadata[Targets]:
    if not isinstance(md.signed, Targets):
        raise DeserializationError("expected targets metadata", "應為 targets 中繼資料")
    return cast("Metadata[Targets]", md)
