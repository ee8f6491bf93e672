"""The school's side of joining a federation: its signed onboarding request.

The request carries the school's certificates, where it publishes its status list and log,
and its key history as its own TUF role (``docs/trust-list.md``), all signed with the
status-list key; the federation operator verifies it and admits the school. A later request
(a new role version) carries rotated keys. Since the operator takes a new version only when
the key it holds for the school signed it too (TUF's rule for a delegated role whose keys
change), a later request is also signed with each earlier status-list key the authority
kept in ``keys/retired/``, except one recorded compromised: a stolen key must not vouch for
its successor (the operator then re-admits the school out of band, ``docs/key-lifecycle.md``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authority.config import School
from authority.hsm import HSM_FILE, HsmSettings, load_key, pin_from_env
from authority.keys import load_identity
from authority.rotation import RETIRED_DIR, load_history
from certseal import pki, trustlist
from certseal.errors import ConfigurationError, InputError, PassphraseError
from certseal.pki import load_certificates
from certseal.trustlist import KeyRecord, OnboardingRequest

ROLE_DAYS = 365
CONFIRM_COMMAND = "certseal federation admit REQUEST --confirm-key SHA256 --key … --key …"
"""How the operator re-admits a school whose earlier status-list key cannot vouch."""


@dataclass(frozen=True)
class PreparedRequest:
    """A signed onboarding request, and who vouched for it.

    ``status_key`` is the current status-list key's record (its ``cert_sha256`` is what the
    school reads to the operator when it must be re-admitted out of band); ``vouchers`` are
    the earlier status-list keys that signed the role too; ``unable`` the earlier ones that
    could not, each with why (``compromised`` or ``not_kept``).
    """

    data: bytes
    status_key: KeyRecord
    vouchers: tuple[KeyRecord, ...]
    unable: tuple[tuple[KeyRecord, str], ...]

    def notice(self) -> tuple[str, str] | None:
        """What the registrar is told when an earlier key could not vouch (en, zh-TW)."""
        if not self.unable:
            return None
        why_en = {"compromised": "is recorded compromised", "not_kept": "is not kept in keys/"}
        why_zh = {"compromised": "已記錄為外洩", "not_kept": "未保存於 keys/"}
        keys_en = "; ".join(f"{k.cert_sha256[:16]}… {why_en[w]}" for k, w in self.unable)
        keys_zh = "；".join(f"{k.cert_sha256[:16]}… {why_zh[w]}" for k, w in self.unable)
        sha = self.status_key.cert_sha256
        return (
            f"an earlier status-list key cannot vouch for the current one ({keys_en}). If the "
            "federation still lists that key for this school, the operator refuses this "
            "request: read them the current status-list certificate's SHA-256 by a channel "
            f"you both trust (in person, a phone call you placed), {sha}, and they re-admit "
            f"the school with '{CONFIRM_COMMAND}'.",
            f"先前的狀態清單金鑰無法為目前的金鑰背書（{keys_zh}）。若聯盟信任清單仍列著該金鑰，"
            "營運者會拒絕此申請：請以雙方信任的管道（當面、由您撥出的電話）向營運者唸出目前狀態"
            f"清單憑證的 SHA-256：{sha}，由營運者執行「{CONFIRM_COMMAND}」重新接納本校。",
        )


def prepare_request(
    keys_dir: Path,
    passphrase: str,
    school: School,
    *,
    domains: Sequence[str],
    status_list_url: str,
    log_url: str,
    now: dt.datetime,
    role_version: int | None = None,
) -> PreparedRequest:
    """The signed onboarding request for this authority's current keys and key history.

    ``role_version``: by default the key history's version (1 until a key is rotated, one
    more at each rotation or compromise), which is what the operator expects after each
    rotation, however many came between two requests; a later version is signed by the earlier
    status-list keys as well (see the module). Given explicitly for anything else (a request
    that changes no key still needs a version after the one the trust list holds).

    Raises:
        InputError: the role version is below 1.
        ConfigurationError: the authority is not set up, its status-list key is not P-256, or
            its key history does not end with the current status-list key (an interrupted
            rotation: ``rotate-key`` finishes it).
        PassphraseError: the passphrase does not unlock a key.
    """
    if role_version is not None and role_version < 1:
        raise InputError("the role version starts at 1", "角色版本從 1 開始")
    status = load_identity(keys_dir, "statuslist", passphrase)
    try:
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
    history = load_history(keys_dir, school, now)
    current = history.record(status.cert.fingerprint(hashes.SHA256()).hex())
    latest = [r for r in history.records if r.role == "statuslist"][-1]
    if current is None or current != latest:
        raise ConfigurationError(
            "the key history does not end with the current status-list certificate: a "
            "rotation was interrupted; run 'certseal authority rotate-key --role statuslist' "
            "to finish it first",
            "金鑰歷程的最後一把狀態清單金鑰不是目前的憑證：先前的輪替中斷了；請先執行 "
            "certseal authority rotate-key --role statuslist 完成它",
        )
    if role_version is None:
        role_version = history.version
    role = trustlist.school_role(
        school.code, history.records, role_version, now + dt.timedelta(days=ROLE_DAYS)
    )
    trustlist.sign(role, status.key)
    vouchers: list[KeyRecord] = []
    unable: list[tuple[KeyRecord, str]] = []
    if role_version > 1:
        for record in history.records:
            if record.role != "statuslist" or record.cert_sha256 == current.cert_sha256:
                continue
            if record.reason == "key_compromise":
                unable.append((record, "compromised"))
                continue
            key = _retired_key(keys_dir, record, passphrase)
            if key is None:
                unable.append((record, "not_kept"))
                continue
            trustlist.sign(role, key)
            vouchers.append(record)
    history_certs = [x509.load_der_x509_certificate(der) for der in history.certs.values()]
    certs = [*roots, *status.chain, *history_certs]
    unique = list({c.fingerprint(hashes.SHA256()): c for c in certs}.values())
    body = {
        "id": school.code,
        "name_zh": school.name_zh,
        "name_en": school.name_en,
        "domains": list(domains),
        "status_list_url": status_list_url,
        "log_url": log_url,
    }
    data = OnboardingRequest.create(body, unique, role, status.key).to_bytes()
    return PreparedRequest(data, current, tuple(vouchers), tuple(unable))


def _retired_key(
    keys_dir: Path, record: KeyRecord, passphrase: str
) -> ec.EllipticCurvePrivateKey | None:
    """An earlier status-list key as rotation retired it (a file under the passphrase, or the
    token's key its retired HSM settings name), or None when it was not kept."""
    stem = keys_dir / RETIRED_DIR / f"statuslist.{record.cert_sha256[:16]}"
    hsm = stem.with_name(f"{stem.name}.{HSM_FILE}")
    pem = stem.with_name(f"{stem.name}.key.pem")
    key: object
    if hsm.exists():
        try:
            settings = HsmSettings.from_dict(json.loads(hsm.read_bytes()))
        except ValueError:
            raise ConfigurationError(f"{hsm} is not valid JSON", f"{hsm} 不是有效的 JSON") from None
        key = load_key(settings, "statuslist", pin_from_env())
    elif pem.exists():
        try:
            key = serialization.load_pem_private_key(pem.read_bytes(), passphrase.encode())
        except (ValueError, TypeError):
            raise PassphraseError(
                f"the passphrase does not unlock the earlier status-list key {pem}",
                f"密碼無法解開先前的狀態清單金鑰 {pem}",
            ) from None
    else:
        return None
    if (
        not isinstance(key, ec.EllipticCurvePrivateKey)
        or pki.key_id(key.public_key()) != record.spki_sha256
    ):
        raise ConfigurationError(
            f"{pem.parent} holds a key for {record.cert_sha256[:16]}… that is not its "
            "certificate's: keys/ was changed by hand",
            f"{pem.parent} 中 {record.cert_sha256[:16]}… 的金鑰與其憑證不符：keys/ 曾被手動修改",
        )
    return key
