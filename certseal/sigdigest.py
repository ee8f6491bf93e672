"""The signature digest: what ties a kept signature to its status-list entry.

A PDF program that re-saves an issued document (qpdf, pikepdf, pypdf, "Save as") rewrites every
byte around the school's signature but keeps the signature itself: its CMS, and in it the
signed attribute ``messageDigest`` (the SHA-256 of the bytes the school signed). The entry's
``sig`` is the SHA-256 of that attribute's value, so a verifier that has checked the CMS (the
school's key signed those attributes) can find which issued document the signature was made
for, though the file around it is no longer that document (docs/status-list.md).

The authority computes it from the issued file, the verifier from the CMS it validated; both
with :func:`signature_digest`, so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from asn1crypto import cms

__all__ = ["message_digest", "pdf_signature_digest", "signature_digest", "signature_values"]

# The signature value of an issued PDF: the one hex string in /Contents (as the authority
# writes it, and as every PDF writer keeps it).
_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f\s]{2,200000})>")
_MAX_SIGNATURES = 8  # the signature and its document timestamps: a few


def signature_values(pdf: bytes) -> Iterator[bytes | None]:
    """The DER of each signature value (``/Contents`` hex string) in a file's raw bytes, in
    order; None for one that is not hex. Read without a PDF parse, so only for bytes a school
    produced: a file being issued, or one whose hash a school's signed list lists."""
    for found in _CONTENTS.finditer(pdf):
        try:
            yield bytes.fromhex(found[1].decode())  # fromhex skips the whitespace
        except ValueError:
            yield None


def signature_digest(message_digest_value: bytes) -> str:
    """SHA-256 (lower-case hex) of the raw bytes of a messageDigest attribute's value (the
    OCTET STRING's content, not its DER encoding)."""
    return hashlib.sha256(message_digest_value).hexdigest()


def message_digest(signer_info: cms.SignerInfo) -> bytes | None:
    """The value of the signed attribute ``messageDigest``, or None when there is not exactly
    one (a CMS without signed attributes signs the content directly: nothing to tie)."""
    attrs = signer_info["signed_attrs"]
    if not attrs:
        return None
    found = [a for a in attrs if a["type"].native == "message_digest"]
    if len(found) != 1 or len(found[0]["values"]) != 1:
        return None
    value = found[0]["values"][0].native
    return value if isinstance(value, bytes) else None


def pdf_signature_digest(pdf: bytes) -> str | None:
    """The signature digest of an issued PDF's signature, read from its CMS; None when the file
    does not hold exactly one readable signature (document timestamps, whose CMS signs a
    timestamp token rather than the document, are not counted).

    For the authority, on files it signed itself (at issuance, and for documents issued before
    the field existed); a verifier computes it from the CMS it validated instead.
    """
    digests = []
    for n, der in enumerate(signature_values(pdf)):
        if n == _MAX_SIGNATURES or der is None:
            return None
        try:
            data = cms.ContentInfo.load(der)["content"]
            if data["encap_content_info"]["content_type"].native != "data":
                continue  # a document timestamp (long-term validation data)
            value = message_digest(data["signer_infos"][0])
        except (ValueError, TypeError, KeyError, IndexError):
            return None
        if value is None:
            return None
        digests.append(signature_digest(value))
    return digests[0] if len(digests) == 1 else None
