"""The check without uploading, in chromium: the browser hashes the file, verifies the signed
status list with the key built into the page, and fetches only the one bucket and shard it needs.
A tampered list, a mismatched pin, an old version and an expired list are each refused or flagged.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from certseal.canonical import canonical_bytes
from certseal.statuslist import sha256_hex
from tests.conftest import Issued
from tests.site.conftest import FROZEN, Site, axe, screenshot, tampered

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VERDICT = "#check-verdict .verdict"


def check(page: Any, site: Site, data: bytes, *, lang_dir: str = "", name: str = "doc.pdf") -> Any:
    page.goto(site.url + lang_dir + "check.html")
    page.set_input_files(
        "#check-file", {"name": name, "mimeType": "application/pdf", "buffer": data}
    )
    page.click("#check-button")
    page.wait_for_selector(f"{VERDICT}:not(.verdict-pending)")
    return page.locator(VERDICT)


def record_requests(page: Any) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    page.on("request", lambda r: seen.append((r.method, r.url)))
    return seen


def test_genuine_is_current_and_the_file_stays_here(page: Any, site: Site, issued: Issued) -> None:
    requests = record_requests(page)
    verdict = check(page, site, issued.pdf("genuine"))
    assert verdict.get_attribute("data-state") == "active"
    assert verdict.get_attribute("data-verdict") == "success"
    assert "有效" in verdict.inner_text()
    steps = page.locator("#check-result .check")
    assert steps.evaluate_all("els => els.every(e => e.dataset.status === 'passed')")
    assert steps.count() == 6
    assert sha256_hex(issued.pdf("genuine")) in page.locator("#check-result").inner_text()
    # Nothing was posted; only the list's files were read, one bucket and one shard.
    status = [u for m, u in requests if "/status/" in u]
    assert all(m == "GET" for m, _ in requests)
    assert [u.split("/status/")[1].split("/")[0] for u in status] == [
        "timestamp.json",
        "snapshot",
        "buckets",
        "shards",
    ]
    assert not [u for _, u in requests if "/api/" in u or u.endswith("/verify")]
    screenshot(page, "check-genuine")
    assert axe(page, "check-genuine") == []


def test_revoked_is_voided(page: Any, site: Site, issued: Issued) -> None:
    verdict = check(page, site, issued.pdf("revoked"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "revoked"
    assert verdict.get_attribute("data-verdict") == "failure"
    text = verdict.inner_text()
    assert "Voided" in text and "The degree was revoked" in text
    assert "Voided on" in page.locator("#check-result .facts").inner_text()
    screenshot(page, "check-revoked")
    assert axe(page, "check-revoked") == []


def test_superseded_and_transcript(page: Any, site: Site, issued: Issued) -> None:
    verdict = check(page, site, issued.pdf("superseded"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "superseded"
    assert verdict.get_attribute("data-verdict") == "warning"
    assert "latest version" in verdict.inner_text()
    # A document with a verification limit: the check says plainly it neither counts nor knows.
    verdict = check(page, site, issued.pdf("transcript"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "active"
    assert "neither counts nor knows" in verdict.inner_text()


def test_a_file_never_issued_is_not_listed(page: Any, site: Site, issued: Issued) -> None:
    verdict = check(page, site, tampered(issued.pdf("genuine")))
    assert verdict.get_attribute("data-state") == "missing"
    assert verdict.get_attribute("data-verdict") == "failure"
    assert "列印成 PDF" in verdict.inner_text()
    assert axe(page, "check-missing") == []


def _body(route: Any) -> dict[str, Any]:
    response = route.fetch()
    return {"response": response, "json": json.loads(response.body())}


def test_a_forged_status_list_is_refused(page: Any, site: Site, issued: Issued) -> None:
    def forge(route: Any) -> None:
        got = _body(route)
        envelope = got["json"]
        envelope["signed"]["expires"] = "2099-01-01T00:00:00Z"  # signature no longer matches
        route.fulfill(response=got["response"], body=json.dumps(envelope))

    page.route("**/status/timestamp.json", forge)
    verdict = check(page, site, issued.pdf("genuine"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "error"
    assert "signature does not verify" in verdict.inner_text()


def test_a_shard_that_does_not_match_its_pin_is_refused(
    page: Any, site: Site, issued: Issued
) -> None:
    def swap(route: Any) -> None:
        got = _body(route)
        shard = got["json"]
        for entry in shard["entries"]:
            entry["state"] = "active"
        route.fulfill(response=got["response"], body=canonical_bytes(shard))

    page.route("**/status/shards/*.json", swap)
    verdict = check(page, site, issued.pdf("revoked"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "error"
    assert "does not match the hash" in verdict.inner_text()


def test_an_older_version_than_seen_is_refused(page: Any, site: Site, issued: Issued) -> None:
    page.goto(site.url + "check.html")
    page.evaluate("localStorage.setItem('certseal:last-seen-version:DEMO', '99')")
    verdict = check(page, site, issued.pdf("genuine"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "error"
    assert "rollback" in verdict.inner_text()


def test_an_expired_list_still_answers_but_warns(page: Any, site: Site, issued: Issued) -> None:
    page.clock.set_fixed_time(FROZEN + dt.timedelta(days=30))
    verdict = check(page, site, issued.pdf("genuine"), lang_dir="en/")
    assert verdict.get_attribute("data-state") == "active"
    assert verdict.get_attribute("data-verdict") == "warning"
    assert "has expired" in verdict.inner_text()
    assert page.locator("#check-result .check[data-status=warning]").count() == 1


def test_canonical_json_matches_python(page: Any, site: Site) -> None:
    """The browser re-creates exactly the bytes Python signs."""
    samples: list[Any] = [
        {"b": 1, "a": [True, False, None], "é": "國立示範大學", "A": {"z": -0, "y": 2**53 - 1}},
        {"ctl": 'tab\tnl\nquote"back\\slash\u0001\u001f\u007f\u2028', "emoji": "😀"},
        {"\ue000": 1, "😀": 2, "a": 3},  # code-point order differs from UTF-16 order here
        [],
        {},
        "",
    ]
    page.goto(site.url + "check.html")
    for sample in samples:
        got = page.evaluate("v => window.CertsealStatusList.canonicalJSON(v)", sample)
        assert got.encode() == canonical_bytes(sample), sample
    with pytest.raises(Exception, match="only integers"):
        page.evaluate("() => window.CertsealStatusList.canonicalJSON({x: 1.5})")
