"""The authority's keys: created here (root CA, document signing, status-list signing) or
imported from a PKCS#12 file a real CA issued. Private keys are written only encrypted
(PKCS#8, PBES2/AES-256) with the registrar's passphrase.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from authority.config import School
from authority.hsm import (
    HsmKey,
    HsmSettings,
    generate_key,
    load_key,
    pin_from_env,
    read_settings,
    write_settings,
)
from certseal.errors import ConfigurationError, InputError, PassphraseError
from certseal.pki import cert_pem, load_certificates

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
ROLES = ("root", "signing", "statuslist")
HSM_ROLES = ("signing", "statuslist")
"""The keys an HSM can hold: the root's stays a file, used offline at init, rotation, CRLs."""
STATUS_ROOT_KEY = "statusroot.key.pem"
"""The key of the status root that ``init --import-p12`` makes (``root.key.pem`` would claim
to be the key of ``root.pem``, the outside CA's root): kept so the status-list key rotates."""
MIN_PASSPHRASE = 12


@dataclass(frozen=True)
class Identity:
    """A private key, its certificate and the chain up to (and including) the root."""

    key: PrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]


def check_passphrase(passphrase: str) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise PassphraseError(
            f"the passphrase must be at least {MIN_PASSPHRASE} characters",
            f"密碼至少需要 {MIN_PASSPHRASE} 個字元",
        )
    return passphrase.encode()


MAX_NAME = 64
"""RFC 5280's upper bound (ub-common-name, ub-organization-name) for a subject attribute."""
DESCRIPTION = x509.ObjectIdentifier("2.5.4.13")
"""X.520 ``description`` (up to 1024 characters), which ``NameOID`` does not name."""


def _name(school: School, role_en: str) -> x509.Name:
    """The subject of one of the school's certificates, within X.509's 64-character bounds.

    Real school names are longer ("National Kaohsiung University of Science and Technology
    Document Signing" is 72): the common name then uses the school code, and a full English
    name over 64 characters is kept whole in ``description`` (X.520, up to 1024), with the
    Chinese name as the organization.
    """
    common = f"{school.name_en} {role_en}"
    if len(common.encode()) > MAX_NAME:
        common = f"{school.code} {role_en}"
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "TW")]
    if len(school.name_en) <= MAX_NAME:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, school.name_en))
    else:
        if len(school.name_zh) > MAX_NAME:
            raise ConfigurationError(
                f"the school's names are both longer than {MAX_NAME} characters, the most a "
                "certificate holds: shorten the Chinese name",
                f"學校中英文名稱皆超過 {MAX_NAME} 個字元（憑證欄位上限）：請縮短中文名稱",
            )
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, school.name_zh))
        attributes.append(x509.NameAttribute(DESCRIPTION, school.name_en))
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, school.code))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(attributes)


def _key_usage(*, sign: bool, commit: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=commit,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def issue_certificate(
    *,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    usage: x509.KeyUsage,
    ca: bool,
    crl_url: str | None = None,
) -> x509.Certificate:
    """One certificate; also used by the tests to build look-alike and bogus PKI.

    ``crl_url`` names where the issuer's CRL is published: without it a validator fifty
    years on has no revocation data for the certificate and cannot place it in time."""
    issuer_name = issuer.subject if issuer is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if crl_url is not None:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_key(path: Path, key: PrivateKey, passphrase: bytes) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    _write_new(path, data, mode=0o600)


def _write_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file that must not exist yet: keys are never overwritten."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _refuse_existing(keys_dir: Path) -> None:
    existing = [p.name for p in keys_dir.glob("*.pem")] if keys_dir.exists() else []
    if existing:
        raise ConfigurationError(
            f"keys already exist in {keys_dir}; an authority is set up only once",
            f"{keys_dir} 已有金鑰；簽發單位只能設定一次",
        )


def _new_root(
    school: School, label: str, now: dt.datetime, end: dt.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_certificate(
        subject=_name(school, label),
        public_key=key.public_key(),
        issuer=None,
        issuer_key=key,
        not_before=now - dt.timedelta(minutes=5),
        not_after=end,
        usage=_key_usage(sign=False, commit=False, ca=True),
        ca=True,
    )
    return key, cert


def _new_leaf(
    school: School,
    label: str,
    root: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    now: dt.datetime,
    end: dt.datetime,
    *,
    commit: bool,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A leaf certificate from the root, for ``key`` (an HSM's) or a new key made here."""
    key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    cert = issue_certificate(
        subject=_name(school, label),
        public_key=key.public_key(),
        issuer=root[1],
        issuer_key=root[0],
        not_before=now - dt.timedelta(minutes=5),
        not_after=end,
        usage=_key_usage(sign=True, commit=commit, ca=False),
        ca=False,
        crl_url=crl_url(school),
    )
    return key, cert


def create_pki(
    keys_dir: Path,
    school: School,
    passphrase: str,
    now: dt.datetime,
    *,
    root_years: int = 25,
    leaf_years: int = 10,
    hsm: HsmSettings | None = None,
    hsm_roles: Collection[str] = ("signing",),
) -> dict[str, x509.Certificate]:
    """Create a root CA and two leaf certificates: document signing and status-list signing.

    With ``hsm``, the keys of ``hsm_roles`` (``signing``, ``statuslist`` or both) are
    generated on the token (its PIN from the environment) and only ``hsm.json`` naming them is
    written here; the root's key stays a file under the passphrase."""
    secret = check_passphrase(passphrase)
    unknown = set(hsm_roles) - set(HSM_ROLES)
    if hsm is not None and (unknown or not hsm_roles):
        raise InputError(
            f"the HSM can hold the keys of {', '.join(HSM_ROLES)}",
            f"HSM 可存放的金鑰為 {'、'.join(HSM_ROLES)}",
        )
    _refuse_existing(keys_dir)
    root_end = now + dt.timedelta(days=365 * root_years)
    leaf_end = min(root_end, now + dt.timedelta(days=365 * leaf_years))
    root = _new_root(school, "Document Root CA", now, root_end)
    on_token: dict[str, HsmKey] = {}
    if hsm is not None:
        pin = pin_from_env()
        for role in HSM_ROLES:
            if role in hsm_roles:
                on_token[role] = generate_key(hsm, f"certseal {role}", pin)
                hsm = hsm.with_key(role, on_token[role].key_id)
    pairs = {
        "root": root,
        "signing": _new_leaf(
            school, "Document Signing", root, now, leaf_end, commit=True,
            key=on_token.get("signing"),
        ),
        "statuslist": _new_leaf(
            school, "Status List Signing", root, now, leaf_end, commit=False,
            key=on_token.get("statuslist"),
        ),
    }  # fmt: skip
    # Every certificate exists before the first file: a failure leaves no keys/ behind.
    with _new_folder(keys_dir) as staging:
        for role in ROLES:
            if role not in on_token:
                _write_key(staging / f"{role}.key.pem", pairs[role][0], secret)
            _write_new(staging / f"{role}.pem", cert_pem(pairs[role][1]))
        if hsm is not None:
            write_settings(staging, hsm)
        _write_new(staging / "signing.chain.pem", cert_pem(root[1]))
        _write_new(staging / "statuslist.chain.pem", cert_pem(root[1]))
        write_crl(staging, sign_crl(root[0], root[1], now))
    return {role: pair[1] for role, pair in pairs.items()}


@contextmanager
def _new_folder(target: Path) -> Iterator[Path]:
    """A staging folder that becomes ``target`` only when the block completes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield staging
        if target.exists():
            target.rmdir()  # an empty folder left by an older version; a full one raises
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_pkcs12(
    p12: bytes, p12_passphrase: str
) -> tuple[PrivateKey, x509.Certificate, tuple[x509.Certificate, ...]]:
    """The key, its certificate and the other certificates of a PKCS#12 file a CA delivered:
    what ``init --import-p12`` and a rotation to the CA's renewed certificate both read."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(p12, p12_passphrase.encode() or None)
    except ValueError as e:
        raise PassphraseError(
            "the PKCS#12 file could not be opened: wrong password or not a PKCS#12 file",
            "無法開啟 PKCS#12 檔：密碼錯誤或不是 PKCS#12 檔",
        ) from e
    if key is None or cert is None:
        raise InputError(
            "the PKCS#12 file holds no key and certificate", "PKCS#12 檔缺少金鑰或憑證"
        )
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise InputError("only RSA and ECDSA keys are supported", "僅支援 RSA 與 ECDSA 金鑰")
    return key, cert, tuple(extra)


def import_pkcs12(
    keys_dir: Path,
    p12: bytes,
    p12_passphrase: str,
    passphrase: str,
    school: School,
    now: dt.datetime,
    *,
    root_pem: bytes | None = None,
) -> dict[str, x509.Certificate]:
    """Import a document-signing key and certificate issued by a real CA.

    The status-list key is created here and certified by a self-signed status root, since the
    registrar holds no key of the real CA: verifiers pin the status-list certificate itself.
    The status root's key is kept (:data:`STATUS_ROOT_KEY`, under the passphrase) so a later
    ``rotate-key --role statuslist`` can certify the next status-list key.
    """
    secret = check_passphrase(passphrase)
    _refuse_existing(keys_dir)
    key, cert, extra = read_pkcs12(p12, p12_passphrase)
    chain = list(extra)
    if root_pem is not None:
        chain.extend(load_certificates(root_pem))
    roots = [c for c in chain if c.issuer == c.subject]
    if not roots:
        raise InputError(
            "the PKCS#12 file has no root certificate: give the CA's root with --root",
            "PKCS#12 檔沒有根憑證：請以 --root 提供 CA 根憑證",
        )
    keys_dir.mkdir(parents=True, exist_ok=True)
    status_root = _new_root(school, "Status List Root", now, now + dt.timedelta(days=365 * 25))
    status_key, status_cert = _new_leaf(
        school,
        "Status List Signing",
        status_root,
        now,
        now + dt.timedelta(days=365 * 10),
        commit=False,
    )
    _write_key(keys_dir / "signing.key.pem", key, secret)
    _write_new(keys_dir / "signing.pem", cert_pem(cert))
    _write_new(keys_dir / "signing.chain.pem", b"".join(cert_pem(c) for c in chain))
    _write_new(keys_dir / "root.pem", cert_pem(roots[0]))
    _write_key(keys_dir / "statuslist.key.pem", status_key, secret)
    _write_new(keys_dir / "statuslist.pem", cert_pem(status_cert))
    _write_new(keys_dir / "statuslist.chain.pem", cert_pem(status_root[1]))
    _write_key(keys_dir / STATUS_ROOT_KEY, status_root[0], secret)
    return {"root": roots[0], "signing": cert, "statuslist": status_cert}


def load_identity(keys_dir: Path, role: str, passphrase: str) -> Identity:
    """Unlock one role's key (``signing`` or ``statuslist``): a file opened with the
    passphrase, or a key on the HSM that ``hsm.json`` names (its PIN from the environment)."""
    key_path = keys_dir / f"{role}.key.pem"
    hsm = read_settings(keys_dir)
    try:
        cert = load_certificates((keys_dir / f"{role}.pem").read_bytes())[0]
        chain = tuple(load_certificates((keys_dir / f"{role}.chain.pem").read_bytes()))
        if hsm is not None and hsm.key_id(role) is not None:
            return _matching(role, load_key(hsm, role, pin_from_env()), cert, chain)
        key_pem = key_path.read_bytes()
    except FileNotFoundError as e:
        raise ConfigurationError(
            f"the authority has no {role} key ({e.filename}): run 'certseal authority init' first",
            f"找不到 {role} 金鑰（{e.filename}）：請先執行 certseal authority init",
        ) from None
    try:
        key = serialization.load_pem_private_key(key_pem, passphrase.encode())
    except (ValueError, TypeError):
        raise PassphraseError(
            f"the passphrase does not unlock the {role} key",
            f"密碼無法解開 {role} 金鑰",
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ConfigurationError("unsupported key type", "不支援的金鑰類型")
    return _matching(role, key, cert, chain)


def _matching(
    role: str, key: PrivateKey, cert: x509.Certificate, chain: tuple[x509.Certificate, ...]
) -> Identity:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) != cert.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise ConfigurationError(
            f"the {role} key does not match its certificate", f"{role} 金鑰與憑證不符"
        )
    return Identity(key=key, cert=cert, chain=chain)


def public_material(keys_dir: Path) -> dict[str, bytes]:
    """The files a verifier and the public site need: no private key, ever."""
    out = {}
    for name in ("root.pem", "statuslist.pem", "statuslist.chain.pem", "signing.pem"):
        path = keys_dir / name
        if path.exists():
            out[name] = path.read_bytes()
    return out


# -- the root's certificate revocation list -------------------------------------------------
CRL_FILE = "root.crl"
CRL_DAYS = 400
"""How long a CRL is current: a year and a margin, as each publish signs a new one."""


def crl_url(school: School) -> str:
    """Where the root's CRL is published: ``certs/root.crl`` next to the status list, under the
    school's verification site (the authority is offline; publishing is how it answers)."""
    return f"{school.verify_url.rstrip('/')}/certs/{CRL_FILE}"


@dataclass(frozen=True)
class Revoked:
    """A certificate the root revokes: a key compromise, dated from when the key is suspect."""

    serial: int
    since: dt.datetime
    reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise


def sign_crl(
    root_key: PrivateKey,
    root: x509.Certificate,
    now: dt.datetime,
    revoked: tuple[Revoked, ...] = (),
    *,
    days: int = CRL_DAYS,
) -> bytes:
    """The root's CRL (DER), current from ``now`` for ``days``.

    A revocation is dated by its ``since``: a validator then accepts signatures proven (by a
    timestamp) to be older than the compromise and refuses the later ones."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=days))
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    for r in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(r.serial)
            .revocation_date(r.since)
            .add_extension(x509.CRLReason(r.reason), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(root_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def write_crl(keys_dir: Path, der: bytes) -> None:
    """Replace the home's current CRL (a CRL is superseded by the next one, by design)."""
    tmp = keys_dir / f".{CRL_FILE}.tmp"
    tmp.write_bytes(der)
    os.replace(tmp, keys_dir / CRL_FILE)


def read_crl(keys_dir: Path) -> bytes | None:
    """The home's current CRL, or None (an authority made before CRLs, or an imported CA)."""
    try:
        return (keys_dir / CRL_FILE).read_bytes()
    except FileNotFoundError:
        return None


def renew_crl(
    keys_dir: Path, passphrase: str, now: dt.datetime, revoked: tuple[Revoked, ...] = ()
) -> bytes | None:
    """Sign a new CRL with the root's key, when this authority holds it (not for an imported
    CA, whose CRL is the CA's business): what ``publish`` does each time."""
    key_path = keys_dir / "root.key.pem"
    if not key_path.exists():
        return None
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), passphrase.encode())
    except (ValueError, TypeError):
        raise PassphraseError(
            "the passphrase does not unlock the root key", "密碼無法解開根金鑰"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ConfigurationError("unsupported key type", "不支援的金鑰類型")
    root = load_certificates((keys_dir / "root.pem").read_bytes())[0]
    der = sign_crl(key, root, now, revoked)
    write_crl(keys_dir, der)
    return der
