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
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from authority.config import DEMO_SCHOOL
from authority.service import Authority, init_authority
from certseal.errors import ConfigurationError
from tests.conftest import ACTOR, NOW, PASSPHRASE, make_authority, sample_bytes
from tests.ltv.conftest import configure
from tests.ltv.pki import LivePki, answering_at
from tests.ltv.test_lifetime import _issue
from tests.verifier.conftest import LiveServer
from tests.verifier.test_api import post_raw
from verifier.app import create_app
from verifier.config import VerifierConfig
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
        "home": own,
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


def _serve(home: Path, tmp: Path, timestamp_roots: list[str]) -> LiveServer:
    """One school's verifier at ``WHEN``: the school's own root only, and the TSAs' roots."""
    out = tmp / "site"
    if not out.exists():
        with Authority(home) as auth:
            auth.publish(out, PASSPHRASE, now=WHEN - dt.timedelta(minutes=5), actor=ACTOR)
    keys = home / "keys"
    config = {
        "issuers": [
            {
                "name": "demo",
                "roots": [str(keys / "root.pem")],
                "status_certs": [str(keys / "statuslist.pem")],
                "source": str(out),
            }
        ],
        "counts_db": str(tmp / f"counts-{len(timestamp_roots)}.sqlite"),
        "timestamp_roots": timestamp_roots,
    }
    return LiveServer(create_app(config, clock=lambda: WHEN))


def test_the_service_trusts_the_tsas_the_operator_names(
    signed: dict[str, Any], pki: LivePki, tmp_path: Path
) -> None:
    tsa_root = tmp_path / "tsa-root.pem"
    tsa_root.write_bytes(pki.pem("root"))
    with answering_at(pki, WHEN):
        for roots in ([], [str(tsa_root)]):
            server = _serve(signed["home"], tmp_path, roots)
            try:
                status, body = post_raw(server.url + "/api/v1/verify?lang=en", signed["school"])
            finally:
                server.stop()
            chain = next(c for c in body["checks"] if c["name"] == "certificate_chain")
            if roots:
                assert (status, body["result"]) == (200, "success"), body["checks"]
                assert chain["status"] == "passed" and "AdES" in chain["detail"]
            else:
                assert (status, body["result"]) == (200, "failure")
                assert [r["code"] for r in body["reasons"]] == ["long_term_unproven"]
                message = body["reasons"][0]["message"]
                assert "Test Time Stamping Authority" in message and "timestamp_roots" in message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("tsa-root.pem", "must be a list of PEM certificate files"),
        ([""], "must be a list of PEM certificate files"),
        (["missing.pem"], "cannot read"),
        (["not-a-cert.pem"], "cannot read .* as PEM certificates"),
        (["public-key.pem"], "holds no PEM certificate"),
    ],
)
def test_timestamp_roots_are_checked_on_start(tmp_path: Path, value: object, says: str) -> None:
    (tmp_path / "not-a-cert.pem").write_text("not a certificate\n")
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "public-key.pem").write_bytes(
        public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    issuer_file = tmp_path / "issuer.pem"  # the issuer's files are read later, not here
    issuer_file.write_text("")
    named = [str(tmp_path / v) if v else v for v in value] if isinstance(value, list) else value
    settings = {
        "issuers": [{"roots": [str(issuer_file)], "status_certs": [str(issuer_file)],
                     "source": str(tmp_path)}],
        "counts_db": str(tmp_path / "counts.sqlite"),
        "timestamp_roots": named,
    }  # fmt: skip
    with pytest.raises(ConfigurationError, match=says) as e:
        VerifierConfig.from_dict(settings)
    assert "timestamp_roots" in e.value.zh


def test_timestamp_roots_from_the_environment(tmp_path: Path, pki: LivePki) -> None:
    trust = tmp_path / "trust"
    trust.mkdir()
    for name in ("root.pem", "statuslist.pem"):
        (trust / name).write_text("")  # the issuer's files are read later, not here
    files = [tmp_path / "a.pem", tmp_path / "b.pem"]
    files[0].write_bytes(pki.pem("root"))
    files[1].write_bytes(pki.pem("rogue-root") + pki.pem("tsa"))
    cfg = VerifierConfig.from_env(
        {
            "CERTSEAL_TRUST_DIR": str(trust),
            "CERTSEAL_STATUS_SOURCE": str(tmp_path),
            "CERTSEAL_COUNTS_DB": str(tmp_path / "counts.sqlite"),
            "CERTSEAL_TIMESTAMP_ROOTS": ":".join(str(f) for f in files),
        }
    )
    assert cfg.timestamp_roots == tuple(files)
    names = [c.subject.native["common_name"] for c in cfg.timestamp_root_certs()]
    assert names == ["Test Root CA", "Rogue Root", "Test Time Stamping Authority"]
