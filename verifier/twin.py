"""The machine-readable twin of a document, read for display beside the verdict.

An archival document carries its achievement as an Open Badges 3.0 credential secured with
VC-JOSE (``credential.jwt``, ``application/vc+jwt``; ``docs/authority.md``). The verifier reads
it with pyhanko's reader from the catalog's associated files, checks the JWS against the key of
the certificate that signed the PDF (the header's ``x5c`` must start with that certificate),
and shows what it says. It never decides the verdict: the PDF's signature and the status list
do, and they cover the twin's bytes along with the rest of the file.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["FILE_NAME", "MEDIA_TYPE", "Twin", "read_twin"]

FILE_NAME = "credential.jwt"
MEDIA_TYPE = "application/vc+jwt"
_MAX_BYTES = 64_000  # an issued twin is about 5 KB
_ALGORITHMS = ("ES256", "RS256")


@dataclass(frozen=True)
class Twin:
    """What the twin says, and whether its own signature holds with the PDF signer's key."""

    verified: bool
    credential: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The fields a person or a program reads first, then the whole credential."""
        vc = self.credential
        subject = vc.get("credentialSubject") or {}
        achievement = subject.get("achievement") or {}
        return {
            "format": "Open Badges 3.0 / W3C VC 2.0, VC-JOSE (application/vc+jwt)",
            "verified": self.verified,
            "issuer": (vc.get("issuer") or {}).get("name"),
            "achievement": achievement.get("name"),
            "achievement_type": achievement.get("achievementType"),
            "field_of_study": achievement.get("fieldOfStudy"),
            "holder": [i.get("identityHash") for i in subject.get("identifier") or []],
            "completed": subject.get("activityEndDate"),
            "valid_from": vc.get("validFrom"),
            "credential": vc,
        }


def _registry() -> JWSRegistry:
    registry = JWSRegistry(algorithms=list(_ALGORITHMS))
    registry.max_header_length = 8192  # the header carries the certificate chain (x5c)
    return registry


def _associated_twin(reader: PdfFileReader) -> bytes | None:
    files = reader.root.get("/AF")
    if not isinstance(files, generic.ArrayObject):
        return None
    for ref in files:
        spec = ref.get_object()
        if not isinstance(spec, generic.DictionaryObject) or spec.get("/UF") != FILE_NAME:
            continue
        stream = spec["/EF"]["/F"].get_object()
        if isinstance(stream, generic.StreamObject) and stream.get("/Subtype") == "/" + MEDIA_TYPE:
            data: bytes = stream.data
            return data if len(data) <= _MAX_BYTES else None
    return None


def read_twin(pdf: bytes) -> Twin | None:
    """The twin of an issued document, or None when it carries none that can be read.

    Call it on documents the verifier has already judged (listed bytes): a file with no twin,
    a malformed one, or one whose chain does not start with the PDF's signer is not shown as
    verified, and never changes the verdict.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        token = _associated_twin(reader)
        if token is None:
            return None
        signatures = reader.embedded_signatures
        signer = signatures[0].signer_cert if signatures else None
        header_b64 = token.split(b".")[0]
        header = json.loads(base64.urlsafe_b64decode(header_b64 + b"=" * (-len(header_b64) % 4)))
        chain = header.get("x5c") or []
        leaf = x509.load_der_x509_certificate(base64.b64decode(chain[0])) if chain else None
        payload = json.loads(_payload(token))
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, OSError):
        return None
    verified = False
    if leaf is not None and signer is not None and header.get("typ") == "vc+jwt":
        same = asn1_x509.Certificate.load(leaf.public_bytes(Encoding.DER)).dump() == signer.dump()
        if same:
            key = _public_key(leaf)
            try:
                jws.deserialize_compact(token, key, registry=_registry())
                verified = True
            except (JoseError, ValueError):
                verified = False
    return Twin(verified, payload if isinstance(payload, dict) else {})


def _payload(token: bytes) -> bytes:
    part = token.split(b".")[1]
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def _public_key(cert: x509.Certificate) -> ECKey | RSAKey:
    public = cert.public_key()
    if hasattr(public, "curve"):
        return ECKey.import_key(public)  # type: ignore[arg-type]
    return RSAKey.import_key(public)  # type: ignore[arg-type]
