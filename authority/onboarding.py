"""The school's side of joining a federation: its signed onboarding request.

The request carries the school's certificates, where it publishes its status list and log,
and its key history as its own TUF role (``docs/trust-list.md``), all signed with the
status-list key; the federation operator verifies it and admits the school. A later request
(a new role version) carries rotated keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from authority.config import School
from authority.keys import load_identity
from certseal import trustlist
from certseal.errors import ConfigurationError, InputError
from certseal.pki import load_certificates
from certseal.trustlist import KeyRecord, OnboardingRequest

ROLE_DAYS = 365


def export_request(
    keys_dir: Path,
    passphrase: str,
    school: School,
    *,
    domains: Sequence[str],
    status_list_url: str,
    log_url: str,
    now: dt.datetime,
    role_version: int = 1,
) -> bytes:
    """The signed onboarding request for this authority's current keys.

    ``role_version`` is 1 on admission; a school re-keying its status-list key sends the
    version after its published one.
    """
    if role_version < 1:
        raise InputError("the role version starts at 1", "角色版本從 1 開始")
    status = load_identity(keys_dir, "statuslist", passphrase)
    try:
        signing = load_certificates((keys_dir / "signing.pem").read_bytes())[0]
        roots = load_certificates((keys_dir / "root.pem").read_bytes())
    except FileNotFoundError as e:
        raise ConfigurationError(
            f"the authority lacks {e.filename}: run 'certseal authority init' first",
            f"找不到 {e.filename}：請先執行 certseal authority init",
        ) from None
    if not isinstance(status.key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(
            "the status-list key must be ECDSA P-256", "狀態清單金鑰須為 ECDSA P-256"
        )
    records = [
        KeyRecord.from_certificate(signing, "signing"),
        KeyRecord.from_certificate(status.cert, "statuslist"),
    ]
    role = trustlist.school_role(
        school.code, records, role_version, now + dt.timedelta(days=ROLE_DAYS)
    )
    trustlist.sign(role, status.key)
    certs = [*roots, *status.chain, signing, status.cert]
    unique = list({c.fingerprint(hashes.SHA256()): c for c in certs}.values())
    body = {
        "id": school.code,
        "name_zh": school.name_zh,
        "name_en": school.name_en,
        "domains": list(domains),
        "status_list_url": status_list_url,
        "log_url": log_url,
    }
    return OnboardingRequest.create(body, unique, role, status.key).to_bytes()
