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
- **An outside CA's certificate** (an authority set up with ``init --import-p12``, no root key
  of its own): both commands take the CA's renewed key and certificate from a PKCS#12 file
  (:func:`load_successor`) as the successor, checked before anything changes, and record and
  swap it through the same staging and recovery as a certified one. Its status-list key is the
  school's own: the status root made at ``init`` (its key kept as ``statusroot.key.pem``)
  certifies the next one, as the school's root does elsewhere.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from authority.config import School
from authority.hsm import HSM_FILE, generate_key, pin_from_env, read_settings
from authority.keys import (
    STATUS_ROOT_KEY,
    PrivateKey,
    Revoked,
    _new_leaf,
    _write_key,
    _write_new,
    check_passphrase,
    load_identity,
    read_pkcs12,
)
from authority.registry import Registry
from certseal.canonical import canonical_bytes
from certseal.errors import CertsealError, ConfigurationError, InputError, PassphraseError
from certseal.keyhistory import KeyHistory, load_local
from certseal.pki import cert_pem, load_certificates
from certseal.timeutil import format_time, parse_time
from certseal.trustlist import KeyRecord

HISTORY_DIR = "history"
RETIRED_DIR = "retired"
ROTATABLE = ("signing", "statuslist")
_SHA256 = hashes.SHA256()
_LABELS = {"signing": "Document Signing", "statuslist": "Status List Signing"}
PREVIOUS = "previous.sha256"  # in a staging folder: the certificate the rotation retires
HSM_OLD = "hsm.old.json"  # in a staging folder: the HSM settings before the rotation
IMPORTABLE = ("signing",)
"""The role an outside CA certifies; the status-list key is always the school's own."""


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
    _sync_dir(folder)


def _root(
    keys_dir: Path, passphrase: str, role: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The key that certifies ``role``'s next key, and its certificate: the school's root
    (``root.key.pem``, ``root.pem``), or for the status-list key of an authority set up with
    ``--import-p12`` (whose ``root.pem`` is the outside CA's) the status root made at ``init``
    (``statusroot.key.pem``, the root of ``statuslist.chain.pem``)."""
    path, cert_path = keys_dir / "root.key.pem", keys_dir / "root.pem"
    if not path.exists() and role not in IMPORTABLE:
        path, cert_path = keys_dir / STATUS_ROOT_KEY, keys_dir / f"{role}.chain.pem"
        if not path.exists():
            raise StatusRootMissingError(
                f"the {role} key of an authority set up with --import-p12 cannot be rotated: "
                f"its root key was not kept (keys/{STATUS_ROOT_KEY}: this authority was set up "
                "before init kept it), and nothing else here can certify a successor. The "
                "current status-list key stays in use until its certificate ends; if it was "
                "compromised, stop publishing and tell every verifier to remove its "
                "statuslist.pem (docs/key-lifecycle.md, an outside CA's status-list key)",
                f"以 --import-p12 設定的簽發單位無法輪替 {role} 金鑰：其根金鑰未保存"
                f"（keys/{STATUS_ROOT_KEY}：本單位設定於 init 開始保存此金鑰之前），此處沒有其他"
                "金鑰能認證新金鑰。目前的狀態清單金鑰可用至其憑證到期；若已洩露，請停止發布，"
                "並通知所有驗證端移除其 statuslist.pem（見 docs/key-lifecycle.md）",
            )
    elif not path.exists():
        raise ConfigurationError(
            "this authority's certificates come from an outside CA: ask it for a new "
            "certificate and pass it with --import-p12 NEW.p12 (a key certified here needs "
            "the school's own root key)",
            "本單位憑證由外部 CA 簽發：請向該 CA 申請新憑證，並以 --import-p12 NEW.p12 匯入"
            "（在此簽發憑證需使用學校自有的根金鑰）",
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), passphrase.encode())
    except (ValueError, TypeError):
        raise PassphraseError(
            "the passphrase does not unlock the root key", "密碼無法解開根金鑰"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError("the root key must be ECDSA", "根金鑰須為 ECDSA")
    cert = load_certificates(cert_path.read_bytes())[-1]
    if _spki(key) != _spki(cert):
        raise ConfigurationError(
            f"keys/{path.name} does not match its certificate ({cert_path.name}): keys/ was "
            "changed by hand",
            f"keys/{path.name} 與其憑證（{cert_path.name}）不符：keys/ 曾被手動修改",
        )
    return key, cert


class StatusRootMissingError(ConfigurationError):
    """The status-list key of an authority set up with ``--import-p12`` before its status
    root's key was kept: nothing here can certify a successor."""


class SuccessorError(InputError):
    """An imported successor certificate refused before anything changed."""


@dataclass(frozen=True)
class Successor:
    """The key and certificate an outside CA issued to replace the current ones, with the
    certificates of its PKCS#12 file (the CA's intermediates and root, when it carries them)."""

    key: PrivateKey
    cert: x509.Certificate
    extra: tuple[x509.Certificate, ...] = ()


def load_successor(p12: bytes, p12_passphrase: str) -> Successor:
    """Read a PKCS#12 file the CA delivered (``--import-p12``); checked when it is used."""
    return Successor(*read_pkcs12(p12, p12_passphrase))


def _spki(key: PrivateKey | x509.Certificate) -> bytes:
    public = key.public_key()
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _school_names(cert: x509.Certificate) -> set[str]:
    """What a certificate's subject says the holder is: its organization, or its common name."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) or (
        cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    )
    return {str(a.value) for a in attrs}


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _successor_chain(
    keys_dir: Path, cert: x509.Certificate, extra: tuple[x509.Certificate, ...]
) -> tuple[x509.Certificate, ...]:
    """The chain from the new certificate up to the root the verifiers already trust
    (``root.pem``), from the PKCS#12 file's certificates and the current chain; empty when
    it does not reach it."""
    root = load_certificates((keys_dir / "root.pem").read_bytes())[0]
    current = load_certificates((keys_dir / f"{IMPORTABLE[0]}.chain.pem").read_bytes())
    pool = [*extra, *current]
    chain: list[x509.Certificate] = []
    child = cert
    for _ in range(len(pool) + 1):
        if child.issuer == root.subject and _issued_by(child, root):
            return (*chain, root)
        parent = next((c for c in pool if c.subject == child.issuer and _issued_by(child, c)), None)
        if parent is None or parent in chain:
            return ()
        chain.append(parent)
        child = parent
    return ()


def _check_successor(
    keys_dir: Path,
    school: School,
    role: str,
    successor: Successor,
    old_cert: x509.Certificate,
    history: KeyHistory,
    now: dt.datetime,
    compromised: bool,
) -> tuple[x509.Certificate, ...]:
    """Refuse a successor that is not a good next key for ``role``; its chain otherwise."""
    cert = successor.cert
    sha = cert.fingerprint(_SHA256).hex()[:16]
    if role not in IMPORTABLE:
        raise SuccessorError(
            "--import-p12 brings the CA's document-signing certificate; the status-list key is "
            "the school's own: rotate it without --import-p12",
            "--import-p12 僅用於 CA 簽發的文件簽章憑證；"
            "狀態清單金鑰屬學校自有，請勿搭配 --import-p12",
        )
    if _spki(successor.key) != _spki(cert):
        raise SuccessorError(
            "the key in the PKCS#12 file does not match its certificate",
            "PKCS#12 檔中的金鑰與憑證不符",
        )
    if history.record(cert.fingerprint(_SHA256).hex()) is not None:
        raise SuccessorError(
            f"the certificate {sha}… is already in the key history: it is the current or an "
            "earlier one, not a new one",
            f"憑證 {sha}… 已在金鑰歷程中：為目前或先前的憑證，並非新憑證",
        )
    stolen = {r.spki for r in history.records if r.reason == "key_compromise"}
    if _spki(cert) in stolen or (compromised and _spki(cert) == _spki(old_cert)):
        raise SuccessorError(
            "the new certificate is for a compromised key: ask the CA to certify a new key",
            "新憑證所認證的仍是遭洩露的金鑰：請向 CA 申請以新金鑰簽發的憑證",
        )
    names = _school_names(old_cert) | {school.name_en, school.name_zh}
    if not _school_names(cert) & names:
        named = ", ".join(sorted(_school_names(cert))) or cert.subject.rfc4514_string()
        raise SuccessorError(
            f"the new certificate names '{named}', not this school ({school.name_en})",
            f"新憑證的主體為「{named}」，並非本校（{school.name_zh}）",
        )
    if cert.not_valid_before_utc > now:
        raise SuccessorError(
            f"the new certificate is valid only from {format_time(cert.not_valid_before_utc)}: "
            "run this again from then",
            f"新憑證自 {format_time(cert.not_valid_before_utc)} 起才生效：請屆時再執行",
        )
    if cert.not_valid_after_utc <= now:
        raise SuccessorError(
            f"the new certificate expired on {format_time(cert.not_valid_after_utc)}",
            f"新憑證已於 {format_time(cert.not_valid_after_utc)} 到期",
        )
    chain = _successor_chain(keys_dir, cert, successor.extra)
    if not chain:
        raise SuccessorError(
            "the new certificate does not chain to the CA root the verifiers trust "
            "(keys/root.pem): put the CA's intermediate certificates in the PKCS#12 file",
            "新憑證無法連結至驗證端信任的 CA 根憑證（keys/root.pem）："
            "請將 CA 中繼憑證放入 PKCS#12 檔",
        )
    return chain


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: the role, the retired and the new certificate, and when."""

    role: str
    old: KeyRecord
    new: KeyRecord
    at: dt.datetime
    on_hsm: bool
    history_version: int
    recovered: Recovery | None = None  # an interrupted rotation dealt with first


def _rotate(
    keys_dir: Path,
    school: School,
    role: str,
    passphrase: str,
    now: dt.datetime,
    history: KeyHistory,
    revoke: dict[str, object] | None = None,
    years: int = 10,
    successor: Successor | None = None,
) -> tuple[Rotation, KeyHistory]:
    if role not in ROTATABLE:
        raise InputError(
            f"the role must be one of {', '.join(ROTATABLE)}", f"角色須為 {'、'.join(ROTATABLE)}"
        )
    secret = check_passphrase(passphrase)
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
    chain: tuple[x509.Certificate, ...] = ()
    key: PrivateKey
    if successor is not None:
        if on_hsm:
            raise SuccessorError(
                f"the {role} key is on the HSM: an imported key would be a file beside it",
                f"{role} 金鑰位於 HSM：匯入的金鑰會成為檔案，不能取代它",
            )
        chain = _check_successor(
            keys_dir, school, role, successor, old_cert, history, now, revoke is not None
        )
        load_identity(keys_dir, role, passphrase)  # the new key is written under this one
        key, cert = successor.key, successor.cert
    else:
        root = _root(keys_dir, passphrase, role)
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
    # The new files first, in a staging folder, then the history (the one durable decision),
    # then the swap. A crash before the history is recorded leaves the old key in use and an
    # unrecorded folder that the next run discards; after it, the next run finishes the swap
    # from what the folder holds (:func:`recover`).
    staged = keys_dir / f".{role}.new"
    staged.mkdir()
    _write_new(staged / PREVIOUS, old.cert_sha256.encode())
    if chain:
        _write_new(staged / f"{role}.chain.pem", b"".join(cert_pem(c) for c in chain))
    if token_key is None:
        _write_key(staged / f"{role}.key.pem", key, secret)
    elif hsm is not None:
        _write_new(staged / HSM_OLD, canonical_bytes(hsm.to_dict()))
        _write_new(
            staged / HSM_FILE, canonical_bytes(hsm.with_key(role, token_key.key_id).to_dict())
        )
    _write_new(staged / f"{role}.pem", cert_pem(cert))  # last: a staged certificate is whole
    _sync_dir(staged)
    _record(keys_dir, updated)
    _finish(keys_dir, role, staged)
    return Rotation(role, retired, new, now, on_hsm, updated.version), updated


def _sync_dir(folder: Path) -> None:
    """Make the folder's entries (new names, renames) durable before the next step."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move(source: Path, target: Path) -> None:
    """Move a file once: a re-run finds it moved already (a rename is atomic)."""
    if source.exists():
        if target.exists():
            raise ConfigurationError(
                f"{target} already exists: keys/ was changed by hand during a rotation",
                f"{target} 已存在：輪替期間 keys/ 曾被手動修改",
            )
        os.rename(source, target)


def _finish(keys_dir: Path, role: str, staged: Path) -> None:
    """Swap the staged key in, once the history records it; every step may have run before.

    The old certificate and key go to ``retired/`` (a key file is retired only while the
    staged one waits, so a new key already moved in is never taken for the old), then the new
    key, an imported successor's chain, the HSM settings, the new certificate last, and the
    folder goes."""
    old_sha = (staged / PREVIOUS).read_text().strip()
    retired_dir = keys_dir / RETIRED_DIR
    retired_dir.mkdir(exist_ok=True)
    stem = f"{role}.{old_sha[:16]}"
    current = keys_dir / f"{role}.pem"
    if current.exists() and _fingerprint(current) == old_sha:
        _move(current, retired_dir / f"{stem}.pem")
    if (staged / f"{role}.key.pem").exists() or (staged / HSM_FILE).exists():
        _move(keys_dir / f"{role}.key.pem", retired_dir / f"{stem}.key.pem")
    _move(staged / HSM_OLD, retired_dir / f"{stem}.hsm.json")
    _move(staged / f"{role}.key.pem", keys_dir / f"{role}.key.pem")
    if (staged / f"{role}.chain.pem").exists():  # an outside CA's successor brings its chain
        _move(keys_dir / f"{role}.chain.pem", retired_dir / f"{stem}.chain.pem")
        _move(staged / f"{role}.chain.pem", keys_dir / f"{role}.chain.pem")
    if (staged / HSM_FILE).exists():
        os.replace(staged / HSM_FILE, keys_dir / HSM_FILE)
    _move(staged / f"{role}.pem", current)
    _sync_dir(retired_dir)
    _sync_dir(keys_dir)
    (staged / PREVIOUS).unlink()
    staged.rmdir()


def _fingerprint(path: Path) -> str:
    return load_certificates(path.read_bytes())[0].fingerprint(_SHA256).hex()


@dataclass(frozen=True)
class Recovery:
    """What a run did with the folder an interrupted rotation left (``keys/.<role>.new``)."""

    role: str
    finished: bool  # True: the history recorded the new key, the swap was completed
    cert_sha256: str | None  # the staged certificate, when it was whole
    rotation: Rotation | None = None  # the finished rotation, as the history records it

    @property
    def message(self) -> tuple[str, str]:
        if self.finished:
            new = (self.cert_sha256 or "")[:16]
            return (
                f"an interrupted rotation of the {self.role} key was finished: its new "
                f"certificate {new}… was already recorded in the key history and is now in use",
                f"已完成先前中斷的 {self.role} 金鑰輪替：新憑證 {new}… 已記錄於金鑰歷程，現已啟用",
            )
        return (
            f"an interrupted rotation of the {self.role} key was discarded: nothing had been "
            "recorded from it, so the old key stayed in use",
            f"已捨棄先前中斷的 {self.role} 金鑰輪替：其內容從未記錄，舊金鑰仍在使用中",
        )


def recover(keys_dir: Path, school: School, role: str, now: dt.datetime) -> Recovery | None:
    """Deal with ``keys/.<role>.new`` left by an interrupted rotation, from what is durable.

    The key history is the decision: when its newest version lists the staged certificate,
    the rotation happened and the swap is finished; otherwise nothing was recorded from the
    folder (the certificate is written last and the history after it), so it is discarded and
    the old key stays in use. None when there was nothing to recover."""
    staged = keys_dir / f".{role}.new"
    if not staged.exists():
        return None
    cert_path = staged / f"{role}.pem"
    cert_sha = None
    if cert_path.exists() and (staged / PREVIOUS).exists():
        try:
            cert_sha = _fingerprint(cert_path)
        except (CertsealError, ValueError, IndexError):
            cert_sha = None  # cut short while written: never recorded
    history = load_history(keys_dir, school, now)
    record = history.record(cert_sha) if cert_sha is not None else None
    if record is None:
        shutil.rmtree(staged)
        _sync_dir(keys_dir)
        return Recovery(role, False, cert_sha)
    old = history.record((staged / PREVIOUS).read_text().strip())
    _finish(keys_dir, role, staged)
    rotation = None
    if old is not None:
        hsm = read_settings(keys_dir)
        on_hsm = hsm is not None and hsm.key_id(role) is not None
        rotation = Rotation(role, old, record, record.valid_from, on_hsm, history.version)
    return Recovery(role, True, cert_sha, rotation)


def rotate_key(
    keys_dir: Path,
    school: School,
    role: str,
    passphrase: str,
    now: dt.datetime,
    successor: Successor | None = None,
) -> Rotation:
    """Certify a new key for ``role`` (or take ``successor``, an outside CA's); the old one's
    window ends at ``now``.

    A rotation interrupted before is dealt with first (:func:`recover`): finished when the
    history recorded it (and then returned, with ``recovered`` set, without a second
    rotation), discarded otherwise."""
    if role not in ROTATABLE:
        raise InputError(
            f"the role must be one of {', '.join(ROTATABLE)}", f"角色須為 {'、'.join(ROTATABLE)}"
        )
    recovered = recover(keys_dir, school, role, now)
    if recovered is not None and recovered.rotation is not None:
        return replace(recovered.rotation, recovered=recovered)
    history = load_history(keys_dir, school, now)
    rotation = _rotate(keys_dir, school, role, passphrase, now, history, successor=successor)[0]
    return rotation if recovered is None else replace(rotation, recovered=recovered)


@dataclass(frozen=True)
class Compromise:
    """A recorded compromise: the key, since when, the rotation it forced, the documents to
    re-issue (signed with the key and not proven issued before ``since``)."""

    key: KeyRecord
    since: dt.datetime
    rotation: Rotation | None
    affected: tuple[str, ...]
    recovered: Recovery | None = None  # an interrupted rotation dealt with first


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
    successor: Successor | None = None,
) -> Compromise:
    """Record that ``role``'s key (the current one, or the certificate ``cert_sha256``) has
    been compromised since ``since``; a current key is replaced at once, by ``successor``
    when an outside CA certifies the school's keys.

    Raises:
        InputError: ``since`` is in the future or before the key's start, the key is already
            revoked, or no such certificate is in the history; an outside CA's current key
            without ``successor``, or ``successor`` for an earlier key.
    """
    if since > now:
        raise InputError(
            "--since is in the future: give when the key became suspect",
            "--since 晚於現在：請提供金鑰開始可疑的時間",
        )
    recovered = recover(keys_dir, school, role, now)
    if recovered is not None and recovered.rotation is not None:
        interrupted = recovered.rotation
        revoked = interrupted.old.revoked_at
        if revoked is not None and cert_sha256 in (None, interrupted.old.cert_sha256):
            # This very command was cut short after recording the compromise: done now.
            done = interrupted.old
            affected = affected_documents(registry, done, revoked) if role == "signing" else ()
            return Compromise(done, revoked, interrupted, affected, recovered)
        if cert_sha256 is None:
            en, zh = recovered.message
            raise InputError(
                f"{en}; the key that was current before it is {interrupted.old.cert_sha256}: "
                "give it with --cert if that is the compromised one",
                f"{zh}；先前使用的金鑰為 {interrupted.old.cert_sha256}：若其為遭洩露的金鑰，"
                "請以 --cert 指定",
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
    if wanted != current and successor is not None:
        raise SuccessorError(
            "--import-p12 replaces the current key; the compromised one is an earlier key, "
            "already replaced: leave --import-p12 out",
            "--import-p12 用於取代目前的金鑰；遭洩露的是先前已被取代的金鑰：請勿使用 --import-p12",
        )
    outside_ca = not (keys_dir / "root.key.pem").exists()
    if wanted == current and successor is None and outside_ca and role in IMPORTABLE:
        # Nothing can certify a replacement here, and the compromised key must not sign again.
        raise SuccessorError(
            f"the compromised {role} key was certified by an outside CA: pass the replacement "
            "the CA issued with --import-p12 NEW.p12 (issuing must not go on with a compromised "
            "key; until then, issue nothing)",
            f"遭洩露的 {role} 金鑰由外部 CA 認證：請以 --import-p12 NEW.p12 提供 CA 簽發的替代憑證"
            "（不得繼續以遭洩露的金鑰簽發文件；在此之前請暫停簽發）",
        )
    revoke: dict[str, object] = {"revoked_at": since, "reason": "key_compromise"}
    rotation = None
    if wanted == current:
        rotation, history = _rotate(
            keys_dir, school, role, passphrase, now, history, revoke, successor=successor
        )
        key = rotation.old
    else:
        key = key.replace(**revoke)
        records = [key if r.cert_sha256 == wanted else r for r in history.records]
        history = history.with_records(records, {}, now)
        _record(keys_dir, history)
    affected = affected_documents(registry, key, since) if role == "signing" else ()
    return Compromise(key, since, rotation, affected, recovered)


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
