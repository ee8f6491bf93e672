"""The static site as files: every page in both languages, no inline code, links that resolve,
the status-list key built into the check page, and an auditor's script that really works."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from authority.config import DEMO_SCHOOL
from authority.site_build import (
    LANGS,
    PAGES,
    SITE_SOURCE,
    build_site,
    content_security_policy,
    load_strings,
    status_keys,
)
from certseal.errors import ConfigurationError
from certseal.fetch import published_fetcher
from certseal.pki import TrustStore
from certseal.statuslist import load_trusted
from tests.conftest import Issued
from tests.site.conftest import FROZEN, Site

REPO = Path(__file__).resolve().parents[2]
PAGE_FILES = [f"{page}.html" for page in PAGES] + [f"en/{page}.html" for page in PAGES]


class Page(HTMLParser):
    """What the tests look at in a page: tags with their attributes, and the text of <code>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.inline_scripts = 0
        self._in: list[str] = []
        self.code: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        self._in.append(a.get("id", "") if tag == "code" else "")

    def handle_endtag(self, tag: str) -> None:
        if self._in:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self.tags and self.tags[-1][0] == "script" and "src" not in self.tags[-1][1]:
            self.inline_scripts += bool(data.strip())
        if self._in and self._in[-1]:
            self.code[self._in[-1]] = self.code.get(self._in[-1], "") + data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


def parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text("utf-8"))
    return p


def test_every_page_in_both_languages(issued: Issued, built_site: tuple[Path, ...]) -> None:
    written = {p.relative_to(issued.published).as_posix() for p in built_site}
    for name in PAGE_FILES:
        assert name in written
        html = parse(issued.published / name)
        lang = html.find("html")[0]["lang"]
        assert lang == ("en" if name.startswith("en/") else "zh-Hant-TW")
        # A language switch on every page, to the same page in the other language.
        switch = html.find("a", hreflang="zh-Hant-TW" if lang == "en" else "en")
        target = urljoin(name, switch[0]["href"])
        assert target == (name.removeprefix("en/") if lang == "en" else f"en/{name}")
    assert {"assets/site.css", "assets/i18n.zh-TW.js", "assets/i18n.en.js"} <= written


def test_no_inline_code_and_a_strict_policy(issued: Issued, built_site: tuple[Path, ...]) -> None:
    for name in PAGE_FILES:
        html = parse(issued.published / name)
        assert html.inline_scripts == 0, name
        assert not html.find("style"), name
        assert not [a for _, a in html.tags if "style" in a], f"inline style in {name}"
        assert not [a for _, a in html.tags if any(k.startswith("on") for k in a)], name
        for _, a in html.tags:
            for attr in ("href", "src", "action"):
                url = a.get(attr, "")
                assert not urlsplit(url).netloc, f"{name} loads from another origin: {url}"
        (meta,) = html.find("meta", http_equiv="Content-Security-Policy")
        assert meta["content"] == content_security_policy("")
        assert "script-src 'self';" in meta["content"]


def test_links_resolve(issued: Issued, built_site: tuple[Path, ...]) -> None:
    for name in PAGE_FILES:
        html = parse(issued.published / name)
        for _, a in html.tags:
            for attr in ("href", "src"):
                url = a.get(attr)
                if not url or url.startswith(("#", "http")):
                    continue
                path = urlsplit(urljoin(name, url)).path
                assert (issued.published / path).is_file(), f"{name}: {url} is missing"


def test_form_posts_to_the_verifier_without_javascript(
    issued: Issued, built_site: tuple[Path, ...]
) -> None:
    for name, lang in (("index.html", "zh-TW"), ("en/index.html", "en")):
        html = parse(issued.published / name)
        (form,) = html.find("form", id="verify-form")
        assert form["method"] == "post"
        assert form["enctype"] == "multipart/form-data"
        assert form["action"] == "/verify"
        assert form["data-api"] == "/api/v1/verify"
        assert html.find("input", type="hidden", name="lang")[0]["value"] == lang
        assert html.find("input", type="file", name="file", id="file")


def test_check_page_embeds_the_status_list_key(
    issued: Issued, built_site: tuple[Path, ...]
) -> None:
    pem = (issued.published / "certs" / "statuslist.pem").read_bytes()
    (expected,) = status_keys({"statuslist.pem": pem})
    for name in ("check.html", "en/check.html"):
        (li,) = parse(issued.published / name).find("li", **{"class": "status-key"})
        assert li["data-keyid"] == expected.keyid
        assert li["data-spki"] == expected.spki_b64


def test_transparency_shows_the_published_list(
    issued: Issued, built_site: tuple[Path, ...]
) -> None:
    keys = TrustStore.from_pem([], [(issued.published / "certs" / "statuslist.pem").read_bytes()])
    state = load_trusted(
        published_fetcher(str(issued.published), "status"), keys.status_key, reference_time=FROZEN
    )
    text = (issued.published / "en" / "transparency.html").read_text("utf-8")
    assert f'<dd id="list-version">{state.version}</dd>' in text
    for status, n in state.snapshot.counts.items():
        assert re.search(rf'<tr data-state="{status}">.*?<td class="num">{n}</td>', text, re.S), (
            status
        )
    assert f"status/snapshot/{state.version}.json" in text


@pytest.mark.parametrize(
    ("log", "shown", "link"),
    [
        (None, False, None),
        (
            {"origin": "o/log", "size": 8, "root": "cm9vdA==", "checkpoint": "log/checkpoints/8"},
            True,
            "log/checkpoints/8",
        ),
        (
            {"origin": "o/log", "size": 8, "root": "cm9vdA==", "checkpoint": "https://x.test/c"},
            True,
            None,
        ),
        (
            {"origin": "o/log", "size": 8, "root": "cm9vdA==", "checkpoint": "../../etc/passwd"},
            True,
            None,
        ),
    ],
)
def test_transparency_log_section(
    issued: Issued, tmp_path: Path, log: dict[str, object] | None, shown: bool, link: str | None
) -> None:
    keys = TrustStore.from_pem([], [(issued.published / "certs" / "statuslist.pem").read_bytes()])
    state = load_trusted(
        published_fetcher(str(issued.published), "status"), keys.status_key, reference_time=FROZEN
    )
    extra = {k: v for k, v in state.snapshot.extra.items() if k != "log"}
    if log is not None:
        extra["log"] = log
    build_site(
        tmp_path,
        school=DEMO_SCHOOL,
        snapshot=dataclasses.replace(state.snapshot, extra=extra),
        certs={"statuslist.pem": (issued.published / "certs" / "statuslist.pem").read_bytes()},
        now=FROZEN,
    )
    html = parse(tmp_path / "en" / "transparency.html")
    assert bool(html.find("dl", id="tlog-facts")) is shown
    links = [a["href"] for a in html.find("a") if "checkpoint" in a.get("href", "")]
    assert links == ([f"../{link}", "../log/checkpoints.json"] if link else [])


def test_issuers_lists_every_certificate_fingerprint(
    issued: Issued, built_site: tuple[Path, ...]
) -> None:
    from certseal.pki import cert_fingerprint, load_certificates

    text = (issued.published / "issuers.html").read_text("utf-8")
    for pem in sorted((issued.published / "certs").glob("*.pem")):
        for cert in load_certificates(pem.read_bytes()):
            assert cert_fingerprint(cert) in text
        assert f'href="certs/{pem.name}"' in text


def test_strings_have_both_languages_and_every_key_used_exists() -> None:
    strings = load_strings()
    assert all(set(v) == set(LANGS) and all(v.values()) for v in strings.values())
    used: set[str] = set()
    for path in (SITE_SOURCE / "templates").rglob("*.html"):
        used |= set(re.findall(r"\bt\.([a-z][a-z0-9_]*)", path.read_text("utf-8")))
    for path in (SITE_SOURCE / "static").glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z][a-z0-9_]*)"\s*[,)]', path.read_text("utf-8")))
    assert used - set(strings) == set()


def test_broken_strings_are_refused(tmp_path: Path) -> None:
    (tmp_path / "strings.toml").write_text('[title]\nen = "Only English"\n')
    with pytest.raises(ConfigurationError, match="must have zh-TW and en"):
        load_strings(tmp_path)


def test_verifier_stylesheet_is_the_site_stylesheet(
    issued: Issued, built_site: tuple[Path, ...]
) -> None:
    """One stylesheet: the site publishes the very file the verifier's pages use."""
    shared = (REPO / "certseal" / "static" / "certseal.css").read_bytes()
    assert (issued.published / "assets" / "site.css").read_bytes() == shared


def test_a_verifier_elsewhere(issued: Issued, tmp_path: Path) -> None:
    keys = TrustStore.from_pem([], [(issued.published / "certs" / "statuslist.pem").read_bytes()])
    state = load_trusted(
        published_fetcher(str(issued.published), "status"), keys.status_key, reference_time=FROZEN
    )
    certs = {"statuslist.pem": (issued.published / "certs" / "statuslist.pem").read_bytes()}
    build_site(
        tmp_path,
        school=DEMO_SCHOOL,
        snapshot=state.snapshot,
        certs=certs,
        verifier_url="https://verify.example.edu.tw/",
        now=FROZEN,
    )
    html = parse(tmp_path / "index.html")
    (form,) = html.find("form", id="verify-form")
    assert form["action"] == "https://verify.example.edu.tw/verify"
    assert form["data-api"] == "https://verify.example.edu.tw/api/v1/verify"
    (meta,) = html.find("meta", http_equiv="Content-Security-Policy")
    assert "connect-src 'self' https://verify.example.edu.tw;" in meta["content"]
    assert "form-action 'self' https://verify.example.edu.tw;" in meta["content"]
    with pytest.raises(ConfigurationError, match="http"):
        build_site(
            tmp_path,
            school=DEMO_SCHOOL,
            snapshot=state.snapshot,
            certs=certs,
            verifier_url="javascript:alert(1)",
            now=FROZEN,
        )


def test_building_needs_the_status_list_certificate(issued: Issued, tmp_path: Path) -> None:
    keys = TrustStore.from_pem([], [(issued.published / "certs" / "statuslist.pem").read_bytes()])
    state = load_trusted(
        published_fetcher(str(issued.published), "status"), keys.status_key, reference_time=FROZEN
    )
    with pytest.raises(ConfigurationError, match=r"statuslist\.pem"):
        build_site(
            tmp_path,
            school=DEMO_SCHOOL,
            snapshot=state.snapshot,
            certs={},
            now=dt.datetime(2026, 6, 22, tzinfo=dt.UTC),
        )


def test_the_auditors_script_on_the_page_works(site: Site) -> None:
    """The program printed on the Transparency page, run as an auditor would run it."""
    script = parse(site.folder / "en" / "transparency.html").code["audit-script"]
    assert DEMO_SCHOOL.verify_url in script
    done = subprocess.run(
        [sys.executable, "-", site.url],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "entries check out" in done.stdout
