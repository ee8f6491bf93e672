"""The national site in chromium: a federation of four real authorities (the session's issuing
school, DEMO, among them), its trust list published and the site built by the operator
(federation/site.py), served from 127.0.0.1.

The check without uploading works for any school: the browser verifies the trust list from the
root built into the page, then the chosen school's status list with the keys the trust list
gives. DEMO was suspended for a while: what it issued then is refused, what it issued after its
reinstatement is valid. A forged or rolled-back trust list is refused. Every page passes axe.
"""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from authority.config import DEMO_SCHOOL
from authority.onboarding import prepare_request
from certseal.statuslist import sha256_hex
from certseal.trustlist import group_of, metadata_path
from federation.site import build_from_operator
from tests.conftest import NOW, PASSPHRASE, Issued
from tests.federation.conftest import T0, make_federation
from tests.site.conftest import FROZEN, axe, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VERDICT = "#check-verdict .verdict"


@dataclass(frozen=True)
class National:
    url: str
    folder: Path
    certs: dict[str, list[str]]  # school id -> its certificates' SHA-256, as the list gives them


def _static(folder: Path) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        target = (folder / path.lstrip("/")).resolve()
        if path.endswith("/"):
            target = target / "index.html"
        if (folder not in target.parents and target != folder) or not target.is_file():
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        body = target.read_bytes()
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith(("javascript", "json")):
            kind += "; charset=utf-8"
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    return app


@pytest.fixture(scope="module")
def national(issued: Issued, tmp_path_factory: pytest.TempPathFactory) -> Iterator[National]:
    base = tmp_path_factory.mktemp("national")
    fed = make_federation(base)
    demo = prepare_request(
        issued.home / "keys",
        PASSPHRASE,
        DEMO_SCHOOL,
        domains=["demo.edu.tw"],
        status_list_url="https://verify.demo.edu.tw/status/",
        log_url="https://verify.demo.edu.tw/log/",
        now=T0 + dt.timedelta(hours=4),
    ).data
    late = NOW + dt.timedelta(hours=2)
    with fed.operator() as op:
        roots = fed.roots[:2]
        op.accept_request(demo, now=T0 + dt.timedelta(hours=4), signers=roots, online=fed.online)
        op.set_state(
            "NTCU", "merged", successor="NTHU", at=T0 + dt.timedelta(hours=5),
            now=T0 + dt.timedelta(hours=5), signers=roots, online=fed.online,
        )  # fmt: skip
        # DEMO suspended from before it issued the session's documents until after the first
        # ones: its genuine diploma (issued at NOW) was issued while it was suspended.
        op.set_state(
            "DEMO", "suspended", at=NOW - dt.timedelta(hours=2), now=late,
            signers=roots, online=fed.online,
        )  # fmt: skip
        op.set_state(
            "DEMO", "active", at=NOW + dt.timedelta(minutes=30), now=late + dt.timedelta(minutes=1),
            signers=roots, online=fed.online,
        )  # fmt: skip
        op.refresh(now=NOW + dt.timedelta(hours=3), online=fed.online)
        site = base / "site"
        op.publish(site)
        tl = op.trust_list(NOW + dt.timedelta(hours=3))
    root = (site / "trust" / metadata_path("root", 1)).read_bytes()
    build_from_operator(site, site / "trust", root, now=FROZEN, schools={"DEMO": issued.published})
    certs = {sid: sorted(k.cert_sha256 for k in s.keys) for sid, s in tl.schools.items()}
    server = make_server("127.0.0.1", 0, _static(site), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield National(f"http://127.0.0.1:{server.server_port}/", site, certs)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that logs no error but one: TUF's probe for a newer root answers 404 until the
    root is rotated, and chromium logs every 404."""
    p = new_page(browser)
    probes: list[str] = []
    p.on("response", lambda r: probes.append(r.url) if r.status == 404 else None)
    yield p
    errors = p.js_errors
    p.context.close()
    unexpected_404 = [u for u in probes if not u.endswith(".root.json")]
    other = [e for e in errors if "status of 404" not in e]
    assert not unexpected_404 and not other, f"the page logged errors: {errors} {probes}"


def check(page: Any, national: National, school: str, data: bytes, lang_dir: str = "") -> Any:
    page.goto(national.url + lang_dir + "check.html")
    if school:
        page.select_option("#check-school", school)
    page.set_input_files(
        "#check-file", {"name": "doc.pdf", "mimeType": "application/pdf", "buffer": data}
    )
    page.click("#check-button")
    page.wait_for_selector(f"{VERDICT}:not(.verdict-pending)")
    return page.locator(VERDICT)


def test_a_document_of_any_school_checked_from_the_trust_list(
    page: Any, national: National, issued: Issued
) -> None:
    requests: list[tuple[str, str]] = []
    page.on("request", lambda r: requests.append((r.method, r.url)))
    verdict = check(page, national, "DEMO", issued.pdf("successor"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "active"
    assert verdict.get_attribute("data-verdict") == "success"
    steps = page.locator("#check-result .check")
    assert steps.evaluate_all("els => els.every(e => e.dataset.status === 'passed')")
    text = page.locator("#check-result").inner_text()
    assert "4 schools" in text and "National Demonstration University (DEMO)" in text
    assert sha256_hex(issued.pdf("successor")) in text
    assert all(m == "GET" for m, _ in requests)
    trust = [u.split("/trust/metadata/")[1] for _, u in requests if "/trust/metadata/" in u]
    # The trust list once: a probe for a newer root, then the chosen school's group and role.
    kinds = sorted(p.split(".", 1)[-1] if p[0].isdigit() else p for p in trust)
    assert kinds == sorted(
        [
            "DEMO.json",
            f"{group_of('DEMO')}.json",
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json",
        ]
    )
    assert trust[0] == "2.root.json"
    status = [u.split("/schools/DEMO/status/")[1] for _, u in requests if "/status/" in u]
    assert [s.split("/")[0] for s in status] == ["timestamp.json", "snapshot", "buckets", "shards"]
    screenshot(page, "national-check-success")
    assert axe(page, "national-check-success") == []


def test_what_a_school_issued_while_suspended_is_refused(
    page: Any, national: National, issued: Issued
) -> None:
    verdict = check(page, national, "DEMO", issued.pdf("genuine"))
    assert verdict.get_attribute("data-state") == "school_inactive"
    assert verdict.get_attribute("data-verdict") == "failure"
    failed = page.locator("#check-result .check[data-status=failed]")
    assert failed.count() == 1 and "不是運作中的學校" in failed.inner_text()
    assert axe(page, "national-check-inactive") == []


def test_the_school_must_be_chosen(page: Any, national: National, issued: Issued) -> None:
    page.goto(national.url + "en/check.html")
    page.set_input_files(
        "#check-file",
        {"name": "doc.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("genuine")},
    )
    page.click("#check-button")
    assert (
        page.locator("#check-error").inner_text() == "Choose the school that issued the document."
    )
    assert page.evaluate("document.activeElement.id") == "check-school"
    assert page.locator(VERDICT).count() == 0


def test_a_forged_trust_list_is_refused(page: Any, national: National, issued: Issued) -> None:
    def forge(route: Any) -> None:
        response = route.fetch()
        md = json.loads(response.body())
        for target in md["signed"]["targets"].values():
            target["custom"]["school"]["name_en"] = "Forged University"
        route.fulfill(response=response, body=json.dumps(md))

    page.route(f"**/trust/metadata/*.{group_of('DEMO')}.json", forge)
    verdict = check(page, national, "DEMO", issued.pdf("successor"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "error"
    assert "signature" in verdict.inner_text()


def test_a_rolled_back_trust_list_is_refused(page: Any, national: National, issued: Issued) -> None:
    page.goto(national.url + "check.html")
    page.evaluate(
        "localStorage.setItem('certseal:trust-list-seen', JSON.stringify({timestamp: 999}))"
    )
    verdict = check(page, national, "DEMO", issued.pdf("successor"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "error"
    assert "rollback" in verdict.inner_text()


def test_an_expired_trust_list_is_refused(page: Any, national: National, issued: Issued) -> None:
    page.clock.set_fixed_time(FROZEN + dt.timedelta(days=2))
    verdict = check(page, national, "DEMO", issued.pdf("successor"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "error"
    assert "trust list has expired" in verdict.inner_text()


def test_the_schools_are_listed_and_searchable(page: Any, national: National) -> None:
    page.goto(national.url + "schools.html")
    items = page.locator("#school-list > li")
    assert items.count() == 4
    ntcu = page.locator("#school-NTCU")
    assert ntcu.get_attribute("data-state") == "merged"
    assert "NTHU" in ntcu.inner_text() and "已合併" in ntcu.inner_text()
    for sid, certs in national.certs.items():
        shown = page.locator(f"#school-{sid} .fingerprint").all_inner_texts()
        assert sorted(shown) == certs
    page.fill("#school-filter", "清華")
    assert page.locator("#school-list > li:visible").count() == 1
    assert page.locator("#school-count").inner_text() == "顯示 1 所，共 4 所"
    page.fill("#school-filter", "kaohsiung")
    assert [e.get_attribute("id") for e in page.locator("#school-list > li:visible").all()] == [
        "school-NKUST"
    ]
    page.fill("#school-filter", "no such school")
    assert page.locator("#school-none").is_visible()
    page.fill("#school-filter", "")
    screenshot(page, "national-schools")
    assert axe(page, "national-schools") == []


@pytest.mark.parametrize("name", ["index", "en/index", "trust", "en/schools", "check"])
def test_every_national_page_passes_axe(page: Any, national: National, name: str) -> None:
    page.goto(national.url + name + ".html")
    assert page.locator("nav a[aria-current=page]").count() == 1
    assert axe(page, "national-" + name.replace("/", "-")) == []
