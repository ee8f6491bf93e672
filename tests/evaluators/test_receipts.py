"""Receipts as a third party checks them: the genuine one holds; a forged one, an altered
verdict, a wrong key, an expired certificate and a lying summary are each refused by name."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec

from certseal.canonical import canonical_bytes
from certseal.pki import load_certificates, sign_raw
from certseal.receipt import (
    Receipt,
    ReceiptFile,
    ReceiptFileError,
    ReceiptFormatError,
    ReceiptKeyError,
    ReceiptReason,
    ReceiptSignatureError,
    check_receipt,
    embedded_certificate,
    fingerprint_hex,
    match_files,
    sign_receipt,
)
from cli import main
from tests.conftest import NOW
from tests.evaluators.conftest import ReceiptKey
from verifier.receipt import ReceiptSigner, new_receipt_key

SHA = "ab" * 32


def receipt(result: str = "failure") -> Receipt:
    reasons = () if result == "success" else (ReceiptReason("revoked", "voided", "作廢"),)
    return Receipt(
        receipt_id="0" * 32,
        verifier="verify.example.edu.tw",
        checked_at=NOW,
        files=(ReceiptFile("a.pdf", SHA, 1234, result, reasons, document=None, status_list=None),),
    )


@pytest.fixture(scope="module")
def signer(receipt_key: ReceiptKey) -> ReceiptSigner:
    return ReceiptSigner.load(receipt_key.key, receipt_key.cert, "verify.example.edu.tw")


@pytest.fixture(scope="module")
def forger(tmp_path_factory: pytest.TempPathFactory) -> ReceiptSigner:
    """Someone else's receipt key, with a certificate naming the same verifier."""
    key, cert = new_receipt_key(
        tmp_path_factory.mktemp("forger"), "verify.example.edu.tw", NOW - dt.timedelta(days=1)
    )
    return ReceiptSigner.load(key, cert, "verify.example.edu.tw")


def test_genuine_receipt_holds_with_cert_or_pin(signer: ReceiptSigner) -> None:
    data = sign_receipt(receipt(), signer.key, signer.certificate)
    by_cert = check_receipt(data, certificates=[signer.certificate])
    by_pin = check_receipt(data, pin=fingerprint_hex(signer.certificate))
    assert by_cert.receipt == by_pin.receipt == receipt()
    assert by_cert.receipt.result == "failure"
    assert embedded_certificate(data) == signer.certificate


def test_altered_verdict(signer: ReceiptSigner) -> None:
    d = json.loads(sign_receipt(receipt(), signer.key, signer.certificate))
    d["signed"]["files"][0]["result"] = "success"
    d["signed"]["files"][0]["reasons"] = []
    d["signed"]["result"] = "success"
    with pytest.raises(ReceiptSignatureError, match="changed after the verifier signed it"):
        check_receipt(json.dumps(d).encode(), certificates=[signer.certificate])


def test_wrong_key(signer: ReceiptSigner, forger: ReceiptSigner) -> None:
    data = sign_receipt(receipt(), forger.key, forger.certificate)
    with pytest.raises(ReceiptSignatureError, match="not signed by the verifier key you trust"):
        check_receipt(data, certificates=[signer.certificate])


def test_forged_receipt_carrying_its_own_certificate(
    signer: ReceiptSigner, forger: ReceiptSigner
) -> None:
    """A forger's receipt is self-consistent; only the pinned fingerprint tells it apart."""
    data = sign_receipt(receipt("success"), forger.key, forger.certificate)
    with pytest.raises(ReceiptKeyError, match="not the one whose fingerprint you pinned"):
        check_receipt(data, pin=fingerprint_hex(signer.certificate))
    with pytest.raises(ReceiptKeyError, match="proves nothing with the certificate it carries"):
        check_receipt(data)


def test_signed_summary_that_contradicts_the_files(signer: ReceiptSigner) -> None:
    """Validly signed bytes that no verifier writes: the summary is not the files' worst."""
    signed = receipt().to_signed() | {"result": "success"}
    envelope = {
        "signed": signed,
        "signatures": [
            {
                "keyid": json.loads(sign_receipt(receipt(), signer.key, signer.certificate))[
                    "signatures"
                ][0]["keyid"],
                "sig": sign_raw(signer.key, canonical_bytes(signed)),
            }
        ],
    }
    with pytest.raises(ReceiptFormatError, match="not the worst of the files"):
        check_receipt(canonical_bytes(envelope), certificates=[signer.certificate])


def test_certificate_not_valid_when_signed(signer: ReceiptSigner) -> None:
    late = Receipt("1" * 32, "v", NOW + dt.timedelta(days=4000), receipt().files)
    data = sign_receipt(late, signer.key, signer.certificate)
    with pytest.raises(ReceiptKeyError, match="was not valid at"):
        check_receipt(data, certificates=[signer.certificate])


@pytest.mark.parametrize(
    "data", [b"", b"[]", b"{", b'{"signed": {}, "signatures": []}', b"\xff" * 10]
)
def test_not_a_receipt(data: bytes, signer: ReceiptSigner) -> None:
    with pytest.raises(ReceiptFormatError):
        check_receipt(data, certificates=[signer.certificate])


def test_a_key_that_is_not_the_certificates(signer: ReceiptSigner) -> None:
    with pytest.raises(ReceiptKeyError):
        sign_receipt(receipt(), ec.generate_private_key(ec.SECP256R1()), signer.certificate)


def test_match_files(signer: ReceiptSigner) -> None:
    r = receipt()
    with pytest.raises(ReceiptFileError, match="not among the files"):
        match_files(r, {"x.pdf": b"other bytes"})


def test_receipt_check_command(
    signer: ReceiptSigner, forger: ReceiptSigner, tmp_path: Path
) -> None:
    good = tmp_path / "receipt.json"
    good.write_bytes(sign_receipt(receipt(), signer.key, signer.certificate))
    cert = tmp_path / "verifier.pem"
    cert.write_bytes(signer.certificate_pem())
    runner = CliRunner()
    ok = runner.invoke(main, ["receipt", "check", str(good), "--cert", str(cert)])
    assert ok.exit_code == 0, ok.output
    assert "is genuine" in ok.output and "a.pdf" in ok.output and "failure" in ok.output
    pinned = runner.invoke(
        main,
        ["receipt", "check", str(good), "--pin", fingerprint_hex(signer.certificate), "--json"],
    )
    assert pinned.exit_code == 0 and json.loads(pinned.output)["valid"] is True
    forged = tmp_path / "forged.json"
    forged.write_bytes(sign_receipt(receipt("success"), forger.key, forger.certificate))
    bad = runner.invoke(main, ["receipt", "check", str(forged), "--cert", str(cert)])
    assert bad.exit_code == 1
    assert "not signed by the verifier key you trust" in bad.output
    assert "並非由您信任的驗證服務金鑰所簽署" in bad.output
    other = tmp_path / "other.pdf"
    other.write_bytes(b"%PDF-1.7 something else")
    mismatch = runner.invoke(main, ["receipt", "check", str(good), str(other), "--cert", str(cert)])
    assert mismatch.exit_code == 1 and "not among the files" in mismatch.output


def test_receipt_key_is_never_overwritten(receipt_key: ReceiptKey) -> None:
    before = receipt_key.key.read_bytes()
    with pytest.raises(Exception, match="already holds a receipt key"):
        new_receipt_key(receipt_key.key.parent, "x", NOW)
    assert receipt_key.key.read_bytes() == before
    assert load_certificates(receipt_key.cert.read_bytes())
