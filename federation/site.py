"""The national public site: every school of the trust list, one verification page, the check
without uploading for any school.

Built by the operator next to the published ``trust/`` folder, from the same templates, strings
and scripts as a school's own site (the package ``certseal_site``, read as data). The pages are
plain files; the check page carries the pinned root (``metadata/1.root.json``) in a ``data-``
attribute, so the browser verifies the trust list itself (``trustlist.js``), then the chosen
school's status list with the keys the trust list gives (``statuslist.js``). The person picks
the school: a hash alone does not say which school issued a file (``docs/federation.md``).

A school's status list is read where its profile says (``status_list_url``, which must then
send ``Access-Control-Allow-Origin``), or from a copy under ``schools/<ID>/status/`` when the
builder is given the school's published folder: the files are signed, so a copy is as good as
the original while it is fresh.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from certseal.catalog import LANGS, i18n_script, load_strings, site_source, stylesheet
from certseal.errors import InputError
from certseal.fetch import published_fetcher
from certseal.files import publish_tree, write_file
from certseal.timeutil import format_time
from certseal.trustlist import (
    LOG_DIR,
    METADATA_DIR,
    TRUST_DIR,
    KeyRecord,
    SchoolEntry,
    TrustList,
    TrustListClient,
    metadata_path,
)

HTML_LANG = {"zh-TW": "zh-Hant-TW", "en": "en"}
LANG_DIR = {"zh-TW": "", "en": "en/"}
NAV = {
    "index": "nav_verify",
    "bulk": "bulk_nav",
    "check": "nav_check",
    "schools": "nav_schools",
    "trust": "nav_trust",
}
TEMPLATES = {
    "index": "index.html",
    "bulk": "bulk.html",
    "check": "national/check.html",
    "schools": "national/schools.html",
    "trust": "national/trust.html",
}
SCRIPTS = (
    "common.js",
    "statuslist.js",
    "trustlist.js",
    "verify.js",
    "check.js",
    "schools.js",
    "bulk.js",
)
MIRROR_DIR = "schools"


def _write(path: Path, data: bytes, written: list[Path]) -> None:
    write_file(path, data)
    written.append(path)


def _origin(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{what} {url!r} is not an http(s) address", f"{what} {url!r} 不是網址")
    return f"{parts.scheme}://{parts.netloc}"


def _display_time(moment: dt.datetime) -> str:
    return format_time(moment).replace("T", " ")[:16] + " UTC"


@dataclass(frozen=True)
class KeyView:
    """One of a school's keys as the schools page lists it."""

    role: str
    cert_sha256: str
    spki_sha256: str
    valid_from: str
    valid_to: str
    revoked_at: str | None
    reason: str | None

    @classmethod
    def of(cls, k: KeyRecord) -> KeyView:
        return cls(
            k.role,
            k.cert_sha256,
            k.spki_sha256,
            _display_time(k.valid_from),
            _display_time(k.valid_to),
            None if k.revoked_at is None else _display_time(k.revoked_at),
            k.reason,
        )


@dataclass(frozen=True)
class SchoolView:
    """One school of the trust list as the pages show it."""

    school_id: str
    name_zh: str
    name_en: str
    state: str
    since: str
    successor: str | None
    predecessors: tuple[str, ...]
    domains: tuple[str, ...]
    status_base: str  # where the check page reads the school's status list
    keys: tuple[KeyView, ...]

    @classmethod
    def of(cls, entry: SchoolEntry, status_base: str) -> SchoolView:
        p = entry.profile
        return cls(
            p.school_id,
            p.name_zh,
            p.name_en,
            p.current.state,
            _display_time(p.current.at),
            p.successor,
            p.predecessors,
            p.domains,
            status_base,
            tuple(KeyView.of(k) for k in sorted(entry.keys, key=lambda k: (k.role, k.valid_from))),
        )


def read_trust_list(trust_dir: Path, root: bytes, now: dt.datetime) -> TrustList:
    """The published trust list, verified from the pinned root as a browser will verify it.

    Raises:
        CertsealError: it does not verify or has expired (run ``federation refresh``).
    """
    return TrustListClient(published_fetcher(str(trust_dir), "."), root).refresh(now)


def mirror_status(out_dir: Path, school_id: str, published: Path) -> Path:
    """Copy a school's published ``status/`` under ``schools/<ID>/status/``; the signed
    ``timestamp.json`` last, so a reader never sees it before what it pins."""
    source = published / "status"
    if not (source / "timestamp.json").is_file():
        raise InputError(
            f"{published} holds no published status list (status/timestamp.json)",
            f"{published} 沒有已公布的狀態清單",
        )
    target = out_dir / MIRROR_DIR / school_id / "status"
    # Every other file is named by its version or hash and never changes; the timestamp last.
    publish_tree(source, target, ("timestamp.json",))
    return target


def build_national_site(
    out_dir: Path,
    *,
    trust_list: TrustList,
    root: bytes,
    now: dt.datetime,
    mirrored: frozenset[str] = frozenset(),
    verifier_url: str = "",
) -> list[Path]:
    """Render the national site into ``out_dir``, beside its ``trust/`` folder.

    Args:
        trust_list: the verified trust list (:func:`read_trust_list`).
        root: the pinned root (``metadata/1.root.json``), built into the check page.
        now: the build time, shown in the footer.
        mirrored: schools whose status list is copied under ``schools/<ID>/status/``.
        verifier_url: the national verifier's address; empty when it serves this site.

    Returns:
        Every file written.
    """
    source = site_source()
    strings = load_strings(source)
    verifier = verifier_url.rstrip("/")
    connect = {_origin(verifier, "verifier address")} if verifier else set()
    schools = []
    for sid, entry in sorted(trust_list.schools.items()):
        if sid in mirrored:
            base = f"{MIRROR_DIR}/{sid}/status/"
        else:
            base = entry.profile.status_list_url.rstrip("/") + "/"
            connect.add(_origin(base, f"{sid}'s status list address"))
        schools.append(SchoolView.of(entry, base))
    written: list[Path] = []
    assets = {name: (source / "static" / name).read_bytes() for name in SCRIPTS}
    assets["site.css"] = stylesheet().read_bytes()
    assets["favicon.svg"] = (source / "static" / "favicon.svg").read_bytes()
    for lang in LANGS:
        assets[f"i18n.{lang}.js"] = i18n_script(lang, strings, "federation/site.py")
    urls = {}
    for name, data in assets.items():
        _write(out_dir / "assets" / name, data, written)
        urls[name] = f"assets/{name}?v={hashlib.sha256(data).hexdigest()[:12]}"
    env = Environment(
        loader=FileSystemLoader(source / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    extra = "".join(f" {o}" for o in sorted(connect))
    form = f" {_origin(verifier, 'verifier address')}" if verifier else ""
    log = trust_list.log or {}
    shared: dict[str, Any] = {
        "national": True,
        "nav": NAV,
        "csp": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'{extra}; form-action 'self'{form}; base-uri 'none'; "
            "object-src 'none'"
        ),
        "built": _display_time(now),
        "verify_action": f"{verifier}/verify",
        "verify_api": f"{verifier}/api/v1/verify",
        "schools": schools,
        "trust": {
            "targets_version": trust_list.targets_version,
            "snapshot_version": trust_list.snapshot_version,
            "timestamp_version": trust_list.timestamp_version,
            "expires": _display_time(trust_list.expires),
            "root_b64": base64.b64encode(root).decode(),
            "root_sha256": hashlib.sha256(root).hexdigest(),
            "log_origin": str(log.get("origin", "")),
            "log_size": log.get("size"),
            "log_root": str(log.get("root", "")),
        },
        "trust_dir": TRUST_DIR,
        "metadata_dir": METADATA_DIR,
        "log_dir": LOG_DIR,
        "root_path": metadata_path("root", 1),
    }
    for lang in LANGS:
        other = LANGS[1 - LANGS.index(lang)]
        up = "../" * LANG_DIR[lang].count("/")

        def href(target: str, to_lang: str | None = None, _lang: str = lang, _up: str = up) -> str:
            return f"{_up}{LANG_DIR[to_lang or _lang]}{target}.html"

        def asset(name: str, _up: str = up) -> str:
            return _up + urls[name]

        t = {k: v[lang] for k, v in strings.items()}
        per_lang = {
            **shared,
            "lang": lang,
            "html_lang": HTML_LANG[lang],
            "other_html_lang": HTML_LANG[other],
            "t": t,
            "root": up,
            "href": href,
            "asset": asset,
            "school_name": t["national_name"],
        }
        for page, template in TEMPLATES.items():
            html = env.get_template(template).render(
                per_lang, page=page, alt_href=href(page, other)
            )
            _write(out_dir / LANG_DIR[lang] / f"{page}.html", html.encode(), written)
    return written


def build_from_operator(
    out_dir: Path,
    trust_dir: Path,
    root: bytes,
    *,
    now: dt.datetime,
    schools: Mapping[str, Path] | None = None,
    verifier_url: str = "",
) -> list[Path]:
    """The whole national site: read the published trust list, copy the given schools'
    status lists, render the pages.

    Args:
        trust_dir: the published ``trust/`` folder (``Operator.publish`` writes it).
        root: the pin, ``metadata/1.root.json``.
        schools: school id → that school's published folder (the one holding ``status/``).

    Raises:
        CertsealError: the trust list does not verify, or a school is not in it.
    """
    trust_list = read_trust_list(trust_dir, root, now)
    copied = []
    for sid, folder in sorted((schools or {}).items()):
        if sid not in trust_list.schools:
            raise InputError(f"school {sid} is not in the trust list", f"信任清單中沒有學校 {sid}")
        copied.append(sid)
        mirror_status(out_dir, sid, folder)
    return build_national_site(
        out_dir,
        trust_list=trust_list,
        root=root,
        now=now,
        mirrored=frozenset(copied),
        verifier_url=verifier_url,
    )
