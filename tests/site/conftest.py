"""The public site in a real browser: the site is built into the session authority's published
folder, served with a real verifier on 127.0.0.1, and driven by Debian's chromium.

Both clocks are frozen at the same moment, a little after the fixture's publication: the
verifier's (``verifier.app.utcnow``) and the page's (Playwright's clock), so nothing depends on
the day the tests run.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from authority.config import DEMO_SCHOOL
from authority.site_build import build_site
from certseal.fetch import published_fetcher
from certseal.pki import TrustStore
from certseal.statuslist import load_trusted
from tests.conftest import NOW, Issued
from verifier.app import create_app

sync_api = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
FROZEN = NOW + dt.timedelta(hours=4)  # the fixture publishes at NOW + 3 h, valid for 7 days
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Site:
    """The built site, served with the verifier."""

    url: str  # ends with a slash
    folder: Path
    files: tuple[Path, ...]


@pytest.fixture(scope="session")
def built_site(issued: Issued) -> tuple[Path, ...]:
    published = issued.published
    keys = TrustStore.from_pem([], [(published / "certs" / "statuslist.pem").read_bytes()])
    state = load_trusted(
        published_fetcher(str(published), "status"), keys.status_key, reference_time=FROZEN
    )
    certs = {p.name: p.read_bytes() for p in sorted((published / "certs").glob("*.pem"))}
    return tuple(
        build_site(published, school=DEMO_SCHOOL, snapshot=state.snapshot, certs=certs, now=FROZEN)
    )


def verifier_config(issued: Issued, counts_db: Path, **extra: Any) -> dict[str, Any]:
    """A verifier trusting the session's authority and serving its published site."""
    return {
        "issuers": [
            {
                "name": "demo",
                "trust_dir": str(issued.home / "keys"),
                "source": str(issued.published),
            }
        ],
        "counts_db": str(counts_db),
        "site_dir": str(issued.published),
        **extra,
    }


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 for the block; yields its URL, ending with a slash."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture(scope="session")
def site(
    issued: Issued, built_site: tuple[Path, ...], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("site-verifier")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("verifier.app.utcnow", lambda: FROZEN)
        app = create_app(verifier_config(issued, tmp / "counts.sqlite"))
        with serving(app) as url:
            yield Site(url, issued.published, built_site)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    # Playwright's sync API keeps an asyncio loop running while it is open, and signing (in
    # the session's ``issued``) runs its own: so the site, and the documents, come first, and
    # the browser closes with each module, before other tests sign anything.
    with chromium() as b:
        yield b


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright, closed on the way out (skips when not installed)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(browser: Any, *, viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    if options.get("java_script_enabled", True):
        page.clock.set_fixed_time(FROZEN)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.js_errors = errors
    return page


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    p = new_page(browser)
    yield p
    errors = p.js_errors
    p.context.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    p = new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    yield p
    p.context.close()


def tampered(pdf: bytes) -> bytes:
    """The genuine PDF with one bit flipped in the middle of its signed bytes."""
    data = bytearray(pdf)
    data[len(data) // 2] ^= 0x01
    return bytes(data)


def zipped(name: str, pdf: bytes) -> bytes:
    """A ZIP archive holding the PDF, as a mail program might deliver it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, pdf)
    return buf.getvalue()


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a picture for people to look at (test-artifacts/ is not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def axe(page: Any, name: str) -> list[dict[str, Any]]:
    """Run axe-core in the page; save every violation, return the serious and critical ones."""
    results = axe_module.Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
    )
    violations: list[dict[str, Any]] = results.response["violations"]
    out = ARTIFACTS / "axe"
    out.mkdir(parents=True, exist_ok=True)
    summary = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]],
        }
        for v in violations
    ]
    (out / f"{name}.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    return [v for v in summary if v["impact"] in ("serious", "critical")]
