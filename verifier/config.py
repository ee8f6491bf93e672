"""Verifier settings, from a JSON file, the environment, or a dict (tests).

Trust comes from configuration only: the roots and status-list certificates of each issuer are
files the operator installed, never something the status-list host can change.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

from certseal.errors import ConfigurationError, DeserializationError
from certseal.statuslist import Pin
from certseal.timeutil import DEFAULT_TIME_ZONE, time_zone
from verifier.engine import DEFAULT_MAX_BYTES
from verifier.store import POSTGRES_SCHEMES

# What an origin never holds, and what would end or escape an nginx map entry.
_UNSAFE_ORIGIN = re.compile(r"[\s;{}\"'$#\\/]")  # in scheme://host:port's host:port


@dataclass(frozen=True)
class IssuerConfig:
    name: str
    roots: tuple[Path, ...]
    status_certs: tuple[Path, ...]
    source: str  # a published folder, or the URL of the published site
    # The operator's floor for this issuer's list, which holds even on first use: the
    # ``min_version`` and ``not_before`` settings (docs/status-list.md, trust on first use).
    pin: Pin = field(default_factory=Pin)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IssuerConfig:
        try:
            trust_dir = Path(d["trust_dir"]) if d.get("trust_dir") else None
            roots = d.get("roots") or ([str(trust_dir / "root.pem")] if trust_dir else [])
            status = d.get("status_certs") or (
                [str(trust_dir / "statuslist.pem")] if trust_dir else []
            )
            cfg = cls(
                str(d.get("name") or "issuer"),
                tuple(Path(p) for p in roots),
                tuple(Path(p) for p in status),
                str(d["source"]),
                _pin(d),
            )
        except (KeyError, TypeError) as e:
            raise ConfigurationError(f"issuer settings lack {e}", f"發證單位設定缺少 {e}") from None
        if not cfg.roots or not cfg.status_certs:
            raise ConfigurationError(
                f"issuer {cfg.name}: give trust_dir, or roots and status_certs",
                f"發證單位 {cfg.name}：請提供 trust_dir，或 roots 與 status_certs",
            )
        for p in (*cfg.roots, *cfg.status_certs):
            if not p.is_file():
                raise ConfigurationError(f"issuer {cfg.name}: no file {p}", f"找不到檔案 {p}")
        return cfg


def _pin(d: Mapping[str, Any]) -> Pin:
    try:
        return Pin.from_dict(d)
    except DeserializationError as e:
        name = d.get("name") or "issuer"
        raise ConfigurationError(
            f"issuer {name}: {e.en} (min_version: a version number; not_before: a time like "
            "2026-06-20T00:00:00Z)",
            f"發證單位 {name}：min_version 須為版本號，"
            "not_before 須為如 2026-06-20T00:00:00Z 的時間",
        ) from None


@dataclass(frozen=True)
class FederationConfig:
    """The national verifier's one pin: the federation's first root, and where the trust
    list is published (the ``trust/`` folder of the operator's site)."""

    trust_list_url: str
    root_pin: Path

    @classmethod
    def from_dict(cls, d: object) -> FederationConfig:
        if not isinstance(d, Mapping) or not d.get("trust_list_url") or not d.get("root_pin"):
            raise ConfigurationError(
                "federation needs trust_list_url (e.g. https://trust.example.tw/trust/) and "
                "root_pin (the file metadata/1.root.json)",
                "federation 設定須有 trust_list_url 與 root_pin（metadata/1.root.json 檔）",
            )
        url, pin = str(d["trust_list_url"]), Path(str(d["root_pin"]))
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"trust_list_url {url!r} must be an http(s) address",
                f"trust_list_url {url!r} 須為 http(s) 網址",
            )
        if not pin.is_file():
            raise ConfigurationError(
                f"the federation's root pin {pin} is not a file", f"找不到聯盟根信任檔 {pin}"
            )
        return cls(url, pin)

    def pin(self) -> tuple[str, bytes]:
        """The trust list's address and the pinned root's bytes."""
        return self.trust_list_url, self.root_pin.read_bytes()


def _receipt_and_batch(d: Mapping[str, Any]) -> dict[str, Any]:
    """The receipt key settings (both files or neither), and the batch limits and PostgreSQL
    pool size (whole numbers ≥ 1)."""
    key, cert = d.get("receipt_key"), d.get("receipt_cert")
    if bool(key) != bool(cert):
        raise ConfigurationError(
            "give both receipt_key and receipt_cert, or neither",
            "receipt_key 與 receipt_cert 須同時設定或同時不設定",
        )
    out: dict[str, Any] = {}
    if key and cert:
        out["receipt_key"], out["receipt_cert"] = Path(key), Path(cert)
    if d.get("receipt_name"):
        out["receipt_name"] = str(d["receipt_name"])
    for name in ("batch_max_files", "batch_max_bytes", "postgres_pool_size"):
        value = d.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(
                f"{name} must be a whole number ≥ 1", f"{name} 須為 ≥ 1 的整數"
            )
        out[name] = value
    return out


def _path_list(name: str, value: object) -> tuple[Path, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(
            f'{name} must be a list of PEM certificate files, e.g. ["/etc/certseal/tsa-root.pem"]',
            f'{name} 須為 PEM 憑證檔的清單，例如 ["/etc/certseal/tsa-root.pem"]',
        )
    return tuple(Path(v) for v in value)


def _origin_list(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(
            'cors_origins must be a list of origins, e.g. ["https://diplomas.example.edu"]',
            'cors_origins 須為來源網址的清單，例如 ["https://diplomas.example.edu"]',
        )
    return tuple(value)


def cors_origins(origins: tuple[str, ...]) -> tuple[str, ...]:
    """The origins as a browser writes them (scheme://host[:port], lower case, no default
    port), each checked: ``*`` alone, or http(s) origins with no path, user or query.

    Raises:
        ConfigurationError: anything else, named.
    """
    if "*" in origins:
        if len(origins) > 1:
            raise ConfigurationError(
                "cors_origins: * (any origin) stands alone", "cors_origins：* 須單獨使用"
            )
        return origins
    out = []
    for origin in origins:
        written = _origin(origin)
        if written is None:
            raise ConfigurationError(
                f"cors_origins: {origin!r} is not an origin like https://site.example.edu "
                "(scheme, host and port only)",
                f"cors_origins：{origin!r} 不是如 https://site.example.edu 的來源網址"
                "（僅含通訊協定、主機與連接埠）",
            )
        out.append(written)
    return tuple(dict.fromkeys(out))


def _origin(text: str) -> str | None:
    """``text`` as a browser's Origin header writes it, or None if it is not an origin."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or _UNSAFE_ORIGIN.search(parts.netloc)
    ):
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "certseal" / "verifier"


@dataclass(frozen=True)
class VerifierConfig:
    issuers: tuple[IssuerConfig, ...]
    counts_db: Path = field(default_factory=lambda: _default_state_dir() / "counts.sqlite")
    max_upload_bytes: int = DEFAULT_MAX_BYTES
    refresh_seconds: float = 60.0
    time_limit_seconds: float = 10.0
    site_dir: Path | None = None  # serve the published static site too (the demo does)
    # A postgresql:// URL: counts and trusted state shared by every instance (else counts_db).
    database: str | None = None
    # Connections to ``database`` per worker process, however many threads it runs (None: the
    # store's default, 4): an instance holds at most workers × this many (docs/deployment.md).
    postgres_pool_size: int | None = None
    # Signed receipts (docs/receipts.md): the key, its published certificate, and the name
    # receipts give this verifier. Without a key, a request for a receipt is refused.
    receipt_key: Path | None = None
    receipt_cert: Path | None = None
    receipt_name: str = "certseal verifier"
    batch_max_files: int = 100  # POST /api/v1/verify/batch (docs/evaluators.md, "Limits")
    batch_max_bytes: int = DEFAULT_MAX_BYTES
    # National: every school of the federation's trust list instead of configured issuers.
    federation: FederationConfig | None = None
    # The zone the pages and the answers' sentences write times in (the school's; the JSON
    # fields stay UTC): an IANA name, checked on construction.
    time_zone: str = DEFAULT_TIME_ZONE
    # Origins whose pages may send files to this verifier from another host (the static site's,
    # when it is not served by the verifier): ``https://site.example.edu``, or ``*`` for any.
    # Default none: a verification counts a use (docs/deployment.md, "Pages on another host").
    cors_origins: tuple[str, ...] = ()
    # The roots of the time-stamping authorities the operator trusts, for every school's
    # timestamps (never for a document's signature): the long-term check decades on needs them.
    timestamp_roots: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        time_zone(self.time_zone)
        object.__setattr__(self, "cors_origins", cors_origins(self.cors_origins))
        self.timestamp_root_certs()

    def timestamp_root_certs(self) -> list[asn1_x509.Certificate]:
        """The ``timestamp_roots`` files' certificates (each file holds one or more).

        Raises:
            ConfigurationError: a file that is missing or holds no PEM certificate, named.
        """
        out = []
        for path in self.timestamp_roots:
            try:
                blocks = list(pem.unarmor(path.read_bytes(), multiple=True))
                certs = [asn1_x509.Certificate.load(der) for kind, _, der in blocks
                         if kind == "CERTIFICATE"]  # fmt: skip
                for cert in certs:
                    cert.native  # noqa: B018 -- parses the whole certificate now, not later
            except (OSError, ValueError, TypeError) as e:
                raise ConfigurationError(
                    f"timestamp_roots: cannot read {path} as PEM certificates ({e})",
                    f"timestamp_roots：無法將 {path} 讀取為 PEM 憑證",
                ) from None
            if not certs:
                raise ConfigurationError(
                    f"timestamp_roots: {path} holds no PEM certificate",
                    f"timestamp_roots：{path} 內沒有 PEM 憑證",
                )
            out += certs
        return out

    @property
    def store_location(self) -> Path | str:
        """Where the shared store lives: the PostgreSQL URL if set, else the SQLite file."""
        return self.database or self.counts_db

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VerifierConfig:
        issuers = d.get("issuers")
        federation = None
        if d.get("federation") is not None:
            federation = FederationConfig.from_dict(d["federation"])
            issuers = issuers or []
            if issuers:
                raise ConfigurationError(
                    "give issuers (one school's own verifier) or federation (every school of "
                    "the trust list), not both",
                    "issuers（單一學校）與 federation（聯盟所有學校）只能擇一設定",
                )
        if not isinstance(issuers, list) or (not issuers and federation is None):
            raise ConfigurationError(
                "the verifier needs at least one issuer (trust and status-list source), or a "
                "federation's trust list",
                "驗證服務至少需要一個發證單位設定，或聯盟信任清單",
            )
        max_bytes = d.get("max_upload_bytes", DEFAULT_MAX_BYTES)
        if not isinstance(max_bytes, int) or max_bytes < 1024:
            raise ConfigurationError(
                "max_upload_bytes must be ≥ 1024", "max_upload_bytes 須 ≥ 1024"
            )
        database = d.get("database") or None
        if database is not None and (
            not isinstance(database, str) or not database.startswith(POSTGRES_SCHEMES)
        ):
            raise ConfigurationError(
                "database must be a postgresql:// URL (leave it out for the SQLite counts_db)",
                "database 須為 postgresql:// 網址（不設定則使用 SQLite 的 counts_db）",
            )
        return cls(
            issuers=tuple(IssuerConfig.from_dict(i) for i in issuers),
            counts_db=Path(d["counts_db"])
            if d.get("counts_db")
            else _default_state_dir() / "counts.sqlite",
            max_upload_bytes=max_bytes,
            refresh_seconds=float(d.get("refresh_seconds", 60.0)),
            time_limit_seconds=float(d.get("time_limit_seconds", 10.0)),
            site_dir=Path(d["site_dir"]) if d.get("site_dir") else None,
            database=database,
            **_receipt_and_batch(d),
            federation=federation,
            time_zone=str(d.get("time_zone") or DEFAULT_TIME_ZONE),
            cors_origins=_origin_list(d.get("cors_origins")),
            timestamp_roots=_path_list("timestamp_roots", d.get("timestamp_roots")),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VerifierConfig:
        """``CERTSEAL_VERIFIER_CONFIG`` names a JSON file; or, for one issuer,
        ``CERTSEAL_TRUST_DIR`` + ``CERTSEAL_STATUS_SOURCE`` (+ optional others)."""
        env = os.environ if env is None else env
        path = env.get("CERTSEAL_VERIFIER_CONFIG")
        if path:
            try:
                return cls.from_dict(json.loads(Path(path).read_text("utf-8")))
            except (OSError, ValueError) as e:
                raise ConfigurationError(f"cannot read {path}: {e}", f"無法讀取 {path}") from None
        d: dict[str, Any] = {}
        if env.get("CERTSEAL_TRUST_LIST_URL") or env.get("CERTSEAL_ROOT_PIN"):
            d["federation"] = {
                "trust_list_url": env.get("CERTSEAL_TRUST_LIST_URL"),
                "root_pin": env.get("CERTSEAL_ROOT_PIN"),
            }
        elif not env.get("CERTSEAL_TRUST_DIR") or not env.get("CERTSEAL_STATUS_SOURCE"):
            raise ConfigurationError(
                "set CERTSEAL_VERIFIER_CONFIG, or CERTSEAL_TRUST_DIR and CERTSEAL_STATUS_SOURCE, "
                "or CERTSEAL_TRUST_LIST_URL and CERTSEAL_ROOT_PIN",
                "請設定 CERTSEAL_VERIFIER_CONFIG，或 CERTSEAL_TRUST_DIR 與 CERTSEAL_STATUS_SOURCE，"
                "或 CERTSEAL_TRUST_LIST_URL 與 CERTSEAL_ROOT_PIN",
            )
        else:
            d["issuers"] = [
                {
                    "name": env.get("CERTSEAL_ISSUER_NAME", "issuer"),
                    "trust_dir": env["CERTSEAL_TRUST_DIR"],
                    "source": env["CERTSEAL_STATUS_SOURCE"],
                }
            ]
        for key, var in (
            ("counts_db", "CERTSEAL_COUNTS_DB"),
            ("site_dir", "CERTSEAL_SITE_DIR"),
            ("database", "CERTSEAL_DATABASE_URL"),
            ("receipt_key", "CERTSEAL_RECEIPT_KEY"),
            ("receipt_cert", "CERTSEAL_RECEIPT_CERT"),
            ("receipt_name", "CERTSEAL_RECEIPT_NAME"),
            ("time_zone", "CERTSEAL_TIME_ZONE"),
        ):
            if env.get(var):
                d[key] = env[var]
        if env.get("CERTSEAL_TIMESTAMP_ROOTS"):
            d["timestamp_roots"] = env["CERTSEAL_TIMESTAMP_ROOTS"].split(os.pathsep)
        if env.get("CERTSEAL_CORS_ORIGINS"):
            d["cors_origins"] = env["CERTSEAL_CORS_ORIGINS"].replace(",", " ").split()
        if size := env.get("CERTSEAL_POSTGRES_POOL_SIZE", "").strip():
            # Anything but a number is passed on as it is, to be refused with its name.
            d["postgres_pool_size"] = int(size) if size.isascii() and size.isdigit() else size
        if env.get("CERTSEAL_MAX_UPLOAD_BYTES"):
            d["max_upload_bytes"] = int(env["CERTSEAL_MAX_UPLOAD_BYTES"])
        if env.get("CERTSEAL_REFRESH_SECONDS"):
            d["refresh_seconds"] = float(env["CERTSEAL_REFRESH_SECONDS"])
        return cls.from_dict(d)
