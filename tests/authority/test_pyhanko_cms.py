"""The CMS assembled from the template is the one pyhanko builds, for the pyhanko it was read
against; anything it cannot reproduce is left to pyhanko."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import importlib.metadata
import io
from importlib import resources

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.api import CAdESSignedAttrSpec, GenericCommitment
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from authority._pyhanko import WRITTEN_FOR, CmsTemplate
from authority.config import DEMO_SCHOOL
from authority.content import DocumentContent
from authority.keys import Identity
from authority.records import Graduate, parse_csv
from authority.render import Renderer
from authority.signing import DocumentSealer, _CachedKeySigner
from certseal.doctypes import DOCUMENT_TYPES
from certseal.errors import SigningError

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DIGEST = hashlib.sha256(b"the bytes a document's /ByteRange covers").digest()


def test_installed_pyhanko_is_the_version_the_template_was_written_for() -> None:
    installed = importlib.metadata.version("pyhanko")
    assert installed == WRITTEN_FOR, (
        f"pyhanko {installed} is installed, but authority/_pyhanko.py reproduces the CMS of "
        f"pyhanko {WRITTEN_FOR}: check the byte-for-byte tests in this file against the new "
        "release (signed attributes, SignerInfo, certificate set), then set WRITTEN_FOR"
    )


def _cert(
    subject: str,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer: x509.Name | None,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    ca: bool,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,  # pyhanko asks for non-repudiation on a certification
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _identity(kind: str) -> Identity:
    """A root and a document-signing leaf: RSA signatures are deterministic, ECDSA's are not."""

    def new_key() -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
        if kind == "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return ec.generate_private_key(ec.SECP256R1())

    root_key, key = new_key(), new_key()
    root = _cert("Test Root", root_key.public_key(), None, root_key, ca=True)
    leaf = _cert("Test Signing", key.public_key(), root.subject, root_key, ca=False)
    return Identity(key=key, cert=leaf, chain=(root,))


@pytest.fixture(scope="module")
def rsa_identity() -> Identity:
    return _identity("rsa")


@pytest.fixture(scope="module")
def ec_identity() -> Identity:
    return _identity("ec")


def _ours(signer: _CachedKeySigner, settings: PdfCMSSignedAttributes) -> bytes:
    template = asyncio.run(CmsTemplate.build(signer, "sha256", settings))
    assert template is not None
    attrs = template.signed_attributes(DIGEST)
    return template.content_info(attrs, asyncio.run(signer.async_sign_raw(attrs, "sha256")))


def _pyhankos(signer: _CachedKeySigner, settings: PdfCMSSignedAttributes) -> bytes:
    signed = asyncio.run(
        signer.async_sign(DIGEST, "sha256", use_pades=True, signed_attr_settings=settings)
    )
    return bytes(signed.dump())


def test_the_template_cms_is_pyhankos_byte_for_byte(rsa_identity: Identity) -> None:
    signer = _CachedKeySigner(rsa_identity)
    settings = PdfCMSSignedAttributes()
    assert _ours(signer, settings) == _pyhankos(signer, settings)


def _without_signature(der: bytes) -> tuple[bytes, ...]:
    signed_data = cms.ContentInfo.load(der)["content"]
    info = signed_data["signer_infos"][0]
    return (
        cms.ContentInfo.load(der)["content_type"].dump(),
        signed_data["version"].dump(),
        signed_data["digest_algorithms"].dump(),
        signed_data["encap_content_info"].dump(),
        signed_data["certificates"].dump(),
        *(info[field].dump() for field in ("version", "sid", "digest_algorithm")),
        *(info[field].dump() for field in ("signed_attrs", "signature_algorithm")),
        bytes(len(signed_data["signer_infos"])),
    )


def test_with_an_ec_key_only_the_signature_value_differs(ec_identity: Identity) -> None:
    signer = _CachedKeySigner(ec_identity)
    settings = PdfCMSSignedAttributes()
    ours = _ours(signer, settings)
    assert _without_signature(ours) == _without_signature(_pyhankos(signer, settings))
    info = cms.ContentInfo.load(ours)["content"]["signer_infos"][0]
    public_key = ec_identity.cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    # The signature covers the attributes as a SET OF, not as the [0] they are stored in.
    covered = b"\x31" + info["signed_attrs"].dump()[1:]
    public_key.verify(info["signature"].native, covered, ec.ECDSA(hashes.SHA256()))


def test_attributes_the_template_cannot_reproduce_are_left_to_pyhanko(
    ec_identity: Identity,
) -> None:
    signer = _CachedKeySigner(ec_identity)
    commitment = CAdESSignedAttrSpec(commitment_type=GenericCommitment.PROOF_OF_ORIGIN.asn1)
    settings = PdfCMSSignedAttributes(cades_signed_attrs=commitment)
    assert asyncio.run(CmsTemplate.build(signer, "sha256", settings)) is None


def test_a_digest_of_another_size_is_refused(ec_identity: Identity) -> None:
    template = asyncio.run(
        CmsTemplate.build(_CachedKeySigner(ec_identity), "sha256", PdfCMSSignedAttributes())
    )
    assert template is not None
    with pytest.raises(SigningError, match="48 bytes"):
        template.signed_attributes(hashlib.sha384(b"").digest())


def test_without_a_template_pyhanko_signs_and_the_result_validates(
    ec_identity: Identity, unsigned_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_template(*args: object) -> None:
        return None

    monkeypatch.setattr(CmsTemplate, "build", no_template)
    _assert_validates(DocumentSealer(ec_identity).seal(unsigned_pdf), ec_identity)


def test_with_the_template_the_result_validates(ec_identity: Identity, unsigned_pdf: bytes) -> None:
    _assert_validates(DocumentSealer(ec_identity).seal(unsigned_pdf), ec_identity)


@pytest.fixture(scope="module")
def unsigned_pdf() -> bytes:
    """A real rendered document, as the authority signs them."""
    sample = resources.files("authority").joinpath("sample_data", "graduates.csv").read_bytes()
    graduate = parse_csv("graduates", sample).accepted[0]
    assert isinstance(graduate, Graduate)
    content = DocumentContent(
        DOCUMENT_TYPES["diploma_en"], "DEMO-DE-2026-000001", NOW.date(), DEMO_SCHOOL, graduate
    )
    return Renderer().render(content, print_locked=False)


def _assert_validates(pdf: bytes, identity: Identity) -> None:
    root = asn1_x509.Certificate.load(identity.chain[0].public_bytes(Encoding.DER))
    signature = PdfFileReader(io.BytesIO(pdf), strict=True).embedded_signatures[0]
    status = validate_pdf_signature(
        signature, ValidationContext(trust_roots=[root], allow_fetching=False)
    )
    assert status.intact and status.valid and status.trusted
    assert status.md_algorithm == "sha256"
