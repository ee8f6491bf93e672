"""Rotation and compromise for a school whose document-signing certificate comes from an outside
CA (``init --import-p12``, no root key of its own): the successor is the CA's renewed key and
certificate from a PKCS#12 file, checked before anything changes, recorded and swapped like a
certified one (and recovered the same way when a run is cut short)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from authority.config import DEMO_SCHOOL
from authority.keys import STATUS_ROOT_KEY, _key_usage, issue_certificate, load_identity
from authority.rotation import (
    StatusRootMissingError,
    SuccessorError,
    key_compromised,
    load_history,
    load_successor,
    rotate_key,
)
from authority.service import Authority, init_authority
from certseal.errors import ConfigurationError, PassphraseError
from certseal.timeutil import format_time
from cli import main
from tests.conftest import ACTOR, NOW, PASSPHRASE, sample_bytes
from tests.keys.conftest import Steps, answers_after_compromise
from tests.keys.test_rotation import fingerprint, published_history
from tests.keys.test_rotation_recovery import KILLED_ROTATION, ROOT, history_versions
from verifier.federation import signer_cert_sha256

H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
P12_PASSWORD = "p12-test-password"  # a generated test fixture's password, not a secret


@dataclass
class OutsideCA:
    """A CA as a school would buy from: a root and an intermediate that issues the leaves."""

    name: str

    def __post_init__(self) -> None:
        ca = _key_usage(sign=False, commit=False, ca=True)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = issue_certificate(
            subject=_subject(f"{self.name} Root"), public_key=self.root_key.public_key(),
            issuer=None, issuer_key=self.root_key, not_before=NOW - 400 * DAY,
            not_after=NOW + 9000 * DAY, usage=ca, ca=True,
        )  # fmt: skip
        self.inter_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = issue_certificate(
            subject=_subject(f"{self.name} Issuing CA"), public_key=self.inter_key.public_key(),
            issuer=self.root, issuer_key=self.root_key, not_before=NOW - 400 * DAY,
            not_after=NOW + 8000 * DAY, usage=ca, ca=True,
        )  # fmt: skip

    def leaf(
        self,
        key: ec.EllipticCurvePrivateKey,
        *,
        organization: str = DEMO_SCHOOL.name_en,
        not_before: dt.datetime = NOW - 60 * DAY,
        not_after: dt.datetime = NOW + 3 * 365 * DAY,
    ) -> x509.Certificate:
        return issue_certificate(
            subject=x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} Document Signing"),
            ]),
            public_key=key.public_key(), issuer=self.inter, issuer_key=self.inter_key,
            not_before=not_before, not_after=not_after,
            usage=_key_usage(sign=True, commit=True, ca=False), ca=False,
        )  # fmt: skip

    def p12(
        self,
        key: ec.EllipticCurvePrivateKey | None = None,
        *,
        with_root: bool = True,
        **leaf: dt.datetime | str,
    ) -> bytes:
        """A PKCS#12 file as the CA delivers it: a key (new unless given), its certificate and
        the CA's chain."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        cert = self.leaf(key, **leaf)  # type: ignore[arg-type]
        chain = [self.inter, self.root] if with_root else [self.inter]
        return pkcs12.serialize_key_and_certificates(
            b"school", key, cert, chain,
            serialization.BestAvailableEncryption(P12_PASSWORD.encode()),
        )  # fmt: skip


def _subject(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture
def ca() -> OutsideCA:
    return OutsideCA("Test Government CA")


@pytest.fixture
def imported(tmp_path: Path, ca: OutsideCA) -> Path:
    """An authority set up with the CA's PKCS#12 file, the sample graduates imported."""
    home = tmp_path / "home"
    init_authority(
        home, DEMO_SCHOOL, PASSPHRASE, NOW - 30 * DAY, p12=ca.p12(), p12_passphrase=P12_PASSWORD
    )
    with Authority(home) as auth:
        report, _ = auth.import_records(
            "graduates", sample_bytes("graduates.csv"), now=NOW, actor=ACTOR, source="g.csv"
        )
        assert not report.rejected
    return home


def test_rotation_to_the_cas_renewed_certificate(
    imported: Path, ca: OutsideCA, tmp_path: Path
) -> None:
    steps = Steps(imported, tmp_path / "site")
    keys = imported / "keys"
    old_doc = steps.issue(NOW)
    steps.publish(NOW + H)
    old = fingerprint(keys / "signing.pem")
    successor = load_successor(ca.p12(with_root=False), P12_PASSWORD)
    with Authority(imported) as auth:
        rot = rotate_key(auth.keys_dir, auth.school, "signing", PASSPHRASE, NOW + 2 * H, successor)
    new = fingerprint(keys / "signing.pem")
    assert rot.old.cert_sha256 == old and rot.new.cert_sha256 == new != old
    assert new == successor.cert.fingerprint(hashes.SHA256()).hex()
    # The windows: the old key's ends and the new one's starts at the rotation.
    assert rot.old.valid_to == rot.new.valid_from == NOW + 2 * H
    assert rot.new.valid_to == successor.cert.not_valid_after_utc
    # The old key, certificate and chain are kept, never deleted; the new chain reaches the root.
    stem = keys / "retired" / f"signing.{old[:16]}"
    assert fingerprint(Path(f"{stem}.pem")) == old
    assert Path(f"{stem}.key.pem").exists() and Path(f"{stem}.chain.pem").exists()
    identity = load_identity(keys, "signing", PASSPHRASE)
    assert [c.subject for c in identity.chain] == [ca.inter.subject, ca.root.subject]
    assert not (keys / ".signing.new").exists()

    new_doc = steps.issue(NOW + 3 * H)
    steps.publish(NOW + 4 * H)
    assert signer_cert_sha256(steps.pdf(old_doc)) == old
    assert signer_cert_sha256(steps.pdf(new_doc)) == new
    at = NOW + 4 * H + dt.timedelta(minutes=1)
    for doc in (old_doc, new_doc):
        result = steps.verify(tmp_path, doc, at)
        assert result.result == "success", result.codes
    history = published_history(steps.out)
    assert [
        (r.cert_sha256, r.valid_from, r.valid_to) for r in history.records if r.role == "signing"
    ] == [
        (old, rot.old.valid_from, NOW + 2 * H),
        (new, NOW + 2 * H, successor.cert.not_valid_after_utc),
    ]


def test_compromise_with_the_cas_replacement(imported: Path, ca: OutsideCA, tmp_path: Path) -> None:
    """The CA revoked the key: recorded with the CA's date as --since; documents proven issued
    before it keep verifying, later ones fail ``key_compromised``, as for a school-root key."""
    steps = Steps(imported, tmp_path / "site")
    proven = steps.issue(NOW)
    steps.publish(NOW + H)
    unproven = steps.issue(NOW + 2 * H)
    since = NOW + 3 * H
    after = steps.issue(NOW + 4 * H)
    old = fingerprint(imported / "keys" / "signing.pem")
    stolen = load_identity(imported / "keys", "signing", PASSPHRASE).key
    assert isinstance(stolen, ec.EllipticCurvePrivateKey)
    successor = load_successor(ca.p12(), P12_PASSWORD)
    with Authority(imported) as auth:
        done = key_compromised(
            auth.keys_dir, auth.school, auth.registry, role="signing", since=since,
            passphrase=PASSPHRASE, now=NOW + 5 * H, successor=successor,
        )  # fmt: skip
    assert done.rotation is not None and done.key.cert_sha256 == old
    assert fingerprint(imported / "keys" / "signing.pem") == done.rotation.new.cert_sha256
    assert done.affected == (unproven, after)
    answers_after_compromise(steps, tmp_path, proven, (unproven, after))
    record = published_history(steps.out).record(old)
    assert record is not None and record.revoked_at == since
    assert record.reason == "key_compromise" and record.valid_to == NOW + 5 * H
    assert not (steps.out / "certs" / "root.crl").exists()  # the CA's CRL is the CA's business
    # A later certificate for the stolen key is never taken back into use.
    recertified = load_successor(ca.p12(stolen), P12_PASSWORD)
    with Authority(imported) as auth, pytest.raises(SuccessorError, match="compromised key"):
        rotate_key(auth.keys_dir, auth.school, "signing", PASSPHRASE, NOW + 8 * H, recertified)


def _unchanged(home: Path) -> tuple[str, list[str], list[str]]:
    keys = home / "keys"
    return fingerprint(keys / "signing.pem"), history_versions(home), sorted(os.listdir(keys))


def test_refusals_change_nothing(imported: Path, ca: OutsideCA, tmp_path: Path) -> None:
    (imported / "keys" / STATUS_ROOT_KEY).unlink()  # set up before that key was kept
    before = _unchanged(imported)
    current = load_successor(ca.p12(), P12_PASSWORD)
    other_ca = OutsideCA("Some Other CA")
    with Authority(imported) as auth:
        history = load_history(auth.keys_dir, auth.school, NOW)
        old_cert = history.certificate(history.records[0].cert_sha256)
        old_key = load_identity(auth.keys_dir, "signing", PASSPHRASE).key
        assert isinstance(old_key, ec.EllipticCurvePrivateKey)
        before = _unchanged(imported)  # the first history, recorded on first use
        cases: list[tuple[object, str]] = [
            (load_successor(ca.p12(organization="Another University"), P12_PASSWORD),
             "names 'Another University', not this school"),
            (load_successor(ca.p12(not_before=NOW + DAY), P12_PASSWORD),
             f"valid only from {format_time(NOW + DAY)}"),
            (load_successor(ca.p12(not_before=NOW - 90 * DAY, not_after=NOW - DAY), P12_PASSWORD),
             "the new certificate expired on"),
            (replace(current, key=ec.generate_private_key(ec.SECP256R1())),
             "does not match its certificate"),
            (replace(current, cert=old_cert, key=old_key), "is already in the key history"),
            (load_successor(other_ca.p12(), P12_PASSWORD), "does not chain to the CA root"),
        ]  # fmt: skip
        at = NOW + H
        for successor, message in cases:
            with pytest.raises(SuccessorError, match=message):
                rotate_key(auth.keys_dir, auth.school, "signing", PASSPHRASE, at, successor)  # type: ignore[arg-type]
        # A compromise without the CA's replacement: the compromised key must not sign again.
        args = dict(role="signing", since=NOW, passphrase=PASSPHRASE, now=at)
        with pytest.raises(
            SuccessorError, match="pass the replacement the CA issued with --import-p12"
        ):
            key_compromised(auth.keys_dir, auth.school, auth.registry, **args)  # type: ignore[arg-type]
        # The CA re-certified the compromised key itself: no replacement.
        same_key = load_successor(ca.p12(old_key), P12_PASSWORD)
        with pytest.raises(SuccessorError, match="the new certificate is for a compromised key"):
            key_compromised(auth.keys_dir, auth.school, auth.registry, successor=same_key, **args)  # type: ignore[arg-type]
        with pytest.raises(SuccessorError, match="the status-list key is the school's own"):
            rotate_key(auth.keys_dir, auth.school, "statuslist", PASSPHRASE, at, current)
        with pytest.raises(
            ConfigurationError, match="cannot be rotated: its root key was not kept"
        ):
            rotate_key(auth.keys_dir, auth.school, "statuslist", PASSPHRASE, at)
        with pytest.raises(PassphraseError, match="does not unlock the signing key"):
            rotate_key(auth.keys_dir, auth.school, "signing", "wrong-passphrase-123", at, current)
    assert _unchanged(imported) == before
    # A wrong PKCS#12 password is a plain answer too.
    with pytest.raises(PassphraseError, match="PKCS#12 file could not be opened"):
        load_successor(ca.p12(), "not-the-password")


def _status_pin(home: Path, tmp_path: Path) -> Path:
    """The status-list certificate a verifier pinned before a rotation, kept aside."""
    pin = tmp_path / f"statuslist-{fingerprint(home / 'keys' / 'statuslist.pem')[:16]}.pem"
    pin.write_bytes((home / "keys" / "statuslist.pem").read_bytes())
    return pin


def _certified_by_the_status_root(keys: Path) -> x509.Certificate:
    """The current status-list certificate, checked to come from the status root kept at init
    (the same root as before: ``statuslist.chain.pem`` does not change)."""
    root = x509.load_pem_x509_certificate((keys / "statuslist.chain.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((keys / "statuslist.pem").read_bytes())
    cert.verify_directly_issued_by(root)
    root_key = serialization.load_pem_private_key(
        (keys / STATUS_ROOT_KEY).read_bytes(), PASSPHRASE.encode()
    )
    assert root_key.public_key() == root.public_key()
    return cert


def test_status_list_key_rotation_of_an_imported_authority(imported: Path, tmp_path: Path) -> None:
    """The status root's key is kept at init (encrypted, owner-only, not ``root.key.pem``,
    which would pose as the CA root's), so the status-list key rotates like any school's;
    a verifier pinning the old and new status-list certificates verifies both documents."""
    keys = imported / "keys"
    kept = (keys / STATUS_ROOT_KEY).read_bytes()
    assert kept.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    assert (keys / STATUS_ROOT_KEY).stat().st_mode & 0o077 == 0
    assert not (keys / "root.key.pem").exists()
    chain = (keys / "statuslist.chain.pem").read_bytes()
    steps = Steps(imported, tmp_path / "site")
    old_doc = steps.issue(NOW)
    steps.publish(NOW + H)
    old_pin = _status_pin(imported, tmp_path)
    old, signing = fingerprint(old_pin), fingerprint(keys / "signing.pem")
    with Authority(imported) as auth:
        rot = rotate_key(auth.keys_dir, auth.school, "statuslist", PASSPHRASE, NOW + 2 * H)
    new_cert = _certified_by_the_status_root(keys)
    assert rot.old.cert_sha256 == old and rot.new.cert_sha256 == fingerprint(
        keys / "statuslist.pem"
    )
    assert rot.new.cert_sha256 != old and rot.old.valid_to == rot.new.valid_from == NOW + 2 * H
    assert new_cert.not_valid_after_utc <= NOW + 2 * H + 3651 * DAY
    assert (keys / "statuslist.chain.pem").read_bytes() == chain
    assert (keys / STATUS_ROOT_KEY).read_bytes() == kept
    assert fingerprint(keys / "signing.pem") == signing  # the CA's certificate is untouched
    assert (keys / "retired" / f"statuslist.{old[:16]}.key.pem").exists()
    assert not (keys / "root.key.pem").exists() and not (keys / ".statuslist.new").exists()

    new_doc = steps.issue(NOW + 3 * H)
    steps.publish(NOW + 4 * H)
    assert fingerprint(steps.out / "certs" / "statuslist.pem") == rot.new.cert_sha256
    assert not (steps.out / "certs" / "root.crl").exists()  # still no CRL of ours
    verifier = steps.verifier(tmp_path, [old_pin, keys / "statuslist.pem"])
    at = NOW + 4 * H + dt.timedelta(minutes=1)
    for doc in (old_doc, new_doc):
        result = verifier.verify(steps.pdf(doc), at)
        assert result.result == "success", result.codes
    history = published_history(steps.out)
    assert [(r.cert_sha256, r.valid_to) for r in history.records if r.role == "statuslist"] == [
        (old, NOW + 2 * H),
        (rot.new.cert_sha256, rot.new.valid_to),
    ]


def test_status_list_key_compromise_of_an_imported_authority(
    imported: Path, tmp_path: Path
) -> None:
    """A stolen status-list key: recorded and replaced at once through the same code, with
    no PKCS#12 file (the school certifies it); a verifier given only the new certificate, as
    the runbook says, verifies documents issued before and after."""
    keys = imported / "keys"
    steps = Steps(imported, tmp_path / "site")
    before = steps.issue(NOW)
    steps.publish(NOW + H)
    old = fingerprint(keys / "statuslist.pem")
    with Authority(imported) as auth:
        done = key_compromised(
            auth.keys_dir, auth.school, auth.registry, role="statuslist", since=NOW + 2 * H,
            passphrase=PASSPHRASE, now=NOW + 3 * H,
        )  # fmt: skip
    assert done.rotation is not None and done.key.cert_sha256 == old
    assert done.key.revoked_at == NOW + 2 * H and done.key.reason == "key_compromise"
    assert done.affected == ()
    _certified_by_the_status_root(keys)
    assert fingerprint(keys / "statuslist.pem") == done.rotation.new.cert_sha256 != old
    after = steps.issue(NOW + 4 * H)
    steps.publish(NOW + 5 * H)
    verifier = steps.verifier(tmp_path, [keys / "statuslist.pem"])
    at = NOW + 5 * H + dt.timedelta(minutes=1)
    for doc in (before, after):
        result = verifier.verify(steps.pdf(doc), at)
        assert result.result == "success", result.codes
    record = published_history(steps.out).record(old)
    assert record is not None and record.revoked_at == NOW + 2 * H


def test_an_authority_set_up_before_the_status_root_key_was_kept(imported: Path) -> None:
    """No kept key: the refusal says why, and what the registrar can do, in both languages,
    and changes nothing."""
    (imported / "keys" / STATUS_ROOT_KEY).unlink()
    with Authority(imported) as auth:
        load_history(auth.keys_dir, auth.school, NOW)
    before = _unchanged(imported)
    status = fingerprint(imported / "keys" / "statuslist.pem")
    with Authority(imported) as auth:
        for run in (
            lambda: rotate_key(auth.keys_dir, auth.school, "statuslist", PASSPHRASE, NOW + H),
            lambda: key_compromised(
                auth.keys_dir, auth.school, auth.registry, role="statuslist", since=NOW,
                passphrase=PASSPHRASE, now=NOW + H,
            ),
        ):  # fmt: skip
            with pytest.raises(StatusRootMissingError, match=STATUS_ROOT_KEY) as refused:
                run()
            assert "statuslist.pem" in refused.value.en
            assert "根金鑰未保存" in (refused.value.zh or "")
    assert _unchanged(imported) == before
    assert fingerprint(imported / "keys" / "statuslist.pem") == status


def test_cli_rotate_and_compromise_with_import_p12(
    imported: Path, ca: OutsideCA, tmp_path: Path
) -> None:
    env = {"CERTSEAL_HOME": str(imported), "CERTSEAL_PASSPHRASE": PASSPHRASE,
           "CERTSEAL_P12_PASSPHRASE": P12_PASSWORD}  # fmt: skip
    runner = CliRunner(env=env)
    first, second = tmp_path / "renewed.p12", tmp_path / "replacement.p12"
    first.write_bytes(ca.p12())
    second.write_bytes(ca.p12())
    now = ["--now", format_time(NOW + H)]
    res = runner.invoke(main, ["authority", *now, "key-compromised", "--since", format_time(NOW)])
    assert res.exit_code == 2 and "--import-p12 NEW.p12" in res.output, res.output
    res = runner.invoke(main, ["authority", *now, "rotate-key", "--import-p12", str(first)])
    assert res.exit_code == 0, res.output
    assert "Run 'certseal authority publish' next" in res.output
    later = ["--now", format_time(NOW + 2 * H)]
    res = runner.invoke(main, ["authority", *later, "--json", "key-compromised",
                               "--since", format_time(NOW + H),
                               "--import-p12", str(second)])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["key"]["reason"] == "key_compromise"
    assert out["new"]["cert_sha256"] == fingerprint(imported / "keys" / "signing.pem")


# The recovery test's child, given the successor: both commands take it from the PKCS#12 file.
WITH_SUCCESSOR = """
import functools, os, authority.rotation as _r
_s = _r.load_successor(open(os.environ["SUCCESSOR_P12"], "rb").read(), os.environ["P12_PASS"])
_r.rotate_key = functools.partial(_r.rotate_key, successor=_s)
_r.key_compromised = functools.partial(_r.key_compromised, successor=_s)
"""


def _killed(home: Path, p12: Path, at: dt.datetime, point: str, *extra: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITH_SUCCESSOR + KILLED_ROTATION, str(home), "signing",
         format_time(at), point, *extra],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env={**os.environ, "CERTSEAL_PASSPHRASE": PASSPHRASE, "SUCCESSOR_P12": str(p12),
             "P12_PASS": P12_PASSWORD},
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)
    assert (home / "keys" / ".signing.new").is_dir()


def test_killed_before_recording_the_rerun_discards_and_imports(
    imported: Path, ca: OutsideCA, tmp_path: Path
) -> None:
    p12 = tmp_path / "new.p12"
    p12.write_bytes(ca.p12())
    old = fingerprint(imported / "keys" / "signing.pem")
    with Authority(imported) as auth:
        load_history(auth.keys_dir, auth.school, NOW)
    before = history_versions(imported)
    _killed(imported, p12, NOW + H, "record")
    assert history_versions(imported) == before
    assert fingerprint(imported / "keys" / "signing.pem") == old
    load_identity(imported / "keys", "signing", PASSPHRASE)
    successor = load_successor(p12.read_bytes(), P12_PASSWORD)
    with Authority(imported) as auth:
        rot = rotate_key(auth.keys_dir, auth.school, "signing", PASSPHRASE, NOW + 2 * H, successor)
    assert rot.recovered is not None and not rot.recovered.finished
    assert rot.new.valid_from == NOW + 2 * H
    assert fingerprint(imported / "keys" / "signing.pem") == rot.new.cert_sha256 != old
    load_identity(imported / "keys", "signing", PASSPHRASE)


@pytest.mark.parametrize("point", ["finish", "move:1", "move:5", "move:6", "move:7"])
def test_killed_after_recording_the_rerun_finishes_the_compromise(
    imported: Path, ca: OutsideCA, tmp_path: Path, point: str
) -> None:
    """Cut short between each move of the swap (the key, the chain, the certificate): the
    re-run finishes it, once, and documents signed before and after verify."""
    steps = Steps(imported, tmp_path / "site")
    old_doc = steps.issue(NOW)
    steps.publish(NOW + H)
    p12 = tmp_path / "new.p12"
    p12.write_bytes(ca.p12())
    old = fingerprint(imported / "keys" / "signing.pem")
    _killed(imported, p12, NOW + 3 * H, point, "compromised")
    with Authority(imported) as auth:
        done = key_compromised(
            auth.keys_dir, auth.school, auth.registry, role="signing", since=NOW + 2 * H,
            passphrase=PASSPHRASE, now=NOW + 4 * H,
        )  # fmt: skip
    assert done.recovered is not None and done.recovered.finished
    assert done.key.cert_sha256 == old and done.key.revoked_at == NOW + 2 * H
    keys = imported / "keys"
    new = load_successor(p12.read_bytes(), P12_PASSWORD).cert.fingerprint(hashes.SHA256()).hex()
    assert fingerprint(keys / "signing.pem") == new
    stem = keys / "retired" / f"signing.{old[:16]}"
    assert Path(f"{stem}.key.pem").exists() and Path(f"{stem}.chain.pem").exists()
    assert not (keys / ".signing.new").exists()
    load_identity(keys, "signing", PASSPHRASE)

    fresh = steps.issue(NOW + 5 * H)
    steps.publish(NOW + 6 * H)
    at = NOW + 6 * H + dt.timedelta(minutes=1)
    for doc in (old_doc, fresh):
        assert steps.verify(tmp_path, doc, at).result == "success"
