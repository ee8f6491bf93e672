"""The time-stamping authorities' roots are trusted for timestamps only.

pyhanko validates the signer's chain and the timestamps' chains against the same trust roots
unless told otherwise. A TSA's root listed among those roots therefore makes a document
*signed* under that TSA's CA pass as if the school had signed it: shown here with a diploma
whose signing certificate comes from certomancer's CA, the same root as the TSA's. With the
TSA's root given as ``timestamp_roots`` (pyhanko's separate timestamp policy) the school's
diploma still passes 20 years on and the other one does not. Real certomancer TSA/OCSP/CRL on
127.0.0.1, nothing mocked."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from authority.config import DEMO_SCHOOL
from authority.service import Authority, init_authority
from tests.conftest import ACTOR, NOW, PASSPHRASE, make_authority, sample_bytes
from tests.ltv.conftest import configure
from tests.ltv.pki import LivePki, answering_at
from tests.ltv.test_lifetime import _issue
from verifier.longterm import SIGNER_NOT_SCHOOLS, no_chain
from verifier.ltv import long_term_check

YEAR = dt.timedelta(days=365)
WHEN = NOW + 20 * YEAR
P12_PASSWORD = "p12-test-password"  # a generated test fixture's password, not a secret


def _cert(data: bytes) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(pem.unarmor(data)[2])


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, pki: LivePki) -> dict[str, Any]:
    """A B-LTA diploma of a school with its own root, and one whose signing certificate was
    issued by the TSA's CA (certomancer's ``signer``), both timestamped by the same TSA."""
    base = tmp_path_factory.mktemp("timestamp-roots")
    own = base / "own"
    make_authority(own)
    with Authority(own) as auth:
        student = auth.registry.student_ids()[0]
    configure(own, pki, "B-LTA")
    under_tsa_ca = base / "under-tsa-ca"
    init_authority(
        under_tsa_ca, DEMO_SCHOOL, PASSPHRASE, NOW - dt.timedelta(days=30),
        p12=pki.pkcs12("signer", P12_PASSWORD.encode()), p12_passphrase=P12_PASSWORD,
        root_pem=pki.pem("root"),
    )  # fmt: skip
    with Authority(under_tsa_ca) as auth:
        auth.import_records(
            "graduates", sample_bytes("graduates.csv"), now=NOW, actor=ACTOR, source="g.csv"
        )
        other = auth.registry.student_ids()[0]
    configure(under_tsa_ca, pki, "B-LTA")
    return {
        "own_root": _cert((own / "keys" / "root.pem").read_bytes()),
        "tsa_root": _cert(pki.pem("root")),
        "school": _issue(own, student)[0],
        "under_tsa_ca": _issue(under_tsa_ca, other)[0],
    }


def test_a_tsa_root_counts_for_timestamps_only(signed: dict[str, Any], pki: LivePki) -> None:
    own, tsa = signed["own_root"], signed["tsa_root"]
    with answering_at(pki, WHEN):
        backend = RequestsFetcherBackend(per_request_timeout=10)

        def check(doc: str, roots: list[asn1_x509.Certificate], ts: list[Any]) -> Any:
            return long_term_check(
                signed[doc], roots, WHEN, timestamp_roots=ts, fetcher_backend=backend
            )

        school = check("school", [own], [tsa])
        assert school.passed, (school.indication, school.detail)
        # The danger: one trust set for both, and a document signed under the TSA's CA passes.
        mixed = check("under_tsa_ca", [own, tsa], [])
        assert mixed.passed, (mixed.indication, mixed.detail)
        # Kept apart, it does not: its signer's chain ends at no root of the school's.
        apart = check("under_tsa_ca", [own], [tsa])
        assert not apart.passed
        assert apart.indication == "NO_CERTIFICATE_CHAIN_FOUND"
        assert no_chain(signed["under_tsa_ca"], [own], [tsa]) == SIGNER_NOT_SCHOOLS
        # Without the TSA's root, the school's own diploma cannot pass either, and the
        # answer names the authority the verifier does not trust.
        alone = check("school", [own], [])
        assert not alone.passed
        assert alone.indication == "NO_CERTIFICATE_CHAIN_FOUND"
        said = no_chain(signed["school"], [own], [])
        assert said is not None
        assert "Test Time Stamping Authority" in said[0] and "timestamp_roots" in said[0]
        assert "時戳機構" in said[1]
        assert no_chain(signed["school"], [own], [tsa]) is None
