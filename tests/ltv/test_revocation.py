"""Revocation after signing, through the AdES path: a document-signing certificate from an
outside CA (certomancer's, imported by PKCS#12) is revoked for key compromise a day after a
B-LTA diploma was signed and timestamped. A second diploma is issued two days after that, with
every service answering as of then (TSA, OCSP, CRL, and the authority's own clock): signed
after the revocation. Decades on, past the certificate's validity, the service accepts the
first (its timestamp proves it came first) and refuses the second with
``signed_after_revocation``, naming both dates. Within the certificate's validity the listed
answer stands for both (docs/verifier.md, "Revocation"). Real certomancer CRL/OCSP/TSA on
127.0.0.1, nothing mocked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from authority.config import DEMO_SCHOOL
from authority.service import Authority, init_authority
from tests.conftest import ACTOR, NOW, PASSPHRASE, sample_bytes
from tests.ltv.conftest import configure
from tests.ltv.pki import LivePki, answering_at, live_pki
from tests.ltv.test_lifetime import _issue
from tests.ltv.test_service_lifetime import _chain, _codes, _serve
from tests.verifier.test_api import post_raw
from verifier.ltv import long_term_check

YEAR = dt.timedelta(days=365)
# Whole seconds: certomancer writes the revocation date to the second.
REVOKED = NOW.replace(microsecond=0) + dt.timedelta(days=1)
AFTER = REVOKED + dt.timedelta(days=1)
P12_PASSWORD = "p12-test-password"  # a generated test fixture's password, not a secret


def _day(t: dt.datetime) -> str:
    """The date as the answers write it for people (Taipei time)."""
    local = t.astimezone(ZoneInfo("Asia/Taipei"))
    return f"{local.day} {local:%B %Y}"


def _stamp(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+0000")


@pytest.fixture(scope="module")
def revoking_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePki]:
    """The signer's certificate: five years, revoked for key compromise from ``REVOKED``."""
    keys = tmp_path_factory.mktemp("revoking-pki") / "keys"
    with live_pki(
        keys, signer_valid_to=_stamp(NOW + 5 * YEAR), signer_revoked=_stamp(REVOKED)
    ) as live:
        yield live


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, revoking_pki: LivePki) -> dict[str, Any]:
    """One B-LTA diploma issued today, one issued after the revocation (the TSA, OCSP and CRL
    answering as of then, as they would have)."""
    home = tmp_path_factory.mktemp("revocation") / "home"
    init_authority(
        home, DEMO_SCHOOL, PASSPHRASE, NOW - dt.timedelta(days=30),
        p12=revoking_pki.pkcs12("signer", P12_PASSWORD.encode()), p12_passphrase=P12_PASSWORD,
        root_pem=revoking_pki.pem("root"),
    )  # fmt: skip
    with Authority(home) as auth:
        report, _ = auth.import_records(
            "graduates", sample_bytes("graduates.csv"), now=NOW, actor=ACTOR, source="g.csv"
        )
        assert not report.rejected
        students = auth.registry.student_ids()[:2]
    configure(home, revoking_pki, "B-LTA")
    before = _issue(home, students[0])[0]
    with answering_at(revoking_pki, AFTER):
        after = _issue(home, students[1], AFTER)[0]
    tsa_root = home.parent / "tsa-root.pem"  # the CA's root: the signer's and the TSA's
    tsa_root.write_bytes(revoking_pki.pem("root"))
    return {"home": home, "tsa_root": tsa_root, "before": before, "after": after}


@pytest.mark.parametrize("years", [20, 50])
def test_signed_before_the_revocation_verifies_after_it_fails(
    signed: dict[str, Any], revoking_pki: LivePki, tmp_path: Path, years: int
) -> None:
    when = NOW + years * YEAR
    with answering_at(revoking_pki, when):
        for server in _serve(signed, tmp_path, when):
            url = server.url + "/api/v1/verify"
            status, ok = post_raw(url + "?lang=en", signed["before"])
            assert (status, ok["result"]) == (200, "success"), ok["checks"]
            assert _chain(ok)["status"] == "passed" and "AdES" in _chain(ok)["detail"]
            status, bad = post_raw(url + "?lang=en", signed["after"])
            assert (status, bad["result"]) == (200, "failure")
            assert _codes(bad) == ["signed_after_revocation"], (_chain(bad), bad["reasons"])
            message = bad["reasons"][0]["message"]
            assert "was revoked on" in message and "after the revocation" in message
            assert _day(REVOKED) in message and _day(AFTER) in message  # both dates
            chain = _chain(bad)
            assert chain["status"] == "failed" and "revoked on" in chain["detail"]
            _, zh = post_raw(url + "?lang=zh-TW", signed["after"])
            assert (
                "撤銷" in zh["reasons"][0]["message"]
                and "晚於撤銷時間" in zh["reasons"][0]["message"]
            )


def _root(pki: LivePki) -> list[asn1_x509.Certificate]:
    return [asn1_x509.Certificate.load(pem.unarmor(pki.pem("root"))[2])]


def test_the_ades_answer_names_the_proven_times_whatever_the_host_clock(
    signed: dict[str, Any], revoking_pki: LivePki
) -> None:
    """At +20 years the answer rests on the documents' own times: the host's clock (today)
    is earlier than the second diploma's timestamps, and pyhanko reads it for undated proofs
    of existence unless pinned (verifier/_pyhanko.py)."""
    when = NOW + 20 * YEAR
    backend = RequestsFetcherBackend(per_request_timeout=10)
    with answering_at(revoking_pki, when):
        before = long_term_check(
            signed["before"], _root(revoking_pki), when, fetcher_backend=backend
        )
        after = long_term_check(signed["after"], _root(revoking_pki), when, fetcher_backend=backend)
    assert before.passed and before.signature_time is not None
    assert NOW <= before.signature_time < REVOKED
    assert (after.passed, after.indication) == (False, "REVOKED_NO_POE"), after
    assert after.revoked_at == REVOKED
    assert after.signature_time is not None
    assert AFTER <= after.signature_time < AFTER + dt.timedelta(minutes=5)  # the TSA's time


def test_within_the_certificates_validity_the_listing_answers(
    signed: dict[str, Any], revoking_pki: LivePki, tmp_path: Path
) -> None:
    """The decision (docs/verifier.md, "Revocation"): while the certificate is valid, a listed
    document is answered from the school's signed list and key history, without fetching the
    CA's revocation data; the school records a compromise in its key history, which applies at
    once. AdES, asked directly as of then, already sees the revocation the service leaves to
    the school."""
    when = AFTER + dt.timedelta(days=1)
    with answering_at(revoking_pki, when):
        for server in _serve(signed, tmp_path, when):
            for name in ("before", "after"):
                status, body = post_raw(server.url + "/api/v1/verify?lang=en", signed[name])
                assert (status, body["result"]) == (200, "success"), (name, body["reasons"])
                assert "proven by the status list" in _chain(body)["detail"]
        backend = RequestsFetcherBackend(per_request_timeout=10)
        direct = long_term_check(
            signed["after"], _root(revoking_pki), when, fetcher_backend=backend
        )
    assert (direct.indication, direct.revoked_at) == ("REVOKED_NO_POE", REVOKED)
