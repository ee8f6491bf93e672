"""Long-term validation: RFC 3161 timestamps, validation data in the DSS, document timestamps.

A diploma is checked for fifty years; the certificate that signed it lives ten. What keeps it
verifiable is evidence gathered while everything is still valid: a timestamp from a trusted
time-stamping authority (TSA) proving the signature existed then (PAdES B-T), the certificates
and revocation data that showed the signer's certificate good at that time (B-LT, in the
document security store), and a document timestamp over all of it (B-LTA), renewed before the
TSA's own certificate expires (``certseal authority extend-timestamps``).

Every answer from the TSA is checked here before it goes into a document: the nonce (pyhanko),
the message imprint, the token's signature and that the TSA's certificate chains to a configured
root. Anything wrong stops the batch with :class:`ServiceError`, which names the service:
a document carrying a timestamp nobody trusts would be issued as if it were fine.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import cms, crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.api import CRLFetcher, FetcherBackend, Fetchers
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from authority.keys import Identity, read_crl
from certseal.errors import ConfigurationError, InputError, SigningError
from certseal.pki import load_certificates

PROFILES = ("B-B", "B-T", "B-LT", "B-LTA")
"""PAdES baseline levels: B-B (signature only), B-T (+ an RFC 3161 timestamp on the
signature), B-LT (+ the validation data, certificates, CRLs and OCSP responses, in the DSS),
B-LTA (+ a document timestamp over all of it, which ``extend-timestamps`` renews)."""

SIGNING_FILE = "signing.json"


@dataclass(frozen=True)
class SigningSettings:
    """How documents are signed: the PAdES level per document type and the services behind it.

    Kept in the home's ``signing.json`` (absent: every document B-B, as before). The TSA's
    certificate must chain to one of the roots in ``tsa_trust`` (a PEM file, relative to the
    home): a timestamp from any other TSA stops the batch.
    """

    profiles: Mapping[str, str]  # document type code -> profile
    default_profile: str = "B-B"
    tsa_url: str | None = None
    tsa_trust: str = "keys/tsa-roots.pem"
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        for code, profile in {**self.profiles, "default": self.default_profile}.items():
            if profile not in PROFILES:
                raise ConfigurationError(
                    f"signing profile '{profile}' for {code} is not one of {', '.join(PROFILES)}",
                    f"{code} 的簽章等級「{profile}」須為 {'、'.join(PROFILES)} 之一",
                )
        needs_tsa = any(p != "B-B" for p in (*self.profiles.values(), self.default_profile))
        if needs_tsa and not self.tsa_url:
            raise ConfigurationError(
                "profiles B-T, B-LT and B-LTA need a time-stamping service: set tsa_url",
                "B-T、B-LT、B-LTA 等級需要時戳服務：請設定 tsa_url",
            )
        if self.tsa_url is not None and not self.tsa_url.startswith(("https://", "http://")):
            raise ConfigurationError(
                "the time-stamping service address must start with https:// or http://",
                "時戳服務網址須以 https:// 或 http:// 開頭",
            )
        if not 0 < self.timeout_seconds <= 120:
            raise ConfigurationError(
                "timeout_seconds must be more than 0 and at most 120",
                "timeout_seconds 須大於 0 且不超過 120",
            )

    def profile(self, doc_type: str) -> str:
        return self.profiles.get(doc_type, self.default_profile)

    @property
    def uses_tsa(self) -> bool:
        return any(p != "B-B" for p in (*self.profiles.values(), self.default_profile))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SigningSettings:
        try:
            profiles = data.get("profiles", {})
            if not isinstance(profiles, Mapping):
                raise TypeError("profiles")
            timeout = data.get("timeout_seconds", 10.0)
            if isinstance(timeout, bool) or not isinstance(timeout, int | float):
                raise TypeError("timeout_seconds")
            return cls(
                profiles={str(k): str(v) for k, v in profiles.items()},
                default_profile=str(data.get("default_profile", "B-B")),
                tsa_url=None if data.get("tsa_url") is None else str(data["tsa_url"]),
                tsa_trust=str(data.get("tsa_trust", "keys/tsa-roots.pem")),
                timeout_seconds=float(timeout),
            )
        except TypeError as e:
            raise ConfigurationError(
                f"{SIGNING_FILE}: '{e.args[0]}' has the wrong type",
                f"{SIGNING_FILE}：「{e.args[0]}」的型別不正確",
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "profiles": dict(self.profiles),
            "default_profile": self.default_profile,
            "tsa_url": self.tsa_url,
            "tsa_trust": self.tsa_trust,
            "timeout_seconds": self.timeout_seconds,
        }


__all__ = [
    "PROFILES",
    "CheckedTimeStamper",
    "Extension",
    "LtvServices",
    "ServiceError",
    "SigningSettings",
    "extend_timestamp",
    "extension_services",
    "extensions",
    "load_signing_settings",
    "newest_timestamp_expiry",
    "record_extension",
    "timestamp_attribute",
]


class ServiceError(SigningError):
    """An outside service (TSA, OCSP, CRL) failed: the batch stops, nothing of it is kept.

    Unlike a document that cannot be made (bad record, font), every later document would fail
    the same way, and a re-run once the service is back completes the batch."""

    code = "service"
    exit_code = 5


class TimestampServiceError(ServiceError):
    """The TSA is down, slow, or answered something other than a good timestamp."""


class UntrustedTimestampError(TimestampServiceError):
    """The TSA answered with a token whose certificate chains to no configured TSA root."""


class ValidationDataError(ServiceError):
    """The revocation data (OCSP, CRL) for a certificate could not be gathered."""


def load_signing_settings(home: Path) -> SigningSettings:
    """The home's ``signing.json``; without one every document is signed B-B, as before."""
    path = home / SIGNING_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return SigningSettings(profiles={})
    except (OSError, ValueError) as e:
        raise ConfigurationError(
            f"{path} could not be read: {e}", f"無法讀取 {path}：{e}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must hold a JSON object", f"{path} 須為 JSON 物件")
    return SigningSettings.from_dict(data)


def _asn1(cert: Any) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class CheckedTimeStamper(RequestsHTTPTimeStamper):  # type: ignore[misc]
    """pyhanko's HTTP timestamp client, with every token checked before it is used."""

    def __init__(self, url: str, roots: list[asn1_x509.Certificate], timeout: float) -> None:
        super().__init__(url, timeout=timeout)  # type: ignore[no-untyped-call]
        self.service = url
        self._roots = roots

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        """A token for ``message_digest``; raises :class:`TimestampServiceError` otherwise."""
        try:
            token = await super().async_timestamp(message_digest, md_algorithm)
            signed_data = token["content"]
        except (TimestampRequestError, OSError) as e:
            raise TimestampServiceError(
                f"the time-stamping service at {self.service} did not give a timestamp: {e}",
                f"時戳服務 {self.service} 未提供時戳：{e}",
            ) from None
        except Exception as e:  # a garbled answer: asn1crypto fails while reading it
            raise TimestampServiceError(
                f"the time-stamping service at {self.service} answered something that is not "
                f"a timestamp ({type(e).__name__})",
                f"時戳服務 {self.service} 的回應不是時戳（{type(e).__name__}）",
            ) from None
        # The token is checked against the TSA roots only, at the time it claims.
        vc = ValidationContext(trust_roots=self._roots, allow_fetching=False)
        try:
            status = await validate_tst_signed_data(
                signed_data,
                vc,
                lambda alg: message_digest if alg == md_algorithm else b"",
            )
        except Exception as e:
            raise TimestampServiceError(
                f"the timestamp from {self.service} could not be checked: {e}",
                f"無法檢查 {self.service} 的時戳：{e}",
            ) from None
        if not (status.get("intact") and status.get("valid")):
            raise TimestampServiceError(
                f"the time-stamping service at {self.service} answered with a timestamp for "
                "other data or with a broken signature",
                f"時戳服務 {self.service} 回傳的時戳不屬於本文件或簽章無效",
            )
        path = status.get("validation_path")
        if path is None or status.get("trust_problem_indic") is not None:
            raise UntrustedTimestampError(
                f"the time-stamping service at {self.service} signs with a certificate that "
                f"is not from a trusted TSA (not one of the roots in {SIGNING_FILE})",
                f"時戳服務 {self.service} 的憑證不屬於受信任的時戳機構",
            )
        return token


def timestamp_attribute(token: cms.ContentInfo) -> bytes:
    """The unsigned attribute (signature-time-stamp-token) carrying ``token``, DER."""
    attrs = cms.CMSAttributes(
        [cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})]
    )
    return bytes(attrs.dump())


@dataclass
class LtvServices:
    """The TSA client and the validation context one signing process uses for a batch."""

    timestamper: CheckedTimeStamper
    validation_context: ValidationContext
    token_size: int  # the DER size of one timestamp token, for the space reserved in the PDF

    @classmethod
    def build(cls, home: Path, settings: SigningSettings, identity: Identity) -> LtvServices | None:
        """The services, or None when no profile needs them. Asks the TSA once, so a service
        that is down or untrusted stops the batch before the first document."""
        if not settings.uses_tsa or settings.tsa_url is None:
            return None
        return cls.for_chain(home, settings, identity.chain)

    @classmethod
    def for_chain(
        cls, home: Path, settings: SigningSettings, chain: tuple[Any, ...]
    ) -> LtvServices:
        """The services from public material only (the signing certificate's chain): what
        extending a timestamp needs, with no private key unlocked."""
        if settings.tsa_url is None:
            raise ConfigurationError(
                f"no time-stamping service is configured: set tsa_url in {SIGNING_FILE}",
                f"未設定時戳服務：請於 {SIGNING_FILE} 設定 tsa_url",
            )
        tsa_roots = _tsa_roots(home / settings.tsa_trust)
        identity_chain = chain
        own_roots = [_asn1(c) for c in identity_chain if c.issuer == c.subject]
        timestamper = CheckedTimeStamper(settings.tsa_url, tsa_roots, settings.timeout_seconds)
        own_crl = read_crl(home / "keys")
        backend = OwnCrlBackend(
            RequestsFetcherBackend(per_request_timeout=settings.timeout_seconds),
            [] if own_crl is None else [crl.CertificateList.load(own_crl)],
        )
        vc = ValidationContext(
            trust_roots=[*own_roots, *tsa_roots],
            other_certs=[_asn1(c) for c in identity_chain],
            allow_fetching=True,
            fetcher_backend=backend,
        )
        probe = asyncio.run(timestamper.async_dummy_response("sha256"))
        return cls(timestamper, vc, len(probe.dump()))


class _OwnCrlFetcher(CRLFetcher):
    """CRLs for certificates our own root issued come from the home, never from the network:
    the authority is offline, and what it would fetch is the file it publishes itself."""

    def __init__(self, outside: CRLFetcher, own: list[crl.CertificateList]) -> None:
        self._outside = outside
        self._own = {c["tbs_cert_list"]["issuer"].dump(): c for c in own}
        self._served: dict[bytes, list[crl.CertificateList]] = {}

    def _mine(self, cert: Any) -> list[crl.CertificateList] | None:
        found = self._own.get(cert.issuer.dump()) if hasattr(cert, "issuer") else None
        return None if found is None else [found]

    async def fetch(self, cert: Any, *, use_deltas: Any = None) -> list[crl.CertificateList]:
        mine = self._mine(cert)
        if mine is not None:
            self._served[cert.dump()] = mine
            return mine
        return list(await self._outside.fetch(cert, use_deltas=use_deltas))

    def fetched_crls(self) -> list[crl.CertificateList]:
        served = [c for crls in self._served.values() for c in crls]
        return [*self._outside.fetched_crls(), *served]

    def fetched_crls_for_cert(self, cert: Any) -> list[crl.CertificateList]:
        mine = self._served.get(cert.dump())
        if mine is not None:
            return mine
        return list(self._outside.fetched_crls_for_cert(cert))


class OwnCrlBackend(FetcherBackend):  # type: ignore[misc]
    """pyhanko's fetchers, with :class:`_OwnCrlFetcher` in front of the CRL one."""

    def __init__(self, outside: FetcherBackend, own: list[crl.CertificateList]) -> None:
        self._outside = outside
        self._own = own

    def get_fetchers(self) -> Fetchers:
        f = self._outside.get_fetchers()
        return Fetchers(
            ocsp_fetcher=f.ocsp_fetcher,
            crl_fetcher=_OwnCrlFetcher(f.crl_fetcher, self._own),
            cert_fetcher=f.cert_fetcher,
        )

    async def close(self) -> None:
        await self._outside.close()  # type: ignore[no-untyped-call]


def extension_services(home: Path) -> LtvServices:
    """The services ``extend-timestamps`` uses: the home's TSA settings and the public chain of
    the signing certificate; no key is unlocked."""
    try:
        chain = tuple(load_certificates((home / "keys" / "signing.chain.pem").read_bytes()))
    except FileNotFoundError:
        raise ConfigurationError(
            f"no authority in {home}: run 'certseal authority init' first",
            f"{home} 沒有簽發單位：請先執行 certseal authority init",
        ) from None
    return LtvServices.for_chain(home, load_signing_settings(home), chain)


def _tsa_roots(path: Path) -> list[asn1_x509.Certificate]:
    try:
        certs = load_certificates(path.read_bytes())
    except FileNotFoundError:
        raise ConfigurationError(
            f"the TSA's trusted roots are missing ({path}): put the TSA's root certificate there",
            f"缺少時戳機構的信任根憑證（{path}）",
        ) from None
    if not certs:
        raise ConfigurationError(f"{path} holds no certificate", f"{path} 沒有憑證")
    return [_asn1(c) for c in certs]


def extend_timestamp(pdf: bytes, services: LtvServices) -> bytes:
    """Add validation data for the newest document timestamp, then a new document timestamp
    over everything (ETSI EN 319 142-1, 5.5): the archival chain of a B-LTA document.

    Only incremental updates are appended: the certification signature, and the bytes it
    covers, stay exactly as issued.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    except Exception as e:
        raise InputError(f"not a readable PDF: {e}", f"無法讀取的 PDF：{e}") from None
    if not reader.embedded_signatures:
        raise InputError("the file carries no signature", "檔案沒有簽章")
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
    if writer.prev.encrypted:
        writer.encrypt("")  # type: ignore[no-untyped-call]
    stamper = signers.PdfTimeStamper(services.timestamper)
    out = io.BytesIO()
    try:
        asyncio.run(
            stamper.async_update_archival_timestamp_chain(
                reader, services.validation_context, in_place=False, output=out
            )
        )
    except ServiceError:
        raise
    except Exception as e:
        raise ValidationDataError(
            f"the archival timestamp could not be extended: {e}",
            f"無法延展典藏時戳：{e}",
        ) from None
    return bytes(out.getvalue())


def signature_digest(signature: bytes) -> bytes:
    """What the signature timestamp covers: the SHA-256 of the signature value (RFC 3161 in
    CMS, RFC 5816; PAdES B-T)."""
    return hashlib.sha256(signature).digest()


def newest_timestamp_expiry(pdf: bytes) -> Any | None:
    """When the certificate of the document's newest document timestamp expires (a datetime),
    or None for a document without one (not B-LTA: nothing to extend)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    stamps = [s for s in reader.embedded_signatures if s.sig_object.get("/Type") == "/DocTimeStamp"]
    if not stamps:
        return None
    return stamps[-1].signer_cert["tbs_certificate"]["validity"]["not_after"].native


# -- the record of extended copies ------------------------------------------------------------
# The registry's append-only ``extensions`` table: an extended copy is a new file; the issued
# file, its hash and its status-list entry never change.


@dataclass(frozen=True)
class Extension:
    """One extended copy of an issued document: its file and what it was made from."""

    doc_id: str
    path: str
    sha256: str
    size: int
    source_sha256: str
    timestamp_expires: str
    at: str
    actor: str


def extensions(conn: Any, doc_id: str | None = None) -> list[Extension]:
    """The extended copies recorded, oldest first (all, or of one document)."""
    sql = (
        "SELECT doc_id, path, sha256, size, source_sha256, timestamp_expires, at, actor "
        "FROM extensions"
    )
    rows = (
        conn.execute(sql + " ORDER BY seq").fetchall()
        if doc_id is None
        else conn.execute(sql + " WHERE doc_id = ? ORDER BY seq", (doc_id,)).fetchall()
    )
    return [Extension(*tuple(r)) for r in rows]


def record_extension(conn: Any, ext: Extension) -> None:
    with conn:
        conn.execute(
            "INSERT INTO extensions (doc_id, path, sha256, size, source_sha256, "
            "timestamp_expires, at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ext.doc_id,
                ext.path,
                ext.sha256,
                ext.size,
                ext.source_sha256,
                ext.timestamp_expires,
                ext.at,
                ext.actor,
            ),
        )
