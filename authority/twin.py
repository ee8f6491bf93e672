"""The machine-readable twin: a document's achievement as a verifiable credential, in the PDF.

An archival document (one that is not print-locked) carries, as a PDF/A-3 associated file, the
same achievement as a W3C Verifiable Credential (Data Model 2.0) of the Open Badges 3.0 kind
(``OpenBadgeCredential``), so a wallet or an admissions system reads the degree without parsing
the page. It is secured as VC-JOSE (W3C "Securing Verifiable Credentials using JOSE and COSE"):
a compact JWS, media type ``application/vc+jwt``, whose payload is the credential itself, with
the JWT claims Open Badges 3.0 asks of its VC-JWT proof (``iss``, ``jti``, ``nbf``). It is
signed with the school's document-signing key (ES256 for its P-256 key; RS256 for an imported
RSA key), and its header carries the certificate chain (``x5c``): it verifies on its own against
the school's published root, and, being inside the PDF, it is covered by the PDF's signature.

The JWS is made by joserfc, a maintained, typed implementation of the JOSE RFCs on top of
``cryptography`` (see ``docs/authority.md`` for the choice). The credential says nothing the
document itself does not print: the holder's names and student ID only where the document
shows them, the degree, department, college, date of graduation; for a transcript, the credits
earned.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

from authority.content import DocumentContent
from authority.keys import Identity
from authority.render import Attachment
from authority.render.wording import iso_date, printed_fields, totals
from certseal.errors import SigningError

__all__ = ["FILE_NAME", "MEDIA_TYPE", "TwinSigner", "credential"]

FILE_NAME = "credential.jwt"
MEDIA_TYPE = "application/vc+jwt"
CONTEXTS = (
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
)
_ACHIEVEMENT_TYPES = {
    "bachelor": "BachelorDegree",
    "master": "MasterDegree",
    "doctoral": "DoctoralDegree",
}
_TAIPEI = dt.timezone(dt.timedelta(hours=8))
# The names a document prints, and how Open Badges calls them (IdentityObject.identityType).
_IDENTITIES = (("name_zh", "name"), ("name_en", "name"), ("student_id", "studentId"))


def _urn(*parts: str) -> str:
    """A stable URN for the same thing issued again: a UUID from its names (RFC 9562, v5)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join(parts))}"


def _issued_at(content: DocumentContent) -> dt.datetime:
    # Noon in Taipei on the day of issue, as the PDF's creation date.
    return dt.datetime.combine(content.issued_on, dt.time(12), _TAIPEI)


def credential(content: DocumentContent) -> dict[str, Any]:
    """The Open Badges 3.0 credential of the document's achievement (unsigned)."""
    g, school = content.graduate, content.school
    printed = dict(printed_fields(content))
    issuer = {
        "id": school.verify_url,
        "type": ["Profile"],
        "name": school.name_en,
        "description": school.name_zh,
        "url": school.verify_url,
    }
    achievement = {
        "id": _urn(school.verify_url, "achievement", g.level, g.degree_en, g.department_en),
        "type": ["Achievement"],
        "achievementType": _ACHIEVEMENT_TYPES[g.level],
        "name": g.degree_en,
        "description": f"{g.degree_zh} {g.degree_en}: {g.department_zh} {g.department_en}, "
        f"{g.college_zh} {g.college_en}",
        "criteria": {
            "narrative": "Completed the prescribed program of study and fulfilled all the "
            "requirements for the degree."
        },
        "fieldOfStudy": g.department_en,
        "creator": issuer,
    }
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityType": kind,
                "hashed": False,
                "identityHash": printed[field],
            }
            for field, kind in _IDENTITIES
            if field in printed
        ],
        "achievement": achievement,
        "activityEndDate": dt.datetime.combine(
            iso_date(g.graduation_date), dt.time(0), _TAIPEI
        ).isoformat(),
    }
    if content.doc_type.code == "transcript":
        earned = totals(content.courses, g.level, school.transcript).earned
        subject["creditsEarned"] = float(earned)
    number = content.document_number
    return {
        "@context": list(CONTEXTS),
        "id": _urn(school.verify_url, "document", number),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{content.doc_type.name_en} {number}",
        "description": f"{content.doc_type.name_zh} {number}: the machine-readable twin of the "
        "signed PDF document that carries it.",
        "issuer": issuer,
        "validFrom": _issued_at(content).isoformat(),
        "credentialSubject": subject,
    }


class TwinSigner:
    """Signs twins with the school's document-signing key; one per process, like the sealer.

    Raises:
        SigningError: the key is neither EC P-256 nor RSA.
    """

    def __init__(self, identity: Identity) -> None:
        key = identity.key
        self._key: ECKey | RSAKey
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            # Described by its public half: joserfc would otherwise read the private number
            # out of the key, which a key on an HSM (authority.hsm) never gives.
            public = ECKey.import_key(key.public_key()).as_dict()
            self._alg, self._key = "ES256", ECKey(key, public)
        elif isinstance(key, rsa.RSAPrivateKey):
            self._alg, self._key = "RS256", RSAKey.import_key(key)  # type: ignore[arg-type]
        else:
            raise SigningError(
                "the document-signing key must be EC P-256 or RSA to sign the credential",
                "文件簽章金鑰須為 EC P-256 或 RSA，才能簽署機器可讀憑證",
            )
        chain = [identity.cert, *identity.chain]
        self._x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in chain]

    def sign(self, content: DocumentContent) -> bytes:
        """The credential as a compact JWS (``application/vc+jwt``)."""
        vc = credential(content)
        claims = {
            **vc,
            "iss": vc["issuer"]["id"],
            "jti": vc["id"],
            "nbf": int(_issued_at(content).timestamp()),
        }
        header = {"alg": self._alg, "typ": "vc+jwt", "cty": "vc", "x5c": self._x5c}
        payload = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode()
        token = jws.serialize_compact(header, payload, self._key, algorithms=[self._alg])
        return token.encode("ascii")

    def attachment(self, content: DocumentContent) -> Attachment:
        """The twin, ready to embed in the document's PDF."""
        return Attachment(
            FILE_NAME,
            self.sign(content),
            MEDIA_TYPE,
            "Machine-readable twin: Open Badges 3.0 credential (VC-JOSE, signed by the school)",
        )
