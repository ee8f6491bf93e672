"""The document-signing key on an HSM (SoftHSM2 through PKCS#11): generated on the token,
never leaving it, and signing PDFs that pyhanko and poppler's pdfsig accept."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pkcs11
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, ObjectClass
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from authority.config import DEMO_SCHOOL
from authority.hsm import HsmKey, HsmSettings, generate_key, load_key, read_settings, session
from authority.keys import load_identity
from authority.production import ParallelProducer
from authority.service import Authority, IssueRequest, init_authority
from certseal.errors import ConfigurationError, HsmError, PassphraseError
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE, nss_db, sample_bytes
from tests.keys.conftest import USER_PIN, Steps


def hsm_authority(home: Path, hsm: HsmSettings) -> None:
    init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW - dt.timedelta(days=30), hsm=hsm)
    with Authority(home) as auth:
        report, _ = auth.import_records(
            "graduates", sample_bytes("graduates.csv"), now=NOW, actor=ACTOR, source="g.csv"
        )
        assert not report.rejected


def test_key_is_generated_on_the_token_and_never_leaves_it(
    softhsm: HsmSettings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    hsm_authority(home, softhsm)
    keys = home / "keys"
    assert not (keys / "signing.key.pem").exists()  # no file of the key, encrypted or not
    assert (keys / "statuslist.key.pem").exists()
    settings = read_settings(keys)
    assert settings is not None and settings.key_id("signing") is not None
    identity = load_identity(keys, "signing", PASSPHRASE)
    assert isinstance(identity.key, HsmKey)
    token = session(settings, USER_PIN)
    key = token.get_key(object_class=ObjectClass.PRIVATE_KEY, id=settings.key_id("signing"))
    # LOCAL: generated on the token, not imported; and it can never be read out.
    assert key[Attribute.LOCAL] is True
    assert key[Attribute.SENSITIVE] is True and key[Attribute.ALWAYS_SENSITIVE] is True
    assert key[Attribute.EXTRACTABLE] is False and key[Attribute.NEVER_EXTRACTABLE] is True
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        key[Attribute.VALUE]
    with pytest.raises(HsmError, match="generated on the HSM and never leaves it"):
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    cert = x509.load_pem_x509_certificate((keys / "signing.pem").read_bytes())
    assert cert.public_key() == identity.key.public_key()


def test_hsm_signed_documents_are_valid_for_pyhanko_and_pdfsig(
    softhsm: HsmSettings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    hsm_authority(home, softhsm)
    steps = Steps(home, tmp_path / "site")
    doc = steps.issue(NOW)  # a diploma: its machine-readable twin is signed on the HSM too
    pdf = steps.pdf(doc)
    root_pem = home / "keys" / "root.pem"
    root = x509.load_pem_x509_certificate(root_pem.read_bytes())
    vc = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))],
        allow_fetching=False,
    )
    sig = PdfFileReader(io.BytesIO(pdf), strict=True).embedded_signatures[0]
    status = validate_pdf_signature(sig, vc)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    signing = x509.load_pem_x509_certificate((home / "keys" / "signing.pem").read_bytes())
    assert status.signing_cert.dump() == signing.public_bytes(serialization.Encoding.DER)
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss_db(tmp_path, root_pem)}", str(path)],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    assert "Signature is Valid" in out and "Certificate is Trusted" in out
    steps.publish(NOW + dt.timedelta(minutes=5))
    result = steps.verify(tmp_path, doc, NOW + dt.timedelta(minutes=6))
    assert result.result == "success", result.codes


def test_worker_processes_sign_through_their_own_session(
    softhsm: HsmSettings, tmp_path: Path
) -> None:
    """Spawned workers (fresh interpreters) open the token themselves; the documents are
    signed by the HSM key."""
    home = tmp_path / "home"
    hsm_authority(home, softhsm)
    with Authority(home) as auth:
        students = auth.registry.student_ids()[:6]
        for sid in students:
            auth.record_collection(sid, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
        with ParallelProducer(auth.keys_dir, PASSPHRASE, workers=2, in_process_max=1) as pp:
            report = auth.issue(
                [IssueRequest("diploma_zh", s) for s in students], now=NOW, actor=ACTOR,
                produce=pp,
            )  # fmt: skip
            assert pp.started_workers
        assert not report.failed and len(report.issued) == 6
        signing = (auth.keys_dir / "signing.pem").read_bytes()
        cert = x509.load_pem_x509_certificate(signing).public_bytes(serialization.Encoding.DER)
        for d in report.issued:
            pdf = (home / d.path).read_bytes()
            sig = PdfFileReader(io.BytesIO(pdf), strict=True).embedded_signatures[0]
            assert sig.signer_cert.dump() == cert


def test_wrong_pin_and_missing_key_are_plain_errors(softhsm: HsmSettings) -> None:
    # A fresh process: PKCS#11 logs a whole process in, so this one's login would hide it.
    wrong = subprocess.run(
        [sys.executable, "-c", WRONG_PIN, softhsm.module, softhsm.token_label],
        capture_output=True, text=True, check=False,
        env={**os.environ, "CERTSEAL_HSM_PIN": "not-the-pin"}, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert wrong.stdout.strip() == "PassphraseError: the HSM refused the PIN in CERTSEAL_HSM_PIN"
    with pytest.raises(PassphraseError, match="opened with another PIN"):
        session(softhsm, "not-the-pin")
    unknown = softhsm.with_key("signing", b"\x00" * 16)
    with pytest.raises(HsmError, match="has no signing key 0000"):
        load_key(unknown, "signing", USER_PIN)
    with pytest.raises(ConfigurationError, match=r"hsm\.json names no statuslist key"):
        load_key(softhsm, "statuslist", USER_PIN)
    with pytest.raises(HsmError, match="cannot be used: NoSuchToken"):
        generate_key(HsmSettings(softhsm.module, "no-such-token"), "x", USER_PIN)


WRONG_PIN = """
import sys
from authority.hsm import HsmSettings, generate_key, pin_from_env
from certseal.errors import CertsealError
try:
    generate_key(HsmSettings(sys.argv[1], sys.argv[2]), "never made", pin_from_env())
except CertsealError as e:
    print(f"{type(e).__name__}: {e.en}")
"""


def test_pin_only_from_the_environment(
    softhsm: HsmSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.delenv("CERTSEAL_HSM_PIN")
    with pytest.raises(PassphraseError, match="set its user PIN in CERTSEAL_HSM_PIN"):
        init_authority(home, DEMO_SCHOOL, PASSPHRASE, NOW, hsm=softhsm)
    assert not (home / "keys").exists()  # nothing half made
