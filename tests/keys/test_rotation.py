"""Rotation: a new document-signing (or status-list) certificate; documents signed with the
old key keep verifying, new ones carry the new key, and the published history lists both
windows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from authority.hsm import HsmSettings, read_settings
from authority.rotation import rotate_key
from authority.service import Authority
from certseal.errors import InputError
from certseal.keyhistory import KeyHistory
from certseal.pki import key_id
from certseal.statuslist import Snapshot
from certseal.timeutil import format_time
from tests.conftest import NOW, PASSPHRASE
from tests.keys.conftest import Steps, check
from tests.keys.test_hsm import hsm_authority
from verifier.federation import signer_cert_sha256

H = dt.timedelta(hours=1)


def fingerprint(path: Path) -> str:
    return x509.load_pem_x509_certificate(path.read_bytes()).fingerprint(hashes.SHA256()).hex()


def published_history(out: Path) -> KeyHistory:
    cert = x509.load_pem_x509_certificate((out / "certs" / "statuslist.pem").read_bytes())
    public = cert.public_key()
    data = (out / "certs" / "keys.json").read_bytes()
    return KeyHistory.open(data, {key_id(public): public}.get)  # type: ignore[arg-type]


def rotate(steps: Steps, role: str, at: dt.datetime) -> None:
    with Authority(steps.home) as auth:
        rotate_key(auth.keys_dir, auth.school, role, PASSPHRASE, at)


def test_documents_of_the_old_key_keep_verifying_after_rotation(home: Path, tmp_path: Path) -> None:
    steps = Steps(home, tmp_path / "site")
    old_doc = steps.issue(NOW)
    steps.publish(NOW + H)
    old_cert = fingerprint(home / "keys" / "signing.pem")
    rotate(steps, "signing", NOW + 2 * H)
    new_cert = fingerprint(home / "keys" / "signing.pem")
    assert new_cert != old_cert
    assert (home / "keys" / "retired" / f"signing.{old_cert[:16]}.key.pem").exists()
    new_doc = steps.issue(NOW + 3 * H)
    steps.publish(NOW + 4 * H)

    assert signer_cert_sha256(steps.pdf(old_doc)) == old_cert
    assert signer_cert_sha256(steps.pdf(new_doc)) == new_cert
    at = NOW + 4 * H + dt.timedelta(minutes=1)
    for doc in (old_doc, new_doc):
        result = steps.verify(tmp_path, doc, at)
        assert result.result == "success", result.codes
        assert check(result, "trust_list") == ("passed", "school_key_valid")

    history = published_history(steps.out)
    windows = {(r.cert_sha256, r.role): (r.valid_from, r.valid_to) for r in history.records}
    assert windows[(old_cert, "signing")][1] == NOW + 2 * H
    assert windows[(new_cert, "signing")][0] == NOW + 2 * H
    assert len([r for r in history.records if r.role == "statuslist"]) == 1
    # The signed snapshot pins that very file: a host cannot swap or withhold it.
    ts = json.loads((steps.out / "status" / "timestamp.json").read_bytes())["signed"]
    snap = json.loads((steps.out / "status" / ts["snapshot"]["path"]).read_bytes())["signed"]
    pinned = Snapshot.from_signed(snap).extra["key_history"]
    assert pinned["path"] == f"keys/{history.version}.json"
    assert (steps.out / "status" / pinned["path"]).read_bytes() == (
        steps.out / "certs" / "keys.json"
    ).read_bytes()
    # Each version of the history is its own file, at home and published.
    assert sorted(p.name for p in (home / "keys" / "history").iterdir()) == ["1.json", "2.json"]
    assert (steps.out / "status" / "keys" / "1.json").exists()


def test_status_list_key_rotation_verifies_with_both_certificates_pinned(
    home: Path, tmp_path: Path
) -> None:
    steps = Steps(home, tmp_path / "site")
    doc = steps.issue(NOW)
    steps.publish(NOW + H)
    keys = home / "keys"
    old_pin = tmp_path / "statuslist-old.pem"
    old_pin.write_bytes((keys / "statuslist.pem").read_bytes())
    rotate(steps, "statuslist", NOW + 2 * H)
    steps.publish(NOW + 3 * H)
    verifier = steps.verifier(tmp_path, [old_pin, keys / "statuslist.pem"])
    result = verifier.verify(steps.pdf(doc), NOW + 3 * H + dt.timedelta(minutes=1))
    assert result.result == "success", result.codes
    history = published_history(steps.out)
    assert [r.role for r in history.records].count("statuslist") == 2


def test_rotation_refuses_what_it_cannot_do(home: Path) -> None:
    with Authority(home) as auth:
        with pytest.raises(InputError, match="the role must be one of signing, statuslist"):
            rotate_key(auth.keys_dir, auth.school, "root", PASSPHRASE, NOW)
        with pytest.raises(InputError, match="the signing key was only started at"):
            rotate_key(auth.keys_dir, auth.school, "signing", PASSPHRASE, NOW - 60 * 24 * H)


def test_rotation_on_the_hsm_generates_the_new_key_there(
    softhsm: HsmSettings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    hsm_authority(home, softhsm)
    steps = Steps(home, tmp_path / "site")
    before = read_settings(home / "keys")
    old_doc = steps.issue(NOW)
    rotate(steps, "signing", NOW + H)
    after = read_settings(home / "keys")
    assert before is not None and after is not None
    assert after.key_id("signing") != before.key_id("signing")
    assert not (home / "keys" / "signing.key.pem").exists()
    new_doc = steps.issue(NOW + 2 * H)
    steps.publish(NOW + 3 * H)
    assert signer_cert_sha256(steps.pdf(new_doc)) == fingerprint(home / "keys" / "signing.pem")
    for doc in (old_doc, new_doc):
        result = steps.verify(tmp_path, doc, NOW + 3 * H + dt.timedelta(minutes=1))
        assert result.result == "success", result.codes
    assert format_time(NOW + H) in (steps.out / "certs" / "keys.json").read_text()
