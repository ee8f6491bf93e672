"""The national verifier: one verifier for every school of the trust list, judging the key that
signed each upload as of the document's issuance (its entry in the school's signed status
list), and the school's standing in the federation."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from authority.keys import load_identity
from certseal import trustlist
from certseal.errors import ConfigurationError
from certseal.statuslist import Entry, Issuer, build_publication, build_shards, sha256_hex
from tests.conftest import NOW, PASSPHRASE
from tests.federation.test_federation_operator import rotate
from tests.federation.test_federation_reader import forge, without_school
from tests.national.conftest import (
    CLOCK,
    PUBLISHED,
    READY,
    National,
    Schools,
    make_national,
)
from verifier.config import VerifierConfig
from verifier.store import SqliteStore


def codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


def check(body: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in body["checks"] if c["name"] == name]
    assert len(found) == 1, body["checks"]
    return found[0]


def test_every_school_of_the_trust_list_is_verified(national: National, schools: Schools) -> None:
    national.publish()
    client = national.app()
    for code in schools.docs:
        body = national.verify(schools.docs[code]["genuine"], client)
        assert body["result"] == "success", body
        assert body["document"]["issuer_code"] == code
        assert body["document"]["school_state"] == "active"
        assert check(body, "trust_list")["status"] == "passed"
        assert check(body, "transparency_log")["status"] == "passed"
    status = client.get("/api/v1/status").get_json()
    assert status["ok"], status
    assert [s["issuer"] for s in status["status_lists"]] == ["trustlist", "NKUST", "NTCU", "NTHU"]
    # A genuine school's document its list does not hold yet: not issued, in its own list.
    body = national.verify(schools.docs["NKUST"]["unpublished"], client)
    assert codes(body) == ["not_issued"]
    assert "National Kaohsiung" in check(body, "status_list")["detail"]


def test_a_key_not_valid_at_issuance(national: National, schools: Schools) -> None:
    """NTHU rotated its signing key the day before; the authority signed with the old one."""
    rotate(national.federation, "NTHU", NOW - dt.timedelta(days=1))
    national.publish()
    client = national.app()
    body = national.verify(schools.docs["NTHU"]["genuine"], client)
    assert codes(body) == ["key_not_valid_at_issuance"], body
    assert body["result"] == "failure"
    assert check(body, "trust_list")["status"] == "failed"
    assert "not valid" in body["reasons"][0]["message"]
    assert national.verify(schools.docs["NKUST"]["genuine"], client)["result"] == "success"


def test_a_key_compromised_before_issuance(national: National, schools: Schools) -> None:
    at = NOW - dt.timedelta(days=1)
    rotate(national.federation, "NTCU", at, revoked_at=at, reason="key_compromise")
    national.publish()
    body = national.verify(schools.docs["NTCU"]["genuine"])
    assert codes(body) == ["key_compromised"], body
    assert "compromised" in body["reasons"][0]["message"]


@pytest.mark.parametrize(
    ("compromised_at", "expected"),
    [
        # The school's first checkpoint holding the document is dated PUBLISHED: after this
        # compromise, so nothing proves the document predates it.
        (PUBLISHED - dt.timedelta(minutes=30), ["key_compromised"]),
        # Before this compromise: the log proves the issuance came first.
        (PUBLISHED + dt.timedelta(minutes=10), []),
    ],
)
def test_a_compromise_after_issuance_needs_the_log(
    national: National, schools: Schools, compromised_at: dt.datetime, expected: list[str]
) -> None:
    rotate(
        national.federation, "NTCU", compromised_at, revoked_at=compromised_at,
        reason="key_compromise",
    )  # fmt: skip
    national.publish()
    body = national.verify(schools.docs["NTCU"]["genuine"])
    assert codes(body) == expected, body
    if not expected:
        assert "log held the document" in check(body, "trust_list")["detail"]


def test_a_school_not_in_the_trust_list(
    schools: Schools, www: tuple[Path, str], tmp_path: Path
) -> None:
    national = make_national(schools, www, tmp_path, admitted=("NKUST", "NTHU"))
    national.publish()
    client = national.app()
    body = national.verify(schools.docs["NTCU"]["genuine"], client)
    assert body["http"] == 200
    assert codes(body) == ["school_not_in_trust_list", "not_issued"], body
    assert national.verify(schools.docs["NTHU"]["genuine"], client)["result"] == "success"


def test_a_school_removed_from_the_trust_list(national: National, schools: Schools) -> None:
    """Even a list signed by the root threshold that drops a school leaves its documents
    unverifiable here (the trust list's log shows the removal to auditors)."""
    national.publish()
    folder = national.www / trustlist.TRUST_DIR
    removed = without_school(folder, "NTCU", national.federation.roots[:2])
    forge(folder, national.federation.online, READY, removed)
    body = national.verify(schools.docs["NTCU"]["genuine"])
    assert codes(body) == ["school_not_in_trust_list", "not_issued"], body


def test_a_status_list_signed_by_another_schools_key(national: National, schools: Schools) -> None:
    national.publish()
    status = national.www / "NTHU" / "status"
    shutil.rmtree(status)
    shutil.copytree(national.www / "NKUST" / "status", status)
    client = national.app()
    body = national.verify(schools.docs["NTHU"]["genuine"], client)
    assert codes(body) == ["status_list_of_another_school"], body
    assert body["http"] == 200
    assert "NKUST" in body["reasons"][0]["message"]
    error = next(
        s for s in client.get("/api/v1/status").get_json()["status_lists"] if s["issuer"] == "NTHU"
    )["last_error"]
    assert "status-list key of NKUST" in error


def _status_key(schools: Schools, code: str) -> ec.EllipticCurvePrivateKey:
    key = load_identity(schools.homes[code] / "keys", "statuslist", PASSPHRASE).key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def test_a_document_listed_by_another_school(national: National, schools: Schools) -> None:
    """NKUST's own key signs a list holding two NTHU diplomas: one NTHU lists too (NTHU's
    listing answers), one only NKUST lists (refused: a school vouches for its own only)."""
    national.publish()
    entries = [
        Entry(sha256_hex(schools.docs["NTHU"][role]), "diploma_zh", "2026-01-01T00:00:00Z",
              None, "active")
        for role in ("genuine", "unpublished")
    ]  # fmt: skip
    built = build_publication(
        build_shards(entries, 4),
        issuer=Issuer("NKUST", "國立高雄科技大學", "National Kaohsiung"),
        version=50,
        issued_at=READY,
        expires=READY + dt.timedelta(days=3),
        key=_status_key(schools, "NKUST"),
    )
    status = national.www / "NKUST" / "status"
    for path, data in built.files.items():
        (status / path).parent.mkdir(parents=True, exist_ok=True)
        (status / path).write_bytes(data)
    client = national.app()
    body = national.verify(schools.docs["NTHU"]["unpublished"], client)
    assert codes(body) == ["listed_by_another_school"], body
    assert "signed by National Tsing Hua University" in body["reasons"][0]["message"]
    own = national.verify(schools.docs["NTHU"]["genuine"], client)
    assert own["result"] == "success" and own["document"]["issuer_code"] == "NTHU", own
    # Again, now that its signer is known: NTHU's lists are asked first, with the same answer.
    again = national.verify(schools.docs["NTHU"]["genuine"], client)
    assert again["document"]["issuer_code"] == "NTHU" and again["result"] != "failure", again


def test_a_merged_schools_documents_stay_valid_and_name_the_successor(
    national: National, schools: Schools
) -> None:
    national.set_state("NTCU", "merged", PUBLISHED, successor="NKUST")
    national.publish()
    client = national.app()
    body = national.verify(schools.docs["NTCU"]["genuine"], client)
    assert body["result"] == "success", body
    assert body["document"]["school_state"] == "merged"
    assert body["document"]["records_kept_by"] == {
        "code": "NKUST",
        "name": "National Kaohsiung University of Science and Technology",
    }
    assert "keeps its records" in check(body, "trust_list")["detail"]
    zh = client.post(
        "/api/v1/verify?lang=zh-TW",
        data=schools.docs["NTCU"]["genuine"],
        content_type="application/pdf",
    ).get_json()
    assert zh["document"]["records_kept_by"]["name"] == "國立高雄科技大學"
    page = client.post(
        "/verify?lang=en",
        data={"file": (io.BytesIO(schools.docs["NTCU"]["genuine"]), "d.pdf")},
        content_type="multipart/form-data",
    )
    assert "National Kaohsiung University of Science and Technology" in page.text


def test_a_suspended_school(national: National, schools: Schools) -> None:
    """Suspended after issuance: authentic, with a warning. Documents it issued while
    suspended are refused."""
    national.set_state("NTHU", "suspended", PUBLISHED)
    national.set_state("NTCU", "suspended", NOW - dt.timedelta(days=1))
    national.publish()
    client = national.app()
    body = national.verify(schools.docs["NTHU"]["genuine"], client)
    assert body["result"] == "warning" and codes(body) == ["school_suspended"], body
    assert body["verifications"] is None or body["verifications"]["used"] == 0
    body = national.verify(schools.docs["NTCU"]["genuine"], client)
    assert codes(body) == ["school_not_active"], body
    assert "suspended" in body["reasons"][0]["message"]


def test_the_trust_list_never_goes_back_across_workers(
    national: National, schools: Schools
) -> None:
    """One worker trusts a newer trust list; a fresh worker served the older one refuses it
    (the shared store), and answers 503 rather than from the older list."""
    national.publish()
    timestamp = national.www / trustlist.TRUST_DIR / "metadata" / "timestamp.json"
    old = timestamp.read_bytes()
    first = national.app()
    assert national.verify(schools.docs["NKUST"]["genuine"], first)["result"] == "success"
    national.publish(READY + dt.timedelta(minutes=5))
    later = CLOCK + dt.timedelta(minutes=5)
    newer = national.app(lambda: later)
    assert national.verify(schools.docs["NKUST"]["genuine"], newer)["result"] == "success"
    store = SqliteStore(national.tmp / "counts.sqlite")
    assert store.seen("trustlist").version >= 2
    store.close()
    timestamp.write_bytes(old)
    body = national.verify(schools.docs["NKUST"]["genuine"], national.app(lambda: later))
    assert body["http"] == 503 and codes(body) == ["status_unavailable"], body
    assert "older than version" in check(body, "status_list")["detail"]


def test_configuration_is_one_school_or_the_federation(tmp_path: Path) -> None:
    pin = tmp_path / "1.root.json"
    pin.write_bytes(b"{}")
    both = {
        "issuers": [{"name": "x", "roots": [str(pin)], "status_certs": [str(pin)], "source": "."}],
        "federation": {"trust_list_url": "https://trust.example.tw/trust/", "root_pin": str(pin)},
    }
    with pytest.raises(ConfigurationError, match="not both"):
        VerifierConfig.from_dict(both)
    with pytest.raises(ConfigurationError, match="root pin"):
        VerifierConfig.from_dict(
            {"federation": {"trust_list_url": "https://t.example/", "root_pin": "/nope"}}
        )
    env = {"CERTSEAL_TRUST_LIST_URL": "https://trust.example.tw/trust/"}
    cfg = VerifierConfig.from_env({**env, "CERTSEAL_ROOT_PIN": str(pin)})
    assert cfg.federation is not None and cfg.issuers == ()


def test_a_national_answer_reads_every_lists_trusted_state_at_once(
    national: National, schools: Schools
) -> None:
    """The trust list's and each school's trusted state are consulted on every answer: one read
    of the shared store for all of them, not one per school (60 schools and more)."""
    national.publish()
    client = national.app()
    genuine = schools.docs["NTHU"]["genuine"]
    assert national.verify(genuine, client)["result"] == "success"  # lists loaded
    store = national.apps[-1].extensions["certseal.verifier"].counter
    statements: list[str] = []
    store._conn().set_trace_callback(statements.append)  # this thread's connection
    try:
        body = national.verify(genuine, client)
    finally:
        store._conn().set_trace_callback(None)
    assert body["result"] in ("success", "warning"), body
    reads = [
        s for s in statements if s.startswith("SELECT") and ("seen_versions" in s or "counts" in s)
    ]
    assert len(reads) == 1, statements  # the states and the count, in one statement
    assert "WHERE issuer" not in reads[0]
