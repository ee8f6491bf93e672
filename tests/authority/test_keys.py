"""Setting up the authority: keys encrypted at rest, PKCS#12 import, home outside checkouts."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from authority.config import DEMO_SCHOOL
from authority.keys import issue_certificate, load_identity, public_material
from authority.service import init_authority
from certseal.errors import ConfigurationError, PassphraseError
from tests.conftest import NOW, PASSPHRASE


def test_private_keys_are_encrypted_at_rest(tmp_path: Path) -> None:
    home = tmp_path / "h"
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW)
    for role in ("root", "signing", "statuslist"):
        pem = (home / "keys" / f"{role}.key.pem").read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert (home / "keys" / f"{role}.key.pem").stat().st_mode & 0o077 == 0
    ident = load_identity(home / "keys", "signing", PASSPHRASE)
    assert ident.cert.issuer == ident.chain[0].subject


def test_wrong_passphrase_is_a_plain_error(tmp_path: Path) -> None:
    home = tmp_path / "h"
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW)
    with pytest.raises(PassphraseError, match="does not unlock the signing key"):
        load_identity(home / "keys", "signing", "wrong-passphrase-123")


def test_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="at least 12"):
        init_authority(tmp_path / "h", DEMO_SCHOOL, "short", NOW)


def test_set_up_only_once(tmp_path: Path) -> None:
    init_authority(tmp_path / "h", DEMO_SCHOOL, PASSPHRASE, NOW)
    with pytest.raises(ConfigurationError, match="already set up"):
        init_authority(tmp_path / "h", DEMO_SCHOOL, PASSPHRASE, NOW)


def test_home_inside_a_git_checkout_is_refused(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    with pytest.raises(ConfigurationError, match="inside the code checkout"):
        init_authority(tmp_path / "repo" / "home", DEMO_SCHOOL, PASSPHRASE, NOW)


def test_public_material_holds_no_private_key(tmp_path: Path) -> None:
    init_authority(tmp_path / "h", DEMO_SCHOOL, PASSPHRASE, NOW)
    material = public_material(tmp_path / "h" / "keys")
    assert {"root.pem", "statuslist.pem"} <= set(material)
    assert not any(b"PRIVATE KEY" in v for v in material.values())


def _real_ca_p12(tmp_path: Path, password: bytes) -> bytes:
    """A PKCS#12 as a real CA would deliver it: key, leaf certificate and the CA's root."""
    from cryptography.x509.oid import NameOID

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Real Government CA")])
    usage_ca = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    ca = issue_certificate(
        subject=ca_name,
        public_key=ca_key.public_key(),
        issuer=None,
        issuer_key=ca_key,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=3650),
        usage=usage_ca,
        ca=True,
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue_certificate(
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Demo University")]),
        public_key=key.public_key(),
        issuer=ca,
        issuer_key=ca_key,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=3000),
        usage=x509.KeyUsage(True, True, False, False, False, False, False, False, False),
        ca=False,
    )
    return pkcs12.serialize_key_and_certificates(
        b"school", key, leaf, [ca], serialization.BestAvailableEncryption(password)
    )


def test_import_pkcs12(tmp_path: Path) -> None:
    p12 = _real_ca_p12(tmp_path, b"p12-password")
    home = tmp_path / "h"
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW, p12=p12, p12_passphrase="p12-password")
    ident = load_identity(home / "keys", "signing", PASSPHRASE)
    assert "Real Government CA" in ident.chain[0].subject.rfc4514_string()
    assert (home / "keys" / "signing.key.pem").read_bytes().startswith(b"-----BEGIN ENCRYPTED")
    load_identity(home / "keys", "statuslist", PASSPHRASE)


def test_import_pkcs12_wrong_password(tmp_path: Path) -> None:
    p12 = _real_ca_p12(tmp_path, b"p12-password")
    with pytest.raises(PassphraseError, match="PKCS#12"):
        init_authority(tmp_path / "h", DEMO_SCHOOL, PASSPHRASE, NOW, p12=p12, p12_passphrase="nope")
