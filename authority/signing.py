"""PAdES certification signatures on rendered documents, via pyhanko.

Each document gets one certification signature (``ETSI.CAdES.detached``, SHA-256, DocMDP
"no changes allowed") with the chain embedded. The key is unlocked once per process and reused:
pyhanko's stock ``SimpleSigner`` re-parses the key for every signature and signs twice (once
to estimate the size), which dominates a batch's cost.
"""

from __future__ import annotations

import io
import secrets
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from authority.keys import Identity
from certseal.errors import SigningError

FIELD_NAME = "CertsealCertification"
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def _asn1(cert: Any) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


_ID_DATA = _der(0x30, cms.ContentType("data").dump())
_ID_SIGNED_DATA = cms.ContentType("signed_data").dump()
_MARKER = secrets.token_bytes(32)  # stands in for the message digest in the template
_TEMPLATE_ATTRS = ["content_type", "message_digest", "signing_certificate_v2"]


class _CachedKeySigner(Signer):  # type: ignore[misc]
    """A pyhanko signer whose key stays unlocked in memory for the whole batch.

    It also packages the CMS SignedData from certificates encoded once: asn1crypto re-encoding
    the embedded chain for every signature was most of the time a signature took.
    """

    def __init__(self, identity: Identity) -> None:
        self._key = identity.key
        certs = [_asn1(c) for c in identity.chain]
        super().__init__(
            signing_cert=_asn1(identity.cert),
            cert_registry=SimpleCertificateStore.from_certs(certs),  # type: ignore[no-untyped-call]
            embed_roots=True,
        )
        self._template: tuple[bytes, bytes, bytes, bytes] | tuple[()] | None = None
        ders = {c.public_bytes(Encoding.DER) for c in (identity.cert, *identity.chain)}
        self._certificates = _der(0xA0, b"".join(sorted(ders)))  # [0] IMPLICIT SET OF

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: Any = None,
        signed_attr_settings: Any = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        """The CMS SignedData, from parts encoded once per signer.

        pyhanko builds the same three signed attributes for every PAdES signature (content
        type, message digest, signing certificate v2); only the digest differs. Encoding them
        and the embedded chain again with asn1crypto was most of a signature's cost, so the
        first signature's encoding becomes a template. Anything unusual goes to pyhanko.
        """
        simple = not dry_run and timestamper is None and encap_content_info is None
        if simple and self._template is None:
            self._template = await self._make_template(
                digest_algorithm, use_pades, signed_attr_settings, is_pdf_sig
            )
        if not simple or not self._template or len(data_digest) != len(_MARKER):
            return await super().async_sign(  # type: ignore[no-any-return]
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        attrs, head, sig_alg, digest_algs = self._template
        attrs = attrs.replace(_MARKER, data_digest)
        signature = await self.async_sign_raw(attrs, digest_algorithm)
        signer_info = _der(0x30, head + b"\xa0" + attrs[1:] + sig_alg + _der(0x04, signature))
        signed_data = _der(
            0x30,
            b"\x02\x01\x01"  # version 1
            + digest_algs
            + _ID_DATA
            + self._certificates
            + _der(0x31, signer_info),
        )
        return cms.ContentInfo.load(_der(0x30, _ID_SIGNED_DATA + _der(0xA0, signed_data)))

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        algorithm = _HASHES[digest_algorithm.lower()]
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(algorithm))
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), algorithm)
        raise SigningError("unsupported key type", "不支援的金鑰類型")

    async def _make_template(
        self, digest_algorithm: str, use_pades: bool, settings: Any, is_pdf_sig: bool
    ) -> tuple[bytes, bytes, bytes, bytes] | tuple[()]:
        attrs = await self.signed_attrs(
            _MARKER,
            digest_algorithm,
            attr_settings=settings,
            use_pades=use_pades,
            timestamper=None,
            dry_run=False,
            content_type="data",
            is_pdf_sig=is_pdf_sig,
        )
        types = [a["type"].native for a in attrs]
        encoded = attrs.dump()
        if types != _TEMPLATE_ATTRS or encoded.count(_MARKER) != 1:
            return ()  # something time- or document-dependent: let pyhanko do it every time
        info = self.signer_info(digest_algorithm, attrs, b"\x00" * 64)
        head = info["version"].dump() + info["sid"].dump() + info["digest_algorithm"].dump()
        digest_algs = _der(0x31, info["digest_algorithm"].dump())
        return encoded, head, info["signature_algorithm"].dump(), digest_algs


class DocumentSealer:
    """Signs rendered PDFs with the authority's document-signing identity."""

    def __init__(self, identity: Identity, *, location: str = "Taiwan") -> None:
        self._signer = _CachedKeySigner(identity)
        self._meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            certify=True,
            docmdp_permissions=fields.MDPPerm.NO_CHANGES,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            location=location,
            reason="Issued by the registrar / 教務處核發",
        )
        # Room for the CMS blob: the embedded chain plus signature and attributes, with margin.
        chain_size = sum(
            len(c.public_bytes(Encoding.DER)) for c in (identity.cert, *identity.chain)
        )
        self._reserved = (chain_size + 4096 + 1) // 2 * 2  # pyhanko needs an even size
        self._pdf_signer = signers.PdfSigner(self._meta, self._signer)

    def seal(self, pdf: bytes) -> bytes:
        """Return the certified PDF; raises SigningError with a plain message on failure."""
        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
            if writer.prev.encrypted:
                # The issuer's own print-locked files open with the empty user password.
                writer.encrypt("")  # type: ignore[no-untyped-call]
            out = self._pdf_signer.sign_pdf(writer, bytes_reserved=self._reserved)
        except SigningError:
            raise
        except Exception as e:
            raise SigningError(f"the PDF could not be signed: {e}", f"PDF 無法簽章：{e}") from e
        result: bytes = out.getvalue()
        return result
