"""PAdES certification signatures on rendered documents, via pyhanko.

Each document gets one certification signature (``ETSI.CAdES.detached``, SHA-256, DocMDP
"no changes allowed") with the chain embedded. The key is unlocked once per process and reused:
pyhanko's stock ``SimpleSigner`` re-parses the key for every signature and signs twice (once
to estimate the size), which dominates a batch's cost.

Signing goes through pyhanko's public interrupted-signing API: pyhanko prepares the document
and its digest (``async_digest_doc_for_signing``), the CMS is assembled from a template
(:mod:`authority._pyhanko`, which is where pyhanko's behaviour is relied on), the raw signature
comes from :meth:`_CachedKeySigner.async_sign_raw` (pyhanko's extension point for it), and
pyhanko writes the CMS into the file (``PdfTBSDocument.async_finish_signing``). Whatever the
template cannot reproduce, pyhanko signs its own way.

Long-term validation (:mod:`authority.ltv`) keeps that path: B-T adds the TSA's token as an
unsigned attribute to the template's CMS; B-LT and B-LTA let pyhanko gather the validation data
before signing and write the DSS (and the document timestamp) after it, as its post-signing
instructions.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko_certvalidator.registry import SimpleCertificateStore

from authority._pyhanko import CmsTemplate
from authority.keys import Identity
from authority.ltv import LtvServices, ServiceError, signature_digest, timestamp_attribute
from certseal.errors import SigningError

FIELD_NAME = "CertsealCertification"
_DIGEST = "sha256"
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def _asn1(cert: Any) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class _CachedKeySigner(Signer):  # type: ignore[misc]
    """A pyhanko signer whose key stays unlocked in memory for the whole batch."""

    def __init__(self, identity: Identity) -> None:
        self._key = identity.key
        certs = [_asn1(c) for c in identity.chain]
        super().__init__(
            signing_cert=_asn1(identity.cert),
            cert_registry=SimpleCertificateStore.from_certs(certs),  # type: ignore[no-untyped-call]
            embed_roots=True,
        )

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """The raw signature of ``data``: pyhanko's extension point for a signer."""
        algorithm = _HASHES[digest_algorithm.lower()]
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(algorithm))
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), algorithm)
        raise SigningError("unsupported key type", "不支援的金鑰類型")


class DocumentSealer:
    """Signs rendered PDFs with the authority's document-signing identity."""

    def __init__(
        self,
        identity: Identity,
        *,
        location: str = "Taiwan",
        profile: str = "B-B",
        services: LtvServices | None = None,
        signer: Signer | None = None,
    ) -> None:
        if profile != "B-B" and services is None:
            raise SigningError(
                f"profile {profile} needs a time-stamping service", f"{profile} 等級需要時戳服務"
            )
        self.profile = profile
        self._signer = signer if signer is not None else _CachedKeySigner(identity)
        self._services = services if profile != "B-B" else None
        ltv = profile in ("B-LT", "B-LTA")
        self._meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            certify=True,
            docmdp_permissions=fields.MDPPerm.NO_CHANGES,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm=_DIGEST,
            location=location,
            reason="Issued by the registrar / 教務處核發",
            embed_validation_info=ltv,
            use_pades_lta=profile == "B-LTA",
            validation_context=services.validation_context if ltv and services else None,
        )
        # Room for the CMS blob: the embedded chain plus signature and attributes, with margin,
        # and the signature's timestamp token (its size measured on the TSA's first answer).
        chain_size = sum(
            len(c.public_bytes(Encoding.DER)) for c in (identity.cert, *identity.chain)
        )
        token = self._services.token_size + 512 if self._services else 0
        self._reserved = (chain_size + 4096 + token + 1) // 2 * 2  # pyhanko needs an even size
        self._pdf_signer = signers.PdfSigner(
            self._meta,
            self._signer,
            timestamper=self._services.timestamper if self._services else None,
        )
        # What pyhanko's own signing asks for; a PAdES signature ignores the signing time.
        self._settings = PdfCMSSignedAttributes(
            cades_signed_attrs=self._meta.cades_signed_attr_spec
        )
        self._template = asyncio.run(CmsTemplate.build(self._signer, _DIGEST, self._settings))

    def seal(self, pdf: bytes) -> bytes:
        """Return the certified PDF; raises SigningError with a plain message on failure."""
        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
            if writer.prev.encrypted:
                # The issuer's own print-locked files open with the empty user password.
                writer.encrypt("")  # type: ignore[no-untyped-call]
            # The coroutine returns the stream, not its bytes: on the main thread asyncio.run
            # formats the finished task's repr, result included, which for 50 KB of bytes
            # costs a third of a millisecond.
            signed = asyncio.run(self._seal(writer))
            return signed.getvalue()
        except SigningError:
            raise
        except Exception as e:
            cause = _service_cause(e)
            if cause is not None:  # pyhanko wrapped the TSA's failure in its own error
                raise cause from None
            if self._meta.embed_validation_info:
                # Gathering the validation data is the only outside call of this path.
                raise ServiceError(
                    f"the validation data (OCSP, CRL) for the {self.profile} signature could "
                    f"not be gathered: {e}",
                    f"無法取得 {self.profile} 簽章所需的驗證資料（OCSP、CRL）：{e}",
                ) from None
            raise SigningError(f"the PDF could not be signed: {e}", f"PDF 無法簽章：{e}") from e

    async def _seal(self, writer: IncrementalPdfFileWriter) -> io.BytesIO:
        prepared, tbs, output = await self._pdf_signer.async_digest_doc_for_signing(
            writer, bytes_reserved=self._reserved
        )
        if self._template is None or self._signer.unsigned_attr_prov_spec is not None:
            # Something the template cannot reproduce (pyhanko adds unsigned attributes, such
            # as a PDF MAC, through the signer): pyhanko builds the CMS itself.
            after = await tbs.perform_signature(prepared.document_digest, self._settings)
            await after.post_signature_processing(output)
        else:
            attrs = self._template.signed_attributes(prepared.document_digest)
            signature = await self._signer.async_sign_raw(attrs, _DIGEST)
            unsigned = b""
            if self._services is not None:
                token = await self._services.timestamper.async_timestamp(
                    signature_digest(signature), _DIGEST
                )
                unsigned = timestamp_attribute(token)
            content_info = self._template.content_info(attrs, signature, unsigned)
            await PdfTBSDocument.async_finish_signing(
                output,
                prepared,
                content_info,
                post_sign_instr=tbs.post_sign_instructions,
                validation_context=self._meta.validation_context,
            )
        assert isinstance(output, io.BytesIO)  # pyhanko's own, as no output stream was given
        return output


def _service_cause(e: BaseException) -> ServiceError | None:
    """The :class:`ServiceError` somewhere in ``e``'s chain of causes, if any."""
    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:
        if isinstance(current, ServiceError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
