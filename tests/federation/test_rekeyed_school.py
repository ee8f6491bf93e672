"""A school that re-keys its status-list key stays trusted by the federation.

The operator takes a listed school's new role version the TUF way: signed by the key the trust
list holds for the school (the earlier status-list key, which the authority keeps after a
rotation) and by the new key. A key recorded compromised vouches for nothing: the school is
then re-admitted out of band (``admit --confirm-key``). Real authorities, real rotations, a
real operator; the last test goes through the national verifier over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authority.onboarding import prepare_request
from authority.rotation import RETIRED_DIR, Rotation, key_compromised, rotate_key
from authority.service import Authority
from certseal import trustlist
from certseal.errors import InputError
from certseal.timeutil import format_time
from certseal.trustlist import OnboardingRequest, SchoolEntry
from cli import main
from federation.operator import CompromisedVoucherError, KeyNotVouchedError
from tests.conftest import ACTOR, NOW, PASSPHRASE
from tests.federation.conftest import T0, Federation, request_for, school
from tests.national.conftest import (  # noqa: F401 - fixtures
    READY,
    National,
    Schools,
    make_national,
    schools,
    www,
)

LATER = T0 + dt.timedelta(days=1)
"""When the school re-keys (the federation admitted it at T0 + 2 h)."""
ASKED = LATER + dt.timedelta(hours=1)
"""When the school's new request reaches the operator."""


def rekey(fed: Federation, code: str, at: dt.datetime) -> Rotation:
    """``certseal authority rotate-key --role statuslist``, in the school's own home."""
    return rotate_key(fed.schools[code] / "keys", school(code), "statuslist", PASSPHRASE, at)


def admit(fed: Federation, request: bytes, at: dt.datetime, **kw: str) -> SchoolEntry:
    with fed.operator() as op:
        return op.accept_request(request, now=at, signers=fed.roots[:2], online=fed.online, **kw)


def delegation(fed: Federation, code: str, at: dt.datetime) -> tuple[str, ...]:
    """The key ids the committed trust list delegates the school's role to."""
    with fed.operator() as op:
        entry = op.trust_list(at).school(code)
    assert entry is not None
    return entry.delegation_keyids


def resigned(request: bytes, keys: list[ec.EllipticCurvePrivateKey]) -> bytes:
    """The same request with its role signed by exactly ``keys``, the first being the key
    that signs the whole (the school's current status-list key)."""
    req = OnboardingRequest.from_bytes(request)
    role = trustlist.cast_targets(trustlist.parse_metadata(req.role, "role"))
    role.signatures.clear()
    for key in keys:
        trustlist.sign(role, key)
    certs = [x509.load_der_x509_certificate(der) for der in req.certificates]
    return OnboardingRequest.create(req.school, certs, role, keys[0]).to_bytes()


def retired_key(fed: Federation, code: str, cert_sha256: str) -> ec.EllipticCurvePrivateKey:
    path = fed.schools[code] / "keys" / RETIRED_DIR / f"statuslist.{cert_sha256[:16]}.key.pem"
    key = serialization.load_pem_private_key(path.read_bytes(), PASSPHRASE.encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def test_a_rekeyed_school_is_vouched_for_by_its_earlier_key(federation: Federation) -> None:
    old_id = delegation(federation, "NTHU", LATER)
    rot = rekey(federation, "NTHU", LATER)
    request = request_for(federation.schools["NTHU"], "NTHU", ASKED, version=2)
    signed_by = set(OnboardingRequest.from_bytes(request).verify().role.signatures)
    new_id = rot.new.spki_sha256
    assert old_id == (rot.old.spki_sha256,)
    assert signed_by == {old_id[0], new_id}
    entry = admit(federation, request, ASKED)
    assert entry.role_version == 2
    assert entry.delegation_keyids == (new_id,)
    # The whole history is published: the old key's window ends at the rotation, so the
    # school's earlier status lists keep verifying and later ones need the new key.
    records = {k.cert_sha256: k for k in entry.keys}
    assert records[rot.old.cert_sha256].valid_to == LATER
    assert records[rot.new.cert_sha256].valid_from == LATER
    with federation.operator() as op:
        listed = op.trust_list(ASKED)
        events = op.events()
    assert listed.check_key(ASKED, "statuslist", spki_sha256=new_id, school_id="NTHU").ok
    late = listed.check_key(ASKED, "statuslist", spki_sha256=old_id[0], school_id="NTHU")
    assert late.outcome == "key_not_valid_at_issuance"
    assert {e.sha256 for e in events if e.event == "key" and e.school == "NTHU"} >= {
        rot.old.cert_sha256,
        rot.new.cert_sha256,
    }


def test_the_role_version_follows_the_key_history_by_default(federation: Federation) -> None:
    """A registrar who rotated a key exports without naming a version: the request carries
    the key history's, one more at each rotation, and the operator takes it."""
    home = federation.schools["NTHU"]
    rekey(federation, "NTHU", LATER)
    request = request_for(home, "NTHU", ASKED, version=None)
    assert OnboardingRequest.from_bytes(request).verify().role.signed.version == 2
    assert admit(federation, request, ASKED).role_version == 2
    later = ASKED + dt.timedelta(hours=1)
    rekey(federation, "NTHU", later)
    rekey(federation, "NTHU", later + dt.timedelta(minutes=1))  # twice before the next request
    asked = later + dt.timedelta(hours=1)
    request = request_for(home, "NTHU", asked, version=None)
    assert OnboardingRequest.from_bytes(request).verify().role.signed.version == 4
    assert admit(federation, request, asked).role_version == 4


def test_two_rotations_between_requests_are_vouched_for_by_the_first_key(
    federation: Federation,
) -> None:
    """The school rotated twice before asking: the key the operator holds is two back."""
    first = rekey(federation, "NKUST", LATER)
    second = rekey(federation, "NKUST", LATER + dt.timedelta(minutes=10))
    request = request_for(federation.schools["NKUST"], "NKUST", ASKED, version=2)
    signed_by = set(OnboardingRequest.from_bytes(request).verify().role.signatures)
    assert signed_by == {first.old.spki_sha256, second.old.spki_sha256, second.new.spki_sha256}
    entry = admit(federation, request, ASKED)
    assert entry.delegation_keyids == (second.new.spki_sha256,)


def test_a_new_key_the_held_key_did_not_sign_is_refused(federation: Federation) -> None:
    """What export-request wrote before: the new key alone. The list keeps the held key."""
    held = delegation(federation, "NTHU", LATER)
    rekey(federation, "NTHU", LATER)
    request = request_for(federation.schools["NTHU"], "NTHU", ASKED, version=2)
    alone = resigned(request, [federation.status_key("NTHU")])
    with pytest.raises(KeyNotVouchedError, match="not signed by the status-list key the trust"):
        admit(federation, alone, ASKED)
    assert delegation(federation, "NTHU", ASKED) == held
    # The same request vouched for by the earlier key goes through.
    assert admit(federation, request, ASKED).role_version == 2


def test_a_compromised_status_list_key_cannot_vouch(federation: Federation) -> None:
    home = federation.schools["NTCU"]
    held = delegation(federation, "NTCU", LATER)
    with Authority(home) as auth:
        done = key_compromised(
            auth.keys_dir,
            auth.school,
            auth.registry,
            role="statuslist",
            since=LATER - dt.timedelta(hours=2),
            passphrase=PASSPHRASE,
            now=LATER,
        )
    assert done.rotation is not None
    stolen, new = done.key, done.rotation.new
    prepared = prepare_request(
        home / "keys",
        PASSPHRASE,
        school("NTCU"),
        domains=["ntcu.edu.tw"],
        status_list_url="https://verify.ntcu.edu.tw/status/",
        log_url="https://verify.ntcu.edu.tw/log/",
        now=ASKED,
        role_version=2,
    )
    assert prepared.vouchers == ()
    assert prepared.unable == ((stolen, "compromised"),)
    notice = prepared.notice()
    assert notice is not None
    assert new.cert_sha256 in notice[0] and "--confirm-key" in notice[0]
    assert "外洩" in notice[1] and new.cert_sha256 in notice[1]
    assert set(OnboardingRequest.from_bytes(prepared.data).verify().role.signatures) == {
        new.spki_sha256
    }
    with pytest.raises(CompromisedVoucherError, match="recorded compromised") as refused:
        admit(federation, prepared.data, ASKED)
    assert "--confirm-key" in refused.value.en and "外洩" in (refused.value.zh or "")
    # Whoever holds the stolen key signs along: it still does not count.
    current = federation.status_key("NTCU")
    forged = resigned(prepared.data, [current, retired_key(federation, "NTCU", stolen.cert_sha256)])
    with pytest.raises(CompromisedVoucherError):
        admit(federation, forged, ASKED)
    with pytest.raises(InputError, match="64 hexadecimal digits"):
        admit(federation, prepared.data, ASKED, confirm_key="not-a-fingerprint")
    with pytest.raises(InputError, match="is not the status-list key this request"):
        admit(federation, prepared.data, ASKED, confirm_key=stolen.cert_sha256)
    assert delegation(federation, "NTCU", ASKED) == held
    # Out of band: the school read its new certificate's SHA-256 to the operator.
    entry = admit(federation, prepared.data, ASKED, confirm_key=new.cert_sha256.upper())
    assert entry.delegation_keyids == (new.spki_sha256,)
    records = {k.cert_sha256: k for k in entry.keys}
    assert records[stolen.cert_sha256].reason == "key_compromise"


def test_the_cli_rekeys_a_school_and_names_the_way_back_after_a_compromise(
    tmp_path: Path,
) -> None:
    env = {
        "CERTSEAL_HOME": str(tmp_path / "school"),
        "CERTSEAL_FEDERATION_HOME": str(tmp_path / "operator"),
        "CERTSEAL_PASSPHRASE": PASSPHRASE,
    }
    runner = CliRunner(env=env)
    t = [format_time(NOW - dt.timedelta(minutes=m)) for m in (60, 50, 40, 30, 20, 10)]

    def run(*args: str, code: int = 0) -> tuple[str, str]:
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, result.output
        return result.stdout, result.stderr

    def export(at: str, out: str, version: int) -> tuple[str, str]:
        return run(
            "authority", "--json", "--now", at, "export-request", "--out", str(tmp_path / out),
            "--domain", "demo.edu.tw", "--role-version", str(version),
        )  # fmt: skip

    keys = ("--key", "root-1", "--key", "root-2")
    run("authority", "--now", t[0], "init", "--demo")
    export(t[0], "v1.json", 1)
    run("federation", "--now", t[0], "init", "--origin", "trust.example.tw/trust/log")
    run("federation", "--now", t[0], "admit", str(tmp_path / "v1.json"), *keys)
    run("authority", "--now", t[1], "rotate-key", "--role", "statuslist")
    out, err = export(t[2], "v2.json", 2)
    first = json.loads(out)["vouched_by"]
    assert len(first) == 1 and not err
    run("federation", "--now", t[2], "admit", str(tmp_path / "v2.json"), *keys)

    run("authority", "--now", t[3], "key-compromised", "--role", "statuslist", "--since", t[2])
    out, err = export(t[4], "v3.json", 3)
    new_sha = json.loads(out)["status_key_sha256"]
    assert json.loads(out)["vouched_by"] == first  # the compromised second key does not vouch
    assert "--confirm-key" in err and new_sha in err and "警告" in err
    refused = runner.invoke(main, ["federation", "--now", t[4], "admit",
                                   str(tmp_path / "v3.json"), *keys])  # fmt: skip
    assert refused.exit_code == 1 and "recorded compromised" in refused.output
    assert "--confirm-key" in refused.output and new_sha not in refused.output
    admitted, _ = run(
        "federation", "--json", "--now", t[5], "admit", str(tmp_path / "v3.json"), *keys,
        "--confirm-key", new_sha,
    )  # fmt: skip
    assert new_sha in admitted


def test_the_national_verifier_trusts_the_new_key_once_the_operator_publishes(
    schools: Schools,  # noqa: F811
    www: tuple[Path, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    home = tmp_path / "NTHU"
    shutil.copytree(schools.homes["NTHU"], home)  # the session's schools stay as they are
    own = Schools({**schools.homes, "NTHU": home}, schools.sites, schools.docs)
    national = make_national(own, www, tmp_path)
    try:
        _rekeyed_national(national, home, schools.docs["NTHU"]["genuine"])
    finally:
        for app in national.apps:
            app.extensions["certseal.verifier"].counter.close()


def _rekeyed_national(national: National, home: Path, genuine: bytes) -> None:
    rekeyed = READY + dt.timedelta(minutes=5)
    republished, asked, published = (rekeyed + dt.timedelta(minutes=m) for m in (5, 10, 15))
    national.publish()
    assert national.verify(genuine)["result"] == "success"
    rotate_key(home / "keys", school("NTHU"), "statuslist", PASSPHRASE, rekeyed)
    with Authority(home) as auth:
        auth.publish(national.www / "NTHU", PASSPHRASE, now=republished, actor=ACTOR)
    before = national.verify(genuine)
    # Signed with a key the trust list does not list yet: the list is refused nationally.
    assert [r["code"] for r in before["reasons"]] == ["status_unavailable"], before
    request = prepare_request(
        home / "keys",
        PASSPHRASE,
        school("NTHU"),
        domains=["nthu.edu.tw"],
        status_list_url=f"{national.url}/NTHU/status/",
        log_url=f"{national.url}/NTHU/log/",
        now=asked,
        role_version=2,
    ).data
    fed = national.federation
    admit(fed, request, asked)
    national.publish(published)
    after = national.verify(genuine)
    assert after["result"] == "success", after
    assert after["document"]["issuer_code"] == "NTHU"
