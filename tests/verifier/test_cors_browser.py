"""The public site on another host, in Debian's chromium: the site is served from one 127.0.0.1
port and calls the verifier on another. A listed origin gets the answer in place, preflight
and all; an origin not listed is refused by the browser (and its upload by the verifier, which
counts nothing), and the site falls back to posting its form, which shows the verifier's page."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.middleware.shared_data import SharedDataMiddleware

from authority.config import DEMO_SCHOOL
from authority.site_build import build_site
from certseal.fetch import published_fetcher
from certseal.pki import TrustStore
from certseal.statuslist import load_trusted
from tests.conftest import NOW, Issued
from tests.site.conftest import chromium
from tests.verifier.conftest import LiveServer, verifier_config
from verifier.app import create_app

VERDICT = "#verdict .verdict"
BUILT = NOW + dt.timedelta(hours=4)  # the fixture publishes at NOW + 3 h


def recorded(app: Any, seen: list[tuple[str, str, int]]) -> Callable[..., Iterable[bytes]]:
    """``app``, noting each request's method, path and status."""

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], int(status[:3])))
            return start_response(status, headers, *rest)

        return app(environ, start)  # type: ignore[no-any-return]

    return wrapper


@dataclass
class Hosts:
    listed: str  # the site's origin the verifier lists
    unlisted: str  # the same site from another origin
    verifier: str
    seen: list[tuple[str, str, int]]


@pytest.fixture(scope="module")
def hosts(issued: Issued, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    tmp = tmp_path_factory.mktemp("cors-browser")
    site = tmp / "site"
    site.mkdir()
    static = SharedDataMiddleware(NotFound(), {"/": str(site)})
    listed, unlisted = LiveServer(static), LiveServer(static)
    seen: list[tuple[str, str, int]] = []
    app = create_app(verifier_config(issued, tmp, cors_origins=[listed.url]))
    verifier = LiveServer(recorded(app, seen))
    published = issued.published
    keys = TrustStore.from_pem([], [(published / "certs" / "statuslist.pem").read_bytes()])
    state = load_trusted(
        published_fetcher(str(published), "status"), keys.status_key, reference_time=BUILT
    )
    certs = {p.name: p.read_bytes() for p in sorted((published / "certs").glob("*.pem"))}
    build_site(
        site,
        school=DEMO_SCHOOL,
        snapshot=state.snapshot,
        certs=certs,
        verifier_url=verifier.url,
        now=BUILT,
    )
    try:
        yield Hosts(listed.url, unlisted.url, verifier.url, seen)
    finally:
        for s in (verifier, listed, unlisted):
            s.stop()


@pytest.fixture(scope="module")
def browser(hosts: Hosts) -> Iterator[Any]:
    # After the site and the documents: Playwright's sync API keeps an asyncio loop running.
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    p = context.new_page()
    p.console_errors = []
    p.on("console", lambda m: p.console_errors.append(m.text) if m.type == "error" else None)
    yield p
    context.close()


def choose_and_verify(page: Any, origin: str, data: bytes) -> None:
    page.goto(origin + "/en/index.html")
    page.set_input_files("#file", {"name": "d.pdf", "mimeType": "application/pdf", "buffer": data})
    page.click("#verify-button")


RAW_FETCH = """async ([url, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  try {
    const r = await fetch(url, {method: "POST", body: bytes, credentials: "omit",
                                headers: {"Content-Type": "application/pdf"}});
    return {status: r.status, body: await r.json()};
  } catch (e) {
    return {error: String(e)};
  }
}"""


def test_a_listed_site_gets_the_answer_in_place(page: Any, hosts: Hosts, issued: Issued) -> None:
    hosts.seen.clear()
    choose_and_verify(page, hosts.listed, issued.pdf("genuine"))
    page.wait_for_selector(f"{VERDICT}:not(.verdict-pending)")
    assert page.locator(VERDICT).get_attribute("data-verdict") == "success"
    assert page.url.startswith(hosts.listed)  # answered on the site itself
    # A raw PDF body needs a preflight: the browser asks, is allowed, and reads the answer.
    pdf = base64.b64encode(issued.pdf("genuine")).decode()
    answer = page.evaluate(RAW_FETCH, [hosts.verifier + "/api/v1/verify", pdf])
    assert answer["status"] == 200 and answer["body"]["result"] == "success"
    assert ("OPTIONS", "/api/v1/verify", 204) in hosts.seen
    assert hosts.seen.count(("POST", "/api/v1/verify", 200)) == 2
    assert not page.console_errors


def test_a_site_not_listed_is_refused_by_the_browser(
    page: Any, hosts: Hosts, issued: Issued
) -> None:
    hosts.seen.clear()
    page.goto(hosts.unlisted + "/en/index.html")
    pdf = base64.b64encode(issued.pdf("genuine")).decode()
    answer = page.evaluate(RAW_FETCH, [hosts.verifier + "/api/v1/verify", pdf])
    assert "error" in answer  # the preflight was refused: the upload was never sent
    assert hosts.seen == [("OPTIONS", "/api/v1/verify", 403)]
    assert any("CORS policy" in e for e in page.console_errors)


def test_a_site_not_listed_falls_back_to_the_verifiers_page(
    page: Any, hosts: Hosts, issued: Issued
) -> None:
    """The site's script cannot read the answer (the verifier refused the upload and sent no
    CORS header): it posts the form itself, and the person sees the verifier's page."""
    hosts.seen.clear()
    with page.expect_navigation(url=hosts.verifier + "/verify"):
        choose_and_verify(page, hosts.unlisted, issued.pdf("genuine"))
    assert ("POST", "/api/v1/verify", 403) in hosts.seen  # refused before it was read
    assert ("POST", "/verify", 200) in hosts.seen
    assert page.locator(".verdict").get_attribute("data-verdict") == "success"
    assert any("CORS policy" in e for e in page.console_errors)
