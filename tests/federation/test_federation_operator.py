"""The operator admits, suspends, merges and closes schools; schools rotate their own keys."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authority.keys import _key_usage, issue_certificate
from certseal import _tuf, trustlist
from certseal.errors import (
    DeserializationError,
    InputError,
    SignatureVerificationError,
    StateError,
)
from certseal.trustlist import KeyRecord, OnboardingRequest, TrustEvent
from tests.conftest import PASSPHRASE
from tests.federation.conftest import T0, Federation, make_federation, request_for

LATER = T0 + dt.timedelta(days=1)


def new_signing_cert(fed: Federation, code: str, start: dt.datetime) -> x509.Certificate:
    """A second document-signing certificate from the school's own root, for a rotation."""
    keys = fed.schools[code] / "keys"
    root_key = serialization.load_pem_private_key(
        (keys / "root.key.pem").read_bytes(), PASSPHRASE.encode()
    )
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root = x509.load_pem_x509_certificate((keys / "root.pem").read_bytes())
    fresh = ec.generate_private_key(ec.SECP256R1())
    return issue_certificate(
        subject=root.subject,
        public_key=fresh.public_key(),
        issuer=root,
        issuer_key=root_key,
        not_before=start,
        not_after=start + dt.timedelta(days=3650),
        usage=_key_usage(sign=True, commit=True, ca=False),
        ca=False,
    )


def rotate(fed: Federation, code: str, at: dt.datetime, **revoke: object) -> KeyRecord:
    """The school rotates its document-signing key at ``at`` with no operator signature."""
    with fed.operator() as op:
        entry = op.trust_list(at).schools[code]
        old = next(k for k in entry.keys if k.role == "signing" and k.valid_to > at)
        new = KeyRecord.from_certificate(new_signing_cert(fed, code, at), "signing")
        retired = old.replace(valid_to=at, **revoke)
        keys = [retired if k is old else k for k in entry.keys] + [new]
        role = trustlist.school_role(
            code, keys, entry.role_version + 1, at + dt.timedelta(days=365)
        )
        trustlist.sign(role, fed.status_key(code))
        op.update_role(code, trustlist.to_bytes(role), now=at, online=fed.online)
    return new


def test_three_schools_admitted_each_with_its_keys(federation: Federation) -> None:
    with federation.operator() as op:
        tl = op.trust_list(LATER)
        events = op.events()
    assert sorted(tl.schools) == ["NKUST", "NTCU", "NTHU"]
    nkust = tl.schools["NKUST"]
    assert nkust.profile.name_en == "National Kaohsiung University of Science and Technology"
    assert nkust.profile.current.state == "active"
    assert sorted(k.role for k in nkust.keys) == ["signing", "statuslist"]
    signing = (federation.schools["NKUST"] / "keys" / "signing.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(signing)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    assert [(s.school_id, k.role) for s, k in tl.holders(cert_sha256=fingerprint)] == [
        ("NKUST", "signing")
    ]
    assert [e.event for e in events].count("admitted") == 3
    assert [e.index for e in events] == list(range(len(events)))


def test_a_tampered_request_is_refused(federation: Federation, tmp_path: Path) -> None:
    other = make_federation(tmp_path / "other", admitted=())
    request = json.loads(request_for(federation.schools["NTHU"], "NTHU", T0))
    request["signed"]["school"]["log_url"] = "https://evil.example/log/"
    with other.operator() as op, pytest.raises(SignatureVerificationError):
        op.accept_request(
            json.dumps(request).encode(), now=LATER, signers=other.roots[:2], online=other.online
        )


def test_a_request_signed_by_another_schools_key_is_refused(federation: Federation) -> None:
    genuine = OnboardingRequest.from_bytes(request_for(federation.schools["NTHU"], "NTHU", T0))
    forged = OnboardingRequest.create(
        genuine.school,
        [x509.load_der_x509_certificate(c) for c in genuine.certificates],
        trustlist.cast_targets(trustlist.parse_metadata(genuine.role, "role")),
        federation.status_key("NTCU"),
    )
    with pytest.raises(SignatureVerificationError, match="not signed by one of its own"):
        forged.verify()


def test_fewer_offline_keys_than_the_threshold_change_nothing(federation: Federation) -> None:
    with federation.operator() as op:
        before = op.state()
        with pytest.raises(InputError, match="needs 2 of the offline keys") as e:
            op.set_state(
                "NTHU", "suspended", at=LATER, now=LATER, signers=federation.roots[:1],
                online=federation.online,
            )  # fmt: skip
        assert "離線金鑰" in e.value.zh
        assert op.state() == before


def test_a_school_already_in_that_state_is_told_so_in_both_languages(
    federation: Federation,
) -> None:
    with federation.operator() as op:
        keys = {"signers": federation.roots[1:], "online": federation.online}
        op.set_state("NTHU", "suspended", at=LATER, now=LATER, **keys)  # type: ignore[arg-type]
        before = op.state()
        with pytest.raises(InputError, match="NTHU is already suspended") as e:
            op.set_state("NTHU", "suspended", at=LATER, now=LATER, **keys)  # type: ignore[arg-type]
        assert e.value.zh == "NTHU 目前已是停權狀態，無需變更"
        assert op.state() == before


def test_suspend_reinstate_merge_close(federation: Federation) -> None:
    with federation.operator() as op:
        keys = {"signers": federation.roots[1:], "online": federation.online}
        op.set_state("NTHU", "suspended", at=LATER, now=LATER, **keys)  # type: ignore[arg-type]
        back = LATER + dt.timedelta(days=2)
        op.set_state("NTHU", "active", at=back, now=back, **keys)  # type: ignore[arg-type]
        merged_at = LATER + dt.timedelta(days=3)
        op.set_state(
            "NTCU",
            "merged",
            at=merged_at,
            now=merged_at,
            successor="NKUST",
            **keys,  # type: ignore[arg-type]
        )
        with pytest.raises(StateError, match="takes no new keys"):
            req = request_for(federation.schools["NTCU"], "NTCU", merged_at, version=2)
            op.accept_request(
                req, now=merged_at, signers=federation.roots[:2], online=federation.online
            )
        with pytest.raises(InputError, match="nothing follows"):
            op.set_state("NTCU", "closed", at=merged_at + dt.timedelta(days=1),
                         now=merged_at + dt.timedelta(days=1), **keys)  # type: ignore[arg-type]  # fmt: skip
        tl = op.trust_list(merged_at)
    ntcu, nkust = tl.schools["NTCU"].profile, tl.schools["NKUST"].profile
    assert [s.state for s in tl.schools["NTHU"].profile.lifecycle] == [
        "active",
        "suspended",
        "active",
    ]
    assert ntcu.current.state == "merged" and ntcu.successor == "NKUST"
    assert nkust.predecessors == ("NTCU",)
    # Documents NTCU issued while active stay valid; the result names who keeps the records.
    key = next(k for k in tl.schools["NTCU"].keys if k.role == "signing")
    before = tl.check_key(merged_at - dt.timedelta(days=1), "signing", cert_sha256=key.cert_sha256)
    assert before.outcome == "valid" and before.successor == "NKUST"
    after = tl.check_key(merged_at + dt.timedelta(hours=1), "signing", cert_sha256=key.cert_sha256)
    assert after.outcome == "school_not_active_at_issuance"
    suspended = tl.check_key(
        LATER + dt.timedelta(days=1), "signing",
        cert_sha256=next(k for k in tl.schools["NTHU"].keys if k.role == "signing").cert_sha256,
    )  # fmt: skip
    assert suspended.outcome == "school_not_active_at_issuance"


def test_a_school_rotates_its_key_without_the_offline_keys(federation: Federation) -> None:
    with federation.operator() as op:
        targets_before = op.state().targets
    new = rotate(federation, "NTHU", LATER)
    with federation.operator() as op:
        state = op.state()
        tl = op.trust_list(LATER)
        events = op.events()
    assert state.targets == targets_before  # the operator re-signed only snapshot and timestamp
    assert state.roles["NTHU"] == 2
    assert new in tl.schools["NTHU"].keys
    assert [e.event for e in events[-2:]] == ["key", "key"]


def test_a_school_cannot_rewrite_its_published_history(federation: Federation) -> None:
    with federation.operator() as op:
        entry = op.trust_list(LATER).schools["NTHU"]
        signing = next(k for k in entry.keys if k.role == "signing")
        replacement = KeyRecord.from_certificate(
            new_signing_cert(federation, "NTHU", LATER), "signing"
        )
        keys = [replacement if k is signing else k for k in entry.keys]
        role = trustlist.school_role("NTHU", keys, 2, LATER + dt.timedelta(days=365))
        trustlist.sign(role, federation.status_key("NTHU"))
        with pytest.raises(InputError, match="was removed from the history"):
            op.update_role("NTHU", trustlist.to_bytes(role), now=LATER, online=federation.online)
        # Another school's key cannot sign NTHU's history either.
        role.signatures.clear()
        keys = [*entry.keys, replacement]
        role = trustlist.school_role("NTHU", keys, 2, LATER + dt.timedelta(days=365))
        trustlist.sign(role, federation.status_key("NTCU"))
        with pytest.raises(SignatureVerificationError, match="delegated key"):
            op.update_role("NTHU", trustlist.to_bytes(role), now=LATER, online=federation.online)


def test_log_leaves_round_trip_and_refuse_other_spellings(federation: Federation) -> None:
    with federation.operator() as op:
        events = op.events()
    for ev in events:
        assert TrustEvent.from_bytes(ev.to_bytes()) == ev
    spaced = json.dumps(events[0].to_dict()).encode()
    with pytest.raises(DeserializationError, match="canonical"):
        TrustEvent.from_bytes(spaced)


def test_the_tuf_internals_we_touch_are_the_version_we_tested() -> None:
    """certseal/_tuf.py reaches into python-tuf's private client: any other version must be
    re-read before it is trusted."""
    assert _tuf.installed_version() == _tuf.TESTED_VERSION
