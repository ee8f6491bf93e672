"""A PAdES signature's CMS assembled from parts encoded once, as pyhanko 0.38.0 would build it.

pyhanko builds the same three signed attributes for every PAdES signature with our settings
(content type, message digest, signing certificate v2); only the message digest differs.
Encoding them, and the embedded chain, with asn1crypto again for every document was most of a
signature's cost (12 ms against 2 ms), so the first encoding becomes a template and each
signature's SignedData is put together byte by byte.

Only pyhanko's public API is called (``Signer.signed_attrs``, ``Signer.signer_info``,
``signing_cert``, ``cert_registry``), but the result relies on what pyhanko puts into a CMS,
which no release promises. So this module stands apart: ``tests/authority/test_pyhanko_cms.py``
compares its output with pyhanko's own CMS byte for byte, and fails as soon as a pyhanko other
than :data:`WRITTEN_FOR` is installed. The template refuses itself (``build`` returns None) when
pyhanko's attributes are not the expected ones, and the sealer then lets pyhanko sign.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from asn1crypto import cms
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer

from certseal.errors import SigningError

__all__ = ["WRITTEN_FOR", "CmsTemplate"]

WRITTEN_FOR = "0.38.0"  # the pyhanko release whose CMS this module reproduces

_ID_DATA = cms.ContentType("data").dump()
_ID_SIGNED_DATA = cms.ContentType("signed_data").dump()
_MARKER = secrets.token_bytes(32)  # stands in for the message digest in the template
_TEMPLATE_ATTRS = ["content_type", "message_digest", "signing_certificate_v2"]


def _der(tag: int, content: bytes) -> bytes:
    """One DER TLV: ``tag``, the definite length, ``content``."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


@dataclass(frozen=True)
class CmsTemplate:
    """The encoded parts of one signer's PAdES SignedData; only digest and signature vary."""

    attrs: bytes  # the signed attributes (SET OF), with the marker where the digest goes
    signer_head: bytes  # SignerInfo: version, sid, digestAlgorithm
    signature_algorithm: bytes
    digest_algorithms: bytes  # SignedData: digestAlgorithms (SET OF one)
    certificates: bytes  # SignedData: [0] IMPLICIT SET OF Certificate

    @classmethod
    async def build(
        cls, signer: Signer, digest_algorithm: str, settings: PdfCMSSignedAttributes
    ) -> CmsTemplate | None:
        """The template, or None when pyhanko would sign something this cannot reproduce.

        That is: anything but exactly the three attributes above (a signing time, a
        timestamp, CAdES extras), attribute certificates, or leaving self-signed roots out.
        """
        signing_cert = signer.signing_cert
        if signing_cert is None or not signer.embed_roots or tuple(signer.attribute_certs):
            return None
        attrs = await signer.signed_attrs(
            _MARKER, digest_algorithm, attr_settings=settings, use_pades=True
        )
        encoded = attrs.dump()
        if [a["type"].native for a in attrs] != _TEMPLATE_ATTRS or encoded.count(_MARKER) != 1:
            return None
        info = signer.signer_info(digest_algorithm, attrs, b"\x00" * 64)
        head = info["version"].dump() + info["sid"].dump() + info["digest_algorithm"].dump()
        ders = {signing_cert.dump(), *(c.dump() for c in signer.cert_registry)}
        return cls(
            attrs=encoded,
            signer_head=head,
            signature_algorithm=info["signature_algorithm"].dump(),
            digest_algorithms=_der(0x31, info["digest_algorithm"].dump()),
            certificates=_der(0xA0, b"".join(sorted(ders))),
        )

    def signed_attributes(self, digest: bytes) -> bytes:
        """The DER the signature covers, for the document's message digest.

        Raises:
            SigningError: the digest is not the size of the template's digest algorithm.
        """
        if len(digest) != len(_MARKER):
            raise SigningError(
                f"a message digest of {len(digest)} bytes does not fit the signing template",
                f"{len(digest)} 位元組的訊息摘要與簽章範本不符",
            )
        return self.attrs.replace(_MARKER, digest)

    def content_info(
        self, signed_attributes: bytes, signature: bytes, unsigned_attributes: bytes = b""
    ) -> bytes:
        """The CMS ContentInfo (SignedData, detached) to embed in the PDF, DER-encoded.

        ``unsigned_attributes`` (a DER SET OF Attribute, e.g. the signature timestamp of
        PAdES B-T) go after the signature, as pyhanko places them."""
        # In the SignerInfo the attributes are [0] IMPLICIT rather than a SET, and the
        # unsigned ones [1] IMPLICIT.
        unsigned = b"\xa1" + unsigned_attributes[1:] if unsigned_attributes else b""
        signer_info = _der(
            0x30,
            self.signer_head
            + b"\xa0"
            + signed_attributes[1:]
            + self.signature_algorithm
            + _der(0x04, signature)
            + unsigned,
        )
        signed_data = _der(
            0x30,
            b"\x02\x01\x01"  # version 1
            + self.digest_algorithms
            + _der(0x30, _ID_DATA)  # encapContentInfo: data, detached
            + self.certificates
            + _der(0x31, signer_info),
        )
        return _der(0x30, _ID_SIGNED_DATA + _der(0xA0, signed_data))
