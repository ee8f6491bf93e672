"""Which status-list key the audit trusts, and why.

Every signature the audit checks is only as good as the key it checks them with. A key taken
from the site it audits proves nothing against whoever controls the site: a school (or host)
that rewrote its whole history and re-signed it with a new key would pass. So the key is
*pinned*, by one of: a certificate given by the caller (``--key``), a fingerprint compared with
the published ``certs/statuslist.pem`` (``--pin``), or the key id an earlier audit remembered
(``--state``). Otherwise the report says plainly that the key was trusted as found, and, when the
caller requires a pin (the CLI does unless told to accept it), that is a violation.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from auditor.context import Context
from certseal.errors import CertsealError, InputError
from certseal.eventlog import MAX_BYTES
from certseal.pki import ec_public_key, key_id, load_certificates

CHECK = "status_list_key"
CERT_PATH = "certs/statuslist.pem"
_PIN = re.compile(r"[0-9a-f]{64}")


class PinError(InputError):
    """A pinned fingerprint that is not 64 hex digits."""

    code = "bad_pin"


def normalize_pin(pin: str) -> str:
    """A fingerprint as 64 lower-case hex digits (colons and spaces, as browsers show them,
    are dropped).

    Raises:
        PinError: not a SHA-256 fingerprint.
    """
    text = re.sub(r"[\s:]", "", pin).lower()
    if not _PIN.fullmatch(text):
        raise PinError(
            "a pin is the SHA-256 fingerprint of the status-list certificate or its key id: "
            "64 hex digits (colons allowed)",
            "釘選值須為狀態清單憑證或其金鑰識別碼的 SHA-256 指紋：64 個十六進位數字（可含冒號）",
        )
    return text


def trusted_key(
    ctx: Context,
    given: ec.EllipticCurvePublicKey | None,
    pin: str | None,
    require_pinned: bool,
) -> ec.EllipticCurvePublicKey | None:
    """The key to check every signature with, or None if there is none to trust."""
    record = ctx.record
    published: ec.EllipticCurvePublicKey | None = None
    fingerprint = ""
    problem: CertsealError | None = None
    try:
        cert = load_certificates(ctx.fetcher("certs")("statuslist.pem", MAX_BYTES["certificate"]))[
            0
        ]
        published = ec_public_key(cert)
        fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    except CertsealError as e:
        problem = e
    key = given or published
    if key is None:
        record.flag(CHECK, "unavailable", f"the status-list certificate {CERT_PATH}: {problem}")
        record.done(CHECK, "")
        return None
    kid = key_id(key)
    if given is not None:
        how = "given with --key"
        if published is not None and key_id(published) != kid:
            record.flag(
                CHECK,
                "key_mismatch",
                f"the published {CERT_PATH} holds key {key_id(published)}, not the pinned key "
                f"{kid}: verifiers that take the site's certificate would trust another key",
            )
        elif published is None:
            record.warn(f"{CERT_PATH} could not be read ({problem}); the key given was used")
    elif pin is not None:
        how = "pinned by fingerprint"
        if normalize_pin(pin) not in (kid, fingerprint):
            record.flag(
                CHECK,
                "key_mismatch",
                f"{CERT_PATH} has key id {kid} and certificate fingerprint {fingerprint}; "
                f"neither is the pinned {normalize_pin(pin)}",
            )
    elif ctx.state is not None:
        how = "remembered from the last audit"
    else:
        how = f"{CERT_PATH} as published, pinned by nothing"
        why = (
            f"the status-list key {kid} was taken from the site's own {CERT_PATH}: a history "
            "rewritten and re-signed with another key would pass. Compare this key id with the "
            "one the school announces elsewhere, then pin it (--key, --pin) or remember it "
            "(--state)"
        )
        if require_pinned:
            record.flag(CHECK, "key_unpinned", why)
        else:
            record.warn(why)
    if ctx.state is not None and ctx.state.key_id != kid:
        record.flag(
            CHECK, "key_changed", f"key {kid} signs now; key {ctx.state.key_id} signed before"
        )
    record.facts["key"] = f"{kid} ({how})"
    record.done(CHECK, f"key id {kid} ({how})")
    return key
