"""The machine-readable twin of a document, read for display beside the verdict.

An archival document carries its achievement as an Open Badges 3.0 credential secured with
VC-JOSE (``credential.jwt``, ``application/vc+jwt``; ``docs/authority.md``). The verifier
finds it, checks the JWS against the key of the certificate that signed the PDF (the header's
``x5c`` must start with that certificate), and shows what it says beside the verdict. It never
decides the verdict: the PDF's signature and the status list do, and they cover the twin's
bytes along with the rest of the file.

Two ways to find it: :func:`read_twin` with pyhanko's reader (a full parse), and
:func:`scan_twin`, a bounded scan of the raw bytes for the one embedded-file stream of the
twin's media type, for files whose exact bytes a status list lists: the authority wrote them,
so the stream is where and as it writes it, and the listed-file fast path stays without a
parse: about 0.3 ms of CPU the first time a file is seen, against 6 ms for pyhanko's reader,
and nothing measurable when it is verified again (its twin is remembered by its hash).
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from asn1crypto import cms
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

from certseal.sigdigest import signature_values

__all__ = ["FILE_NAME", "MEDIA_TYPE", "Twin", "read_twin", "scan_twin"]

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
        """What the document prints, as the twin says it: the holder as named on the page
        (and the student ID where the page shows one), the achievement, the dates; for a
        transcript, the credits earned. Nothing else of the credential."""
        vc = self.credential
        subject = _obj(vc.get("credentialSubject"))
        achievement = _obj(subject.get("achievement"))
        ids = [_obj(i) for i in subject.get("identifier") or [] if isinstance(i, dict)]
        d: dict[str, Any] = {
            "format": "Open Badges 3.0 / W3C VC 2.0, VC-JOSE (application/vc+jwt)",
            "verified": self.verified,
            "issuer": _obj(vc.get("issuer")).get("name"),
            "achievement": achievement.get("name"),
            "achievement_type": achievement.get("achievementType"),
            "achievement_description": achievement.get("description"),
            "field_of_study": achievement.get("fieldOfStudy"),
            "holder": [
                _text(i.get("identityHash")) for i in ids if i.get("identityType") == "name"
            ],
            "completed": subject.get("activityEndDate"),
            "valid_from": vc.get("validFrom"),
        }
        student = [i.get("identityHash") for i in ids if i.get("identityType") == "studentId"]
        if student:
            d["student_id"] = _text(student[0])
        if isinstance(subject.get("creditsEarned"), int | float):
            d["credits_earned"] = subject["creditsEarned"]
        return d

    @cached_property
    def json_text(self) -> str:
        """:meth:`to_dict` in the answer's JSON form (verifier/result.py), once per twin: a
        listed file's twin is remembered by its hash, so this is rendered once per document."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


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
    """The twin of an issued document, read with pyhanko's reader; None when it carries none
    that can be read.

    Call it on documents the verifier has already judged: a file with no twin, a malformed
    one, or one whose chain does not start with the PDF's signer is not shown as verified, and
    never changes the verdict.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        token = _associated_twin(reader)
        if token is None:
            return None
        signatures = reader.embedded_signatures
        signer = signatures[0].signer_cert if signatures else None
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, OSError):
        return None
    return _judge(token, lambda der: signer is not None and der == signer.dump())


# How the authority (fpdf2) writes the twin's stream: its dictionary, then the stream.
_STREAM = re.compile(
    rb"\d+ 0 obj\n<<\n/Filter /FlateDecode\n/Length (\d{1,6})\n(?:[^\n]{0,200}\n){0,4}"
    rb"/Subtype /application#2Fvc\+jwt\n/Type /EmbeddedFile\n>>\nstream\n"
)
_MEDIA_NAME = b"/Subtype /application#2Fvc+jwt\n"


class _Recent:
    """The twins of the last documents scanned, by the SHA-256 of their listed bytes: the
    same listed file verified again costs a dictionary look-up, not a signature check."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._twins: OrderedDict[str, Twin | None] = OrderedDict()

    def get(self, sha256: str) -> Twin | bool | None:
        """The twin (or None, none) seen for ``sha256``; False if not seen lately."""
        with self._lock:
            if sha256 not in self._twins:
                return False
            self._twins.move_to_end(sha256)
            return self._twins[sha256]

    def put(self, sha256: str, twin: Twin | None) -> None:
        with self._lock:
            self._twins[sha256] = twin
            while len(self._twins) > self._size:
                self._twins.popitem(last=False)


_RECENT = _Recent(1024)  # a twin's credential is a few kilobytes


def scan_twin(pdf: bytes, listed_sha256: str | None = None) -> Twin | None:
    """The twin of a file whose exact bytes a status list lists, without parsing the PDF.

    A bounded scan: the one stream of the twin's media type, as the authority writes it, at
    most 64 KB inflated. Anything else (no such stream, two, another layout, bad data) gives
    None: the page then shows no twin, and the verdict is the same.

    Args:
        pdf: the file's bytes.
        listed_sha256: the SHA-256 of the listed bytes it answers as (the file's own, or its
            listed earlier revision's): what was found for it lately is answered again.
    """
    if listed_sha256 is not None:
        seen = _RECENT.get(listed_sha256)
        if seen is not False:
            return seen if isinstance(seen, Twin) else None
    twin = _scan(pdf)
    if listed_sha256 is not None:
        _RECENT.put(listed_sha256, twin)
    return twin


def _scan(pdf: bytes) -> Twin | None:
    at = pdf.find(_MEDIA_NAME)
    if at < 0 or pdf.find(_MEDIA_NAME, at + 1) >= 0:
        return None
    head = _STREAM.search(pdf, max(0, at - 1200), at + 200)
    if head is None:
        return None
    start, length = head.end(), int(head.group(1))
    if length > _MAX_BYTES or pdf[start + length : start + length + 10] != b"\nendstream":
        return None
    inflate = zlib.decompressobj()
    try:
        token = inflate.decompress(pdf[start : start + length], _MAX_BYTES)
    except zlib.error:
        return None
    if not inflate.eof:
        return None
    return _judge(token, lambda der: _signed_by(pdf, der))


_MAX_SIGNATURES = 4  # the signature, its document timestamps: a few


def _signed_by(pdf: bytes, der: bytes) -> bool:
    """Whether the certificate ``der`` signed one of the file's CMS signatures: its issuer and
    serial number, as a signer names its certificate (IssuerAndSerialNumber, DER), are in one
    of the signature values.

    A byte search, not a parse of the CMS: this runs on bytes a status list lists, which the
    authority wrote (and whose signatures the list vouches for), and nothing else in a CMS the
    authority writes encodes that sequence (a certificate orders its serial and issuer the
    other way round; a signing-certificate attribute wraps the issuer as GeneralNames)."""
    wanted = _issuer_and_serial(der)
    if wanted is None:
        return False
    for n, value in enumerate(signature_values(pdf)):
        if n == _MAX_SIGNATURES:
            return False
        if value is not None and wanted in value:
            return True
    return False


@functools.lru_cache(maxsize=64)
def _issuer_and_serial(der: bytes) -> bytes | None:
    """How a CMS signer names the certificate ``der``; a school signs with a few certificates
    in its life, so this is made once for each."""
    try:
        tbs = asn1_x509.Certificate.load(der)["tbs_certificate"]
        sid = cms.IssuerAndSerialNumber(
            {"issuer": tbs["issuer"], "serial_number": tbs["serial_number"]}
        )
        encoded: bytes = sid.dump()
    except (ValueError, TypeError, KeyError):
        return None
    return encoded


def _judge(token: bytes, signed_pdf: Callable[[bytes], bool]) -> Twin | None:
    """Read the JWS; verified when its chain starts with a certificate that signed the PDF
    (``signed_pdf`` of its DER) and its signature holds with that certificate's key."""
    try:
        header_b64 = token.split(b".")[0]
        header = json.loads(base64.urlsafe_b64decode(header_b64 + b"=" * (-len(header_b64) % 4)))
        chain = header.get("x5c") or []
        leaf = x509.load_der_x509_certificate(base64.b64decode(chain[0])) if chain else None
        payload = json.loads(_payload(token))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    verified = False
    if (
        leaf is not None
        and header.get("typ") == "vc+jwt"
        and signed_pdf(leaf.public_bytes(Encoding.DER))
    ):
        try:
            jws.deserialize_compact(token, _public_key(leaf), registry=_registry())
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
