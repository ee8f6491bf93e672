"""What a listed document's answer keeps for the next upload (the size check, the signing
certificate at an issuance time, whether a key history says more, the checks and reasons at a
limit, the verdict) and the request's shortcut for a raw PDF body: none of it may answer a
different question with an earlier answer."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certseal.keyhistory import KeyHistory
from certseal.timeutil import format_time
from certseal.trustlist import KeyRecord
from tests.conftest import Issued
from tests.verifier.conftest import verifier_config
from verifier.app import create_app
from verifier.engine import _count_reached
from verifier.longterm import Due, LongTerm
from verifier.pdfcheck import sniff
from verifier.result import Reason, Verification, dumps

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
MB = 1024 * 1024


def _certificate(name: str, start: dt.datetime, days: int) -> x509.Certificate:
    """A self-signed test certificate valid ``days`` from ``start`` (its end is what counts)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def _sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


# -- sniff: one answer per size and limit ----------------------------------------------------


def test_sniff_answers_each_size_and_limit_with_its_own_numbers() -> None:
    small, large = b"%PDF-1.7\n" + b"a" * 100, b"%PDF-1.7\n" + b"a" * 200
    for _ in range(2):  # made, then kept
        assert sniff(small, 20 * MB).checks[0].params == {"size": 109, "limit_mb": 20}
        assert sniff(large, 20 * MB).checks[0].params == {"size": 209, "limit_mb": 20}
        assert sniff(small, 5 * MB).checks[0].params == {"size": 109, "limit_mb": 5}
    answer = Verification(sniff(large, 20 * MB).checks, ())
    assert answer.to_json("en") == dumps(answer.to_dict("en"))
    assert '"size":209' not in Verification(sniff(small, 20 * MB).checks, ()).to_json("en")


def test_sniff_of_a_size_it_kept_still_reads_the_bytes() -> None:
    pdf = b"%PDF-1.7\n" + b"a" * 100
    assert sniff(pdf, 20 * MB).reasons == ()
    archive = b"PK\x03\x04" + b"a" * (len(pdf) - 4)
    text = b"hello" + b"a" * (len(pdf) - 5)
    assert [r.code for r in sniff(archive, 20 * MB).reasons] == ["zip_archive"]
    assert [r.code for r in sniff(text, 20 * MB).reasons] == ["not_pdf"]
    assert sniff(archive, 20 * MB).checks[0].params == {"size": len(pdf), "limit_mb": 20}
    assert [r.code for r in sniff(pdf, len(pdf) - 1).reasons] == ["too_large"]
    assert sniff(pdf, 20 * MB).reasons == ()


# -- the long-term check: the signing certificate at an issuance time --------------------------


def test_due_follows_the_time_past_the_certificate_and_a_new_history() -> None:
    first = _certificate("first signing key", T0, 365)
    history = KeyHistory.from_certificates("TEST", [(first, "signing")], T0)
    issued = format_time(T0 + dt.timedelta(days=100))
    long_term = LongTerm(fetch_timeout=None)
    within, past = T0 + dt.timedelta(days=200), T0 + dt.timedelta(days=400)
    assert long_term.due(history, issued, within) is None
    assert long_term.due(history, issued, within) is None  # kept: still within
    end = first.not_valid_after_utc
    assert long_term.due(history, issued, past) == Due(_sha256(first), end)
    # Before any signing key: nothing is due, whatever the time.
    assert long_term.due(history, format_time(T0 - dt.timedelta(days=1)), past) is None

    # The next version of the history: a key from day 50 signed the same issuance time.
    second = _certificate("second signing key", T0 + dt.timedelta(days=50), 3650)
    record = KeyRecord.from_certificate(second, "signing")
    der = {_sha256(second): second.public_bytes(Encoding.DER)}
    newer = history.with_records((*history.records, record), der, T0 + dt.timedelta(days=50))
    assert long_term.due(newer, issued, past) is None  # the second key is valid for years
    late = T0 + dt.timedelta(days=50 + 3651)
    assert long_term.due(newer, issued, late) == Due(_sha256(second), second.not_valid_after_utc)
    assert long_term.due(history, issued, past) == Due(_sha256(first), end)  # the old one still


def test_each_history_says_whether_it_says_more() -> None:
    first = _certificate("first signing key", T0, 365)
    history = KeyHistory.from_certificates("TEST", [(first, "signing")], T0)
    assert history.says_more is False
    assert history.says_more is False  # kept on the object
    second = _certificate("second signing key", T0 + dt.timedelta(days=50), 365)
    record = KeyRecord.from_certificate(second, "signing")
    der = {_sha256(second): second.public_bytes(Encoding.DER)}
    newer = history.with_records((*history.records, record), der, T0 + dt.timedelta(days=50))
    assert newer.says_more is True
    assert history.says_more is False


# -- the answer's parts kept for the next upload -----------------------------------------------


def test_a_limit_reached_is_answered_with_its_own_limit() -> None:
    check3, reason3 = _count_reached(3)
    check5, reason5 = _count_reached(5)
    assert (check3.params, reason3.params) == ({"limit": 3}, {"limit": 3})
    assert (check5.params, reason5.params) == ({"limit": 5}, {"limit": 5})
    assert _count_reached(3) == (check3, reason3)
    for lang in ("en", "zh-TW"):
        three = Verification((check3,), (reason3,), verifications=(3, 3))
        five = Verification((check5,), (reason5,), verifications=(5, 5))
        assert three.to_json(lang) == dumps(three.to_dict(lang))
        assert five.to_json(lang) == dumps(five.to_dict(lang))


def test_a_reason_kept_renders_each_language_and_zone() -> None:
    reason = Reason(
        "revoked", {"revoked_at": "2030-01-01T00:00:00Z", "reason": "r", "reason_zh": "理"}
    )
    seen = set()
    for _ in range(2):
        for lang in ("en", "zh-TW"):
            for zone in ("Asia/Taipei", "Europe/Berlin"):
                text = reason.to_json(lang, zone)
                assert text == dumps(reason.to_dict(lang, zone))
                seen.add(text)
    assert len(seen) == 4


def test_the_verdict_is_each_answers_own() -> None:
    warned = Verification((), (Reason("superseded", {"superseded_at": "2030-01-01T00:00:00Z"}),))
    failed = Verification((), (Reason("not_issued"),))
    fine = Verification((), ())
    for _ in range(2):
        assert (warned.result, failed.result, fine.result) == ("warning", "failure", "success")
    assert json.loads(failed.to_json("en"))["result"] == "failure"


# -- the request: a raw PDF body skips no field that was sent ----------------------------------


def _multipart(fields: dict[str, str], pdf: bytes) -> tuple[bytes, str]:
    boundary = "reuse-test-boundary"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
    )
    out.write(pdf + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("how", "query", "headers", "fields", "expected"),
    [
        ("raw", "", {}, {}, (200, "en")),
        ("raw", "lang=zh-TW", {}, {}, (200, "zh-TW")),
        ("raw", "", {"Accept-Language": "zh-TW,zh;q=0.9"}, {}, (200, "zh-TW")),
        ("raw-octet", "", {"Accept-Language": "zh-TW"}, {}, (200, "zh-TW")),
        ("raw-params", "lang=zh-TW", {}, {}, (200, "zh-TW")),
        ("raw", "receipt=1", {}, {}, (400, "en")),
        ("raw", "receipt=1&lang=zh-TW", {}, {}, (400, "zh-TW")),
        ("form", "", {}, {"lang": "zh-TW"}, (200, "zh-TW")),
        ("form", "", {}, {"receipt": "1"}, (400, "en")),
        ("form", "", {"Accept-Language": "zh-TW"}, {"lang": "en"}, (200, "en")),
    ],
)
def test_language_and_receipt_fields_are_read_however_the_file_comes(
    issued: Issued,
    tmp_path: Path,
    how: str,
    query: str,
    headers: dict[str, str],
    fields: dict[str, str],
    expected: tuple[int, str],
) -> None:
    client = create_app(verifier_config(issued, tmp_path)).test_client()
    pdf = issued.pdf("superseded")
    for _ in range(2):  # the same request again answers the same
        if how == "form":
            body, ctype = _multipart(fields, pdf)
        else:
            body = pdf
            ctype = {
                "raw": "application/pdf",
                "raw-octet": "application/octet-stream",
                "raw-params": "application/PDF; name=d.pdf",
            }[how]
        answer = client.post(
            "/api/v1/verify",
            query_string=query,
            data=body,
            headers={"Content-Type": ctype, **headers},
        )
        payload = answer.get_json()
        assert (answer.status_code, payload["lang"]) == expected
        if expected[0] == 400:
            assert [r["code"] for r in payload["reasons"]] == ["receipt_unavailable"]
        else:
            assert payload["result"] == "warning"
