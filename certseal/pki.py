"""Keys and certificates as the whole project handles them (no private key ever leaves here
unencrypted except in memory).

Signatures over published data are ECDSA P-256 with SHA-256 in the raw ``r || s`` form (64 bytes)
that browsers' Web Crypto verifies directly; keys are named by the SHA-256 of their
SubjectPublicKeyInfo, so anyone can compute the key id from the published certificate.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from certseal.errors import DeserializationError, SignatureVerificationError


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """PEM (one or more) or a single DER certificate."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise DeserializationError(f"not a certificate: {e}", f"不是憑證：{e}") from e


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex, as browsers show it."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def spki_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    return hashlib.sha256(spki_der(public_key)).hexdigest()


def ec_public_key(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise DeserializationError(
            "the status-list certificate must hold an ECDSA P-256 key",
            "狀態清單憑證須為 ECDSA P-256 金鑰",
        )
    return key


def sign_raw(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    """ECDSA P-256/SHA-256 signature, raw r||s, base64."""
    der = private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


def verify_raw(public_key: ec.EllipticCurvePublicKey, data: bytes, signature_b64: str) -> None:
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except (ValueError, TypeError) as e:
        raise SignatureVerificationError("the signature is not base64", "簽章不是 base64") from e
    if len(raw) != 64:
        raise SignatureVerificationError("the signature has the wrong length", "簽章長度錯誤")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureVerificationError(
            "the signature does not match the published key", "簽章與公布的金鑰不符"
        ) from None


@dataclass(frozen=True)
class TrustStore:
    """Roots the verifier trusts for document signatures, and the pinned status-list keys."""

    roots: tuple[x509.Certificate, ...]
    status_keys: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem(cls, roots: Iterable[bytes], status_keys: Iterable[bytes]) -> TrustStore:
        return cls(
            tuple(c for blob in roots for c in load_certificates(blob)),
            tuple(c for blob in status_keys for c in load_certificates(blob)),
        )

    def status_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        return keys_by_id(self.status_keys).get(kid)


def keys_by_id(certs: Iterable[x509.Certificate]) -> dict[str, ec.EllipticCurvePublicKey]:
    """The status-list keys of these certificates, by key id, for ``open_envelope``."""
    return {key_id(k): k for k in (ec_public_key(c) for c in certs)}
