"""Key rotation and key compromise: the authority's key history, kept and published.

The history (:class:`certseal.keyhistory.KeyHistory`) lists every document-signing and
status-list certificate the authority has used, each with its validity window; each change is a
new file ``keys/history/<version>.json``, never a rewrite, and ``publish`` signs the newest into
``status/keys/<version>.json``, pinned by the snapshot.

- **Rotation** (``certseal authority rotate-key``): the root certifies a new key (on the HSM when
  the role's key is there); the old certificate's window ends now and its files move to
  ``keys/retired/``. Documents signed with it keep verifying: their issuance times fall in its
  window.
- **Compromise** (``certseal authority key-compromised --since DATE``): the key's record gets
  ``revoked_at`` = DATE and reason ``key_compromise`` (a current key is rotated first, so it
  never signs again), and the root's CRL lists the certificate from DATE. A document the status
  list and its log prove issued before DATE keeps verifying; any later one fails with
  ``key_compromised``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authority.config import School
from authority.hsm import generate_key, pin_from_env, read_settings, write_settings
from authority.keys import (
    Revoked,
    _new_leaf,
    _write_key,
    _write_new,
    check_passphrase,
)
from authority.registry import Registry
from certseal.canonical import canonical_bytes
from certseal.errors import ConfigurationError, InputError, PassphraseError
from certseal.keyhistory import KeyHistory, load_local
from certseal.pki import cert_pem, load_certificates
from certseal.timeutil import format_time, parse_time
from certseal.trustlist import KeyRecord

HISTORY_DIR = "history"
RETIRED_DIR = "retired"
ROTATABLE = ("signing", "statuslist")
_SHA256 = hashes.SHA256()
_LABELS = {"signing": "Document Signing", "statuslist": "Status List Signing"}


def _current_cert(keys_dir: Path, role: str) -> x509.Certificate:
    try:
        return load_certificates((keys_dir / f"{role}.pem").read_bytes())[0]
    except FileNotFoundError:
        raise ConfigurationError(
            f"the authority has no {role} certificate: run 'certseal authority init' first",
            f"找不到 {role} 憑證：請先執行 certseal authority init",
        ) from None


def _versions(keys_dir: Path) -> list[int]:
    folder = keys_dir / HISTORY_DIR
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit())


def load_history(keys_dir: Path, school: School, now: dt.datetime) -> KeyHistory:
    """The newest recorded history; the first one (today's certificates, each over its own
    validity) is recorded on first use, by an authority made before histories existed."""
    versions = _versions(keys_dir)
    if versions:
        path = keys_dir / HISTORY_DIR / f"{versions[-1]}.json"
        return load_local(path.read_bytes())
    first = KeyHistory.from_certificates(
        school.code, [(_current_cert(keys_dir, r), r) for r in ROTATABLE], now
    )
    _record(keys_dir, first)
    return first


def _record(keys_dir: Path, history: KeyHistory) -> None:
    """Write a new version of the history; an existing version is never replaced."""
    folder = keys_dir / HISTORY_DIR
    folder.mkdir(exist_ok=True)
    _write_new(folder / f"{history.version}.json", canonical_bytes(history.to_dict()))


def _root(keys_dir: Path, passphrase: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    path = keys_dir / "root.key.pem"
    if not path.exists():
        raise ConfigurationError(
            "this authority's certificates come from an outside CA: ask it for a new "
            "certificate (rotation here needs the school's own root key)",
            "本單位憑證由外部 CA 簽發：請向該 CA 申請新憑證（本功能需使用學校自有的根金鑰）",
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), passphrase.encode())
    except (ValueError, TypeError):
        raise PassphraseError(
            "the passphrase does not unlock the root key", "密碼無法解開根金鑰"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError("the root key must be ECDSA", "根金鑰須為 ECDSA")
    return key, load_certificates((keys_dir / "root.pem").read_bytes())[0]


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: the role, the retired and the new certificate, and when."""

    role: str
    old: KeyRecord
    new: KeyRecord
    at: dt.datetime
    on_hsm: bool
    history_version: int


def _rotate(
    keys_dir: Path,
    school: School,
    role: str,
    passphrase: str,
    now: dt.datetime,
    history: KeyHistory,
    revoke: dict[str, object] | None = None,
    years: int = 10,
) -> tuple[Rotation, KeyHistory]:
    if role not in ROTATABLE:
        raise InputError(
            f"the role must be one of {', '.join(ROTATABLE)}", f"角色須為 {'、'.join(ROTATABLE)}"
        )
    secret = check_passphrase(passphrase)
    root = _root(keys_dir, passphrase)
    old_cert = _current_cert(keys_dir, role)
    old = history.record(old_cert.fingerprint(_SHA256).hex())
    if old is None:
        raise ConfigurationError(
            f"the current {role} certificate is not in the key history: keys/ was changed by hand",
            f"目前的 {role} 憑證不在金鑰歷程中：keys/ 曾被手動修改",
        )
    if now <= old.valid_from:
        raise InputError(
            f"the {role} key was only started at {format_time(old.valid_from)}",
            f"{role} 金鑰於 {format_time(old.valid_from)} 才啟用",
        )
    hsm = read_settings(keys_dir)
    on_hsm = hsm is not None and hsm.key_id(role) is not None
    token_key = None
    if on_hsm:
        assert hsm is not None
        token_key = generate_key(hsm, f"certseal {role} {format_time(now)}", pin_from_env())
    end = min(root[1].not_valid_after_utc, now + dt.timedelta(days=365 * years))
    key, cert = _new_leaf(
        school, _LABELS[role], root, now, end, commit=role == "signing", key=token_key
    )
    new = KeyRecord.from_certificate(cert, role, valid_from=now)
    retired = old.replace(valid_to=min(old.valid_to, now), **(revoke or {}))
    records = [retired if r is old else r for r in history.records] + [new]
    der = cert.public_bytes(serialization.Encoding.DER)
    updated = history.with_records(records, {new.cert_sha256: der}, now)
    # The new files first under their own names, then the history, then the swap: a failure
    # before the swap leaves the old key in use and nothing recorded about the new one.
    staged = keys_dir / f".{role}.new"
    staged.mkdir()
    _write_new(staged / f"{role}.pem", cert_pem(cert))
    if token_key is None:
        _write_key(staged / f"{role}.key.pem", key, secret)
    _record(keys_dir, updated)
    retired_dir = keys_dir / RETIRED_DIR
    retired_dir.mkdir(exist_ok=True)
    stem = f"{role}.{old.cert_sha256[:16]}"
    os.rename(keys_dir / f"{role}.pem", retired_dir / f"{stem}.pem")
    if (keys_dir / f"{role}.key.pem").exists():
        os.rename(keys_dir / f"{role}.key.pem", retired_dir / f"{stem}.key.pem")
    for name in os.listdir(staged):
        os.rename(staged / name, keys_dir / name)
    staged.rmdir()
    if on_hsm and token_key is not None and hsm is not None:
        _write_new(retired_dir / f"{stem}.hsm.json", canonical_bytes(hsm.to_dict()))
        write_settings(keys_dir, hsm.with_key(role, token_key.key_id))
    return Rotation(role, retired, new, now, on_hsm, updated.version), updated


def rotate_key(
    keys_dir: Path, school: School, role: str, passphrase: str, now: dt.datetime
) -> Rotation:
    """Certify a new key for ``role``; the old one's window ends at ``now``."""
    history = load_history(keys_dir, school, now)
    return _rotate(keys_dir, school, role, passphrase, now, history)[0]


@dataclass(frozen=True)
class Compromise:
    """A recorded compromise: the key, since when, the rotation it forced, the documents to
    re-issue (signed with the key and not proven issued before ``since``)."""

    key: KeyRecord
    since: dt.datetime
    rotation: Rotation | None
    affected: tuple[str, ...]


def key_compromised(
    keys_dir: Path,
    school: School,
    registry: Registry,
    *,
    role: str,
    since: dt.datetime,
    passphrase: str,
    now: dt.datetime,
    cert_sha256: str | None = None,
) -> Compromise:
    """Record that ``role``'s key (the current one, or the certificate ``cert_sha256``) has
    been compromised since ``since``; a current key is replaced at once.

    Raises:
        InputError: ``since`` is in the future or before the key's start, the key is already
            revoked, or no such certificate is in the history.
    """
    if since > now:
        raise InputError(
            "--since is in the future: give when the key became suspect",
            "--since 晚於現在：請提供金鑰開始可疑的時間",
        )
    history = load_history(keys_dir, school, now)
    current = _current_cert(keys_dir, role).fingerprint(_SHA256).hex()
    wanted = cert_sha256 or current
    key = history.record(wanted)
    if key is None or key.role != role:
        raise InputError(
            f"no {role} certificate {wanted[:16]}… in the key history",
            f"金鑰歷程中沒有 {role} 憑證 {wanted[:16]}…",
        )
    if key.revoked_at is not None:
        raise InputError(
            f"the key was already revoked on {format_time(key.revoked_at)}; a published "
            "revocation does not change",
            f"此金鑰已於 {format_time(key.revoked_at)} 撤銷；已公布的撤銷不可更改",
        )
    if since < key.valid_from:
        raise InputError(
            f"--since is before the key was started ({format_time(key.valid_from)})",
            f"--since 早於金鑰啟用時間（{format_time(key.valid_from)}）",
        )
    revoke: dict[str, object] = {"revoked_at": since, "reason": "key_compromise"}
    rotation = None
    if wanted == current:
        rotation, history = _rotate(keys_dir, school, role, passphrase, now, history, revoke)
        key = rotation.old
    else:
        key = key.replace(**revoke)
        records = [key if r.cert_sha256 == wanted else r for r in history.records]
        history = history.with_records(records, {}, now)
        _record(keys_dir, history)
    affected = affected_documents(registry, key, since) if role == "signing" else ()
    return Compromise(key, since, rotation, affected)


def affected_documents(registry: Registry, key: KeyRecord, since: dt.datetime) -> tuple[str, ...]:
    """Documents signed with ``key`` (issued in its window) that no publication made before
    ``since`` put in the log: the verifier can no longer tell them from forgeries."""
    rows = registry.conn.execute("SELECT issued_at, last_event FROM publications").fetchall()
    logged_through = max(
        (int(last) for at, last in rows if parse_time(at, "publication") < since), default=0
    )
    issued = {
        str(doc): int(seq)
        for doc, seq in registry.conn.execute(
            "SELECT doc_id, seq FROM events WHERE kind = 'issued'"
        ).fetchall()
    }
    out = []
    for row in registry.documents():
        at = parse_time(row.issued_at, "issued_at")
        if (
            key.valid_from <= at < key.valid_to
            and issued.get(row.doc_id, 0) > logged_through
            and registry.state(row.doc_id).state != "revoked"
        ):
            out.append(row.doc_id)
    return tuple(out)


def crl_entries(history: KeyHistory) -> tuple[Revoked, ...]:
    """The root's CRL entries for the history's compromised keys, dated from the compromise."""
    out = []
    for r in history.records:
        if r.revoked_at is not None:
            serial = history.certificate(r.cert_sha256).serial_number
            out.append(Revoked(serial, r.revoked_at))
    return tuple(out)
