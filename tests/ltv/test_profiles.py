"""B-T, B-LT and B-LTA issued through the authority's batch against a live local TSA, OCSP
responder and CRL server; what a TSA that is down or untrusted does to a batch."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader

from authority.ltv import ServiceError, UntrustedTimestampError
from authority.production import Producer
from authority.service import Authority, IssueRequest
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE, nss_db
from tests.ltv.conftest import configure
from tests.ltv.pki import LivePki, live_pki

PROFILES = ["B-B", "B-T", "B-LT", "B-LTA"]


def _issue(home: Path, student: str) -> tuple[bytes, str]:
    with Authority(home) as auth:
        auth.record_collection(student, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
        report = auth.issue(
            [IssueRequest("diploma_zh", student)],
            now=NOW,
            actor=ACTOR,
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
        assert not report.failed, report.failed
        row = report.issued[0]
        return (home / row.path).read_bytes(), row.doc_id


@pytest.fixture(scope="module")
def issued(ltv_home: Path, pki: LivePki) -> dict[str, bytes]:
    with Authority(ltv_home) as auth:
        students = auth.registry.student_ids()[: len(PROFILES)]
    out = {}
    for profile, student in zip(PROFILES, students, strict=True):
        configure(ltv_home, pki, profile)
        out[profile] = _issue(ltv_home, student)[0]
    return out


def _signer_info(pdf: bytes) -> cms.SignerInfo:
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    return reader.embedded_signatures[0].signer_info


def test_b_t_carries_a_tsa_timestamp_on_the_signature(issued: dict[str, bytes]) -> None:
    for profile in ("B-T", "B-LT", "B-LTA"):
        attrs = _signer_info(issued[profile])["unsigned_attrs"]
        types = [a["type"].native for a in attrs]
        assert types == ["signature_time_stamp_token"], profile
    assert not _signer_info(issued["B-B"])["unsigned_attrs"]


def test_b_lt_has_validation_data_and_b_lta_a_document_timestamp(
    issued: dict[str, bytes],
) -> None:
    for profile in PROFILES:
        reader = PdfFileReader(io.BytesIO(issued[profile]), strict=True)
        dss = reader.root.get("/DSS")
        sigs = reader.embedded_signatures
        if profile in ("B-LT", "B-LTA"):
            assert dss is not None, profile
            dss = dss.get_object()
            assert len(dss["/Certs"]) >= 3  # ours, the TSA's and the chains
            assert "/CRLs" in dss or "/OCSPs" in dss  # the TSA's revocation data, fetched live
        else:
            assert dss is None, profile
        kinds = [s.sig_object.get("/Type") for s in sigs]
        expected = ["/Sig", "/DocTimeStamp"] if profile == "B-LTA" else ["/Sig"]
        assert kinds == expected, profile


@pytest.mark.parametrize("profile", PROFILES)
def test_pdfsig_still_says_valid_and_trusted(
    issued: dict[str, bytes], ltv_home: Path, profile: str, tmp_path: Path
) -> None:
    """pdfsig checks the certification signature; it cannot check a document timestamp
    ("Unable to validate this type of signature"), and after a DSS or a document timestamp
    the certification signature no longer covers the whole file (the later revisions)."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(issued[profile])
    db = nss_db(tmp_path, ltv_home / "keys" / "root.pem")
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{db}", str(path)], capture_output=True, text=True, check=False
    ).stdout
    first = out.split("Signature #2")[0]
    assert "Signature is Valid" in first
    assert "Certificate is Trusted" in first
    assert ("Total document signed" in first) == (profile in ("B-B", "B-T"))


def test_sizes_grow_with_the_profile(issued: dict[str, bytes]) -> None:
    sizes = [len(issued[p]) for p in PROFILES]
    assert sizes == sorted(sizes)


def test_tsa_down_stops_the_batch_and_the_rerun_completes(
    ltv_home: Path, pki_keys: Path, pki: LivePki
) -> None:
    """A producer made while the TSA answered; the TSA then stops: the batch raises a
    ServiceError naming the TSA, nothing is registered, and once the TSA is back on the same
    address the same batch issues everything."""
    with Authority(ltv_home) as auth:
        students = auth.registry.student_ids()[6:9]
        for s in students:
            auth.record_collection(s, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
    requests = [IssueRequest("diploma_zh", s) for s in students]
    with live_pki(pki_keys) as flaky:
        configure(ltv_home, pki, "B-T", tsa_url=flaky.tsa_url)
        port = flaky.server.server_port
        with Authority(ltv_home) as auth:
            produce = Producer(auth.keys_dir, PASSPHRASE)
        flaky.stop()
        with Authority(ltv_home) as auth:
            with pytest.raises(ServiceError, match=f"time-stamping service at {flaky.tsa_url}"):
                auth.issue(requests, now=NOW, actor=ACTOR, produce=produce)
            assert all(auth.registry.by_request(r.request_key) is None for r in requests)
        # A fresh producer fails at once, before any document.
        with Authority(ltv_home) as auth, pytest.raises(ServiceError, match="did not give"):
            Producer(auth.keys_dir, PASSPHRASE)
    with live_pki(pki_keys, port=port) as back:
        assert back.tsa_url == flaky.tsa_url
        with Authority(ltv_home) as auth:
            report = auth.issue(
                requests, now=NOW, actor=ACTOR, produce=Producer(auth.keys_dir, PASSPHRASE)
            )
            assert len(report.issued) == 3 and not report.failed


def test_tsa_with_an_untrusted_certificate_stops_the_batch(ltv_home: Path, pki: LivePki) -> None:
    """The rogue TSA signs with a certificate from a root not in tsa-roots.pem."""
    configure(ltv_home, pki, "B-T", tsa_url=pki.rogue_tsa_url)
    with (
        Authority(ltv_home) as auth,
        pytest.raises(UntrustedTimestampError, match="not from a trusted TSA"),
    ):
        Producer(auth.keys_dir, PASSPHRASE)
