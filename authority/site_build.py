"""The public static site: rendered once per publication into the published folder.

The site (``site/`` in the repository: Jinja2 templates, a string catalog and static assets) is
plain files any static host can serve, next to ``status/`` and ``certs/``. Every page exists in
Traditional Chinese at the root (``/index.html``) and in English under ``/en/``. Pages carry no
inline script or style, so a strict Content-Security-Policy holds; what the scripts need from the
build (the status-list key, the verifier's address, the strings) is in ``data-`` attributes and
in one generated script per language.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from authority.config import School
from certseal.catalog import LANGS, i18n_script, load_strings, site_source, stylesheet
from certseal.doctypes import DOCUMENT_TYPES
from certseal.errors import ConfigurationError
from certseal.files import write_file
from certseal.pki import cert_fingerprint, ec_public_key, key_id, load_certificates, spki_der
from certseal.statuslist import STATES, Snapshot, snapshot_path
from certseal.timeutil import format_time

SITE_SOURCE = site_source()
HTML_LANG = {"zh-TW": "zh-Hant-TW", "en": "en"}
LANG_DIR = {"zh-TW": "", "en": "en/"}
PAGES = ("index", "bulk", "check", "faq", "issuers", "transparency")
NAV = {
    "index": "nav_verify",
    "bulk": "bulk_nav",
    "check": "nav_check",
    "faq": "nav_faq",
    "issuers": "nav_issuers",
    "transparency": "nav_transparency",
}
# One stylesheet for the site and the verifier's own pages, kept in the shared package.
STYLESHEET = stylesheet()
ASSETS = (
    "site.css",
    "favicon.svg",
    "common.js",
    "statuslist.js",
    "verify.js",
    "check.js",
    "bulk.js",
)
AUDIT_EXAMPLE_SITE = "https://verify.example.edu.tw/"
CERT_ROLES = {
    "root.pem": "role_root",
    "signing.pem": "role_signing",
    "statuslist.pem": "role_statuslist",
    "statuslist.chain.pem": "role_statuslist_chain",
}


@dataclass(frozen=True)
class CertInfo:
    """One certificate as the Issuers page shows it."""

    subject: str
    issuer: str
    not_before: str
    not_after: str
    fingerprint: str


@dataclass(frozen=True)
class CertFile:
    """One published certificate file (a chain file holds several certificates)."""

    file: str
    role: str  # a string-catalog key
    certs: tuple[CertInfo, ...]


@dataclass(frozen=True)
class StatusKey:
    """A status-list public key embedded into the check page for the browser to trust."""

    keyid: str
    spki_b64: str
    file: str


def describe_certificates(certs: Mapping[str, bytes]) -> list[CertFile]:
    """Every published certificate file and what it holds, in a stable order."""
    order = {name: i for i, name in enumerate(CERT_ROLES)}
    return [
        CertFile(
            file=file,
            role=CERT_ROLES.get(file, "role_other"),
            certs=tuple(
                CertInfo(
                    subject=cert.subject.rfc4514_string(),
                    issuer=cert.issuer.rfc4514_string(),
                    not_before=_display_time(cert.not_valid_before_utc),
                    not_after=_display_time(cert.not_valid_after_utc),
                    fingerprint=cert_fingerprint(cert),
                )
                for cert in load_certificates(certs[file])
            ),
        )
        for file in sorted(certs, key=lambda n: (order.get(n, len(order)), n))
    ]


def status_keys(certs: Mapping[str, bytes]) -> list[StatusKey]:
    """The keys the browser check trusts: the status-list certificate's, nothing else."""
    if "statuslist.pem" not in certs:
        raise ConfigurationError(
            "the site needs certs/statuslist.pem to build the check without uploading",
            "網站需要 certs/statuslist.pem 才能產生免上傳查驗頁",
        )
    out = []
    for cert in load_certificates(certs["statuslist.pem"]):
        key = ec_public_key(cert)
        out.append(
            StatusKey(key_id(key), base64.b64encode(spki_der(key)).decode(), "statuslist.pem")
        )
    return out


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"the verifier address {url!r} must be an http(s) URL, or empty for the same origin",
            f"驗證服務網址 {url!r} 須為 http(s) 網址，或留空表示同一網站",
        )
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(verifier_url: str) -> str:
    """The policy every page declares: only this site, plus the verifier's origin if elsewhere."""
    extra = f" {_origin(verifier_url)}" if verifier_url else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'{extra}; form-action 'self'{extra}; base-uri 'none'; "
        "object-src 'none'"
    )


def _display_time(moment: dt.datetime) -> str:
    return format_time(moment).replace("T", " ")[:16] + " UTC"


def _write(path: Path, data: bytes, written: list[Path]) -> None:
    write_file(path, data)
    written.append(path)


def _write_assets(
    out_dir: Path, source: Path, strings: Mapping[str, Mapping[str, str]], written: list[Path]
) -> dict[str, str]:
    """Copy the static files and write the string scripts; return each one's URL path."""
    assets = {
        name: STYLESHEET.read_bytes()
        if name == "site.css"
        else (source / "static" / name).read_bytes()
        for name in ASSETS
    }
    for lang in LANGS:
        assets[f"i18n.{lang}.js"] = i18n_script(lang, strings, "authority/site_build.py")
    urls = {}
    for name, data in assets.items():
        _write(out_dir / "assets" / name, data, written)
        # A content hash in the query string: a new build is never hidden by a cached old file.
        urls[name] = f"assets/{name}?v={hashlib.sha256(data).hexdigest()[:12]}"
    return urls


@dataclass(frozen=True)
class _Links:
    """Relative links from one page, so the site works from any folder of any static host."""

    lang: str
    assets: Mapping[str, str]

    @property
    def root(self) -> str:
        return "../" * LANG_DIR[self.lang].count("/")

    def href(self, target: str, to_lang: str | None = None) -> str:
        return f"{self.root}{LANG_DIR[to_lang or self.lang]}{target}.html"

    def asset(self, name: str) -> str:
        return self.root + self.assets[name]


_SITE_PATH = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._/-]*$")


def _log_view(snapshot: Snapshot) -> dict[str, Any] | None:
    """The transparency-log checkpoint the snapshot names, if the authority keeps a log."""
    log = snapshot.extra.get("log")
    if not isinstance(log, Mapping):
        return None
    checkpoint = log.get("checkpoint")
    if not isinstance(checkpoint, str) or ".." in checkpoint or not _SITE_PATH.match(checkpoint):
        checkpoint = None  # only a path inside the published folder becomes a link
    return {
        "origin": str(log.get("origin", "")),
        "size": log.get("size"),
        "root": str(log.get("root", "")),
        "checkpoint": checkpoint,
    }


def _snapshot_view(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "version": snapshot.version,
        "issued_at": _display_time(snapshot.issued_at),
        "issued_at_iso": format_time(snapshot.issued_at),
        "expires": _display_time(snapshot.expires),
        "expires_iso": format_time(snapshot.expires),
        "counts": [(s, snapshot.counts.get(s, 0)) for s in STATES],
        "total": snapshot.total,
        "path": snapshot_path(snapshot.version),
        "issuer": snapshot.issuer,
    }


def build_site(
    out_dir: Path,
    *,
    school: School,
    snapshot: Snapshot,
    certs: dict[str, bytes],
    verifier_url: str = "",
    now: dt.datetime,
    source: Path = SITE_SOURCE,
) -> list[Path]:
    """Render the public site into ``out_dir``, next to ``status/`` and ``certs/``.

    Args:
        out_dir: the published folder.
        school: the issuer named on every page.
        snapshot: the status list just published (its version, times and counts are shown).
        certs: the published certificate files by name (``root.pem``, ``statuslist.pem``, ...);
            ``statuslist.pem`` is required: its key is built into the check page.
        verifier_url: where the verifier runs, e.g. ``https://verify.example.edu.tw``; empty
            when it serves this site itself (same origin).
        now: the build time, shown in the footer.
        source: the site's templates, strings and static files.

    Returns:
        Every file written, pages and assets.

    Raises:
        ConfigurationError: no ``statuslist.pem``, a verifier URL that is not http(s), or a
            string catalog missing a language.
    """
    strings = load_strings(source)
    verifier = verifier_url.rstrip("/")
    written: list[Path] = []
    asset_urls = _write_assets(out_dir, source, strings, written)
    env = Environment(
        loader=FileSystemLoader(source / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    types = DOCUMENT_TYPES.values()
    shared: dict[str, Any] = {
        "nav": NAV,
        "csp": content_security_policy(verifier),
        "school": school,
        "snapshot": _snapshot_view(snapshot),
        "tlog": _log_view(snapshot),
        "built": _display_time(now),
        "verify_action": f"{verifier}/verify",
        "verify_api": f"{verifier}/api/v1/verify",
        "status_keys": status_keys(certs),
        "certs": describe_certificates(certs),
        "audit_script": (source / "snippets" / "audit_status_list.py")
        .read_text("utf-8")
        .replace(AUDIT_EXAMPLE_SITE, school.verify_url)
        .replace("  # noqa: S310", ""),
    }
    for lang in LANGS:
        other = LANGS[1 - LANGS.index(lang)]
        links = _Links(lang, asset_urls)
        per_lang = {
            **shared,
            "lang": lang,
            "html_lang": HTML_LANG[lang],
            "other_html_lang": HTML_LANG[other],
            "t": {k: v[lang] for k, v in strings.items()},
            "root": links.root,
            "href": links.href,
            "asset": links.asset,
            "status_base": f"{links.root}status/",
            "school_name": school.name_zh if lang == "zh-TW" else school.name_en,
            "limited_types": [
                (x.name(lang), x.verification_limit) for x in types if x.verification_limit
            ],
            "unlimited_types": [x.name(lang) for x in types if x.verification_limit is None],
        }
        for page in PAGES:
            html = env.get_template(f"{page}.html").render(
                per_lang, page=page, alt_href=links.href(page, other)
            )
            _write(out_dir / LANG_DIR[lang] / f"{page}.html", html.encode(), written)
    return written
