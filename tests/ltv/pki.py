"""The tests' outside PKI: a CA that issues the school's document-signing certificate, with a
real TSA, OCSP responder and CRL server on 127.0.0.1 (certomancer's Animator under werkzeug).

Keys are generated per session into a temporary folder (clearly test-only); the configuration is
written out as certomancer's YAML. Two TSAs: ``tsa``, chaining to the trusted root, and
``rogue-tsa``, whose certificate chains to a root nobody configured (the "wrong certificate").
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

ARCH = "ltv"
KEYS = ("root", "interm", "signer", "ocsp", "tsa", "rogue-root", "rogue-tsa")
FROM = "2020-01-01T00:00:00+0000"
FAR = "2200-01-01T00:00:00+0000"  # the CAs and TSA outlive every test's clock


def _cert(
    issuer: str,
    *,
    valid_to: str = FAR,
    extensions: list[dict[str, Any]] | None = None,
    profiles: list[Any] | None = None,
    revocation: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "issuer": issuer,
        "validity": {"valid-from": FROM, "valid-to": valid_to},
        "extensions": extensions or [],
    }
    if profiles:
        spec["profiles"] = profiles
    if revocation:
        spec["revocation"] = revocation
    return spec


_KU_SIGN = {
    "id": "key_usage",
    "critical": True,
    "smart-value": {"schema": "key-usage", "params": ["digital_signature", "non_repudiation"]},
}


def config(
    key_dir: Path, url: str, signer_valid_to: str, signer_revoked: str | None = None
) -> dict[str, Any]:
    """certomancer's configuration: root → issuing CA → the school's signing certificate,
    revoked (for key compromise) from ``signer_revoked`` when given: its CRL and OCSP say so
    to anyone asking as of a later time."""
    tsa_exts = [
        {
            "id": "key_usage",
            "critical": True,
            "smart-value": {"schema": "key-usage", "params": ["digital_signature"]},
        },
        {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
    ]
    revocation_pointers = [
        {
            "id": "crl_distribution_points",
            "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["interm"]}},
        },
        {
            "id": "authority_information_access",
            "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": ["interm"]}},
        },
    ]
    root_crl = [
        {
            "id": "crl_distribution_points",
            "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}},
        },
    ]
    return {
        "external-url-prefix": url,
        "keysets": {
            ARCH: {
                "path-prefix": str(key_dir),
                "keys": {k: {"path": f"{k}.key.pem"} for k in KEYS},
            }
        },
        "pki-architectures": {
            ARCH: {
                "keyset": ARCH,
                "entity-defaults": {"country-name": "TW", "organization-name": "Test Public CA"},
                "entities": {
                    "root": {"common-name": "Test Root CA"},
                    "interm": {"common-name": "Test Issuing CA"},
                    "signer": {
                        "organization-name": "National Demonstration University",
                        "common-name": "DEMO Document Signing",
                    },
                    "ocsp": {"common-name": "Test OCSP Responder"},
                    "tsa": {"common-name": "Test Time Stamping Authority"},
                    "rogue-root": {"organization-name": "Nobody", "common-name": "Rogue Root"},
                    "rogue-tsa": {"organization-name": "Nobody", "common-name": "Rogue TSA"},
                },
                "certs": {
                    "root": _cert("root", profiles=["simple-ca"]),
                    "interm": _cert("root", profiles=["simple-ca"], extensions=root_crl),
                    "signer": _cert(
                        "interm",
                        valid_to=signer_valid_to,
                        extensions=[_KU_SIGN, *revocation_pointers],
                        revocation=None
                        if signer_revoked is None
                        else {"revoked-since": signer_revoked, "reason": "key_compromise"},
                    ),
                    "ocsp": _cert("interm", profiles=["ocsp-responder"]),
                    "tsa": _cert("root", extensions=[*tsa_exts, *root_crl]),
                    "rogue-root": _cert("rogue-root", profiles=["simple-ca"]),
                    "rogue-tsa": _cert("rogue-root", extensions=tsa_exts),
                },
                "services": {
                    "ocsp": {
                        "interm": {
                            "for-issuer": "interm",
                            "responder-cert": "ocsp",
                            "signing-key": "ocsp",
                        }
                    },
                    "crl-repo": {
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": "P90D",
                        },
                        "interm": {
                            "for-issuer": "interm",
                            "signing-key": "interm",
                            "simulated-update-schedule": "P30D",
                        },
                    },
                    "time-stamping": {
                        "tsa": {"signing-key": "tsa", "signing-cert": "tsa"},
                        "rogue": {"signing-key": "rogue-tsa", "signing-cert": "rogue-tsa"},
                    },
                },
            }
        },
    }


@dataclass
class LivePki:
    """The running services and what the tests need from them."""

    arch: Any  # certomancer's PKIArchitecture
    url: str
    server: BaseWSGIServer
    thread: threading.Thread | None

    @property
    def tsa_url(self) -> str:
        return f"{self.url}/{ARCH}/tsa/tsa"

    @property
    def rogue_tsa_url(self) -> str:
        return f"{self.url}/{ARCH}/tsa/rogue"

    def pem(self, label: str) -> bytes:
        cert = self.arch.get_cert(CertLabel(label))
        return _pem(cert.dump())

    def pkcs12(self, label: str, password: bytes) -> bytes:
        return bytes(self.arch.package_pkcs12(CertLabel(label), password=password))

    def stop(self) -> None:
        """Stop answering: the port is closed, as when the service is down."""
        if self.thread is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.thread = None


def _pem(der: bytes) -> bytes:
    import base64
    import textwrap

    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()


def write_keys(key_dir: Path) -> None:
    """Fresh P-256 keys for the test PKI (generated test fixtures, never real)."""
    key_dir.mkdir(parents=True, exist_ok=True)
    for label in KEYS:
        key = ec.generate_private_key(ec.SECP256R1())
        (key_dir / f"{label}.key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@contextmanager
def live_pki(
    key_dir: Path,
    *,
    signer_valid_to: str = FAR,
    signer_revoked: str | None = None,
    at_time: dt.datetime | None = None,
    port: int = 0,
) -> Iterator[LivePki]:
    """certomancer's Animator on 127.0.0.1, in a thread, for the duration of the block."""
    if not (key_dir / "root.key.pem").exists():
        write_keys(key_dir)
    server = make_server("127.0.0.1", port, _Placeholder(), threaded=True, request_handler=_Quiet)
    url = f"http://127.0.0.1:{server.server_port}"
    cfg = config(key_dir, url, signer_valid_to, signer_revoked)
    (key_dir / "certomancer.yml").write_text(yaml.safe_dump(cfg))
    pki = CertomancerConfig(cfg, key_search_dir=str(key_dir))
    arch = pki.get_pki_arch(ArchLabel(ARCH))
    server.app = Animator(AnimatorArchStore({ARCH: arch}), at_time=at_time, with_web_ui=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live = LivePki(arch, url, server, thread)
    try:
        yield live
    finally:
        live.stop()


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        """No request log in the test output."""


class _Placeholder:
    def __call__(self, environ: Any, start_response: Any) -> Any:  # pragma: no cover
        start_response("503 Service Unavailable", [])
        return [b""]


@contextmanager
def answering_at(live: LivePki, when: dt.datetime) -> Iterator[None]:
    """The same services on the same address, answering as of ``when`` (CRLs, OCSP and TSA
    dated then): how a validator decades after issuance sees the TSA's revocation data."""
    before = live.server.app
    store = AnimatorArchStore({ArchLabel(ARCH): live.arch})
    live.server.app = Animator(store, at_time=when, with_web_ui=False)
    try:
        yield
    finally:
        live.server.app = before
