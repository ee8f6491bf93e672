"""The Verify page in chromium: every outcome shown in place, the keyboard-only and the
no-JavaScript paths, both languages, a phone-sized screen, and axe-core on each state."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from certseal.timeutil import people_time
from tests.conftest import NOW, Issued
from tests.site.conftest import PHONE, Site, axe, new_page, screenshot, tampered, zipped

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VERDICT = "#verdict .verdict"


def verify(page: Any, site: Site, name: str, data: bytes, *, lang_dir: str = "") -> Any:
    """Choose the file on the Verify page, press the button, wait for the verdict in place."""
    page.goto(site.url + lang_dir + "index.html")
    page.set_input_files("#file", {"name": name, "mimeType": "application/pdf", "buffer": data})
    page.click("#verify-button")
    page.wait_for_selector(f"{VERDICT}:not(.verdict-pending)")
    return page.locator(VERDICT)


def reasons(page: Any) -> list[str]:
    return [
        str(c)
        for c in page.locator("#result [data-code]").evaluate_all(
            "els => els.map(e => e.dataset.code)"
        )
    ]


def assert_accessible(page: Any, name: str) -> None:
    serious = axe(page, name)
    assert serious == [], serious


def test_genuine_diploma_is_verified(page: Any, site: Site, issued: Issued) -> None:
    verdict = verify(page, site, "diploma.pdf", issued.pdf("genuine"))
    assert verdict.get_attribute("data-verdict") == "success"
    assert "認證成功" in verdict.inner_text()
    assert verdict.locator(".verdict-icon").inner_text() == "✓"
    # The verdict is in a live region, announced without moving the reader around.
    live = page.locator("#verdict")
    assert live.get_attribute("role") == "status"
    assert live.get_attribute("aria-live") == "polite"
    # Step 3 is the current one; the result heading took the focus.
    assert page.locator(".step[aria-current=step]").get_attribute("data-step") == "3"
    assert page.evaluate("document.activeElement.id") == "result-title"
    facts = page.locator("#result .facts").inner_text()
    # The issue date written for people, in the school's time zone (issue 15).
    issued_day = people_time(NOW, "zh-TW").split()[0]
    assert "中文學位證書" in facts and "國立示範大學" in facts and issued_day in facts
    checks = page.locator("#result .check")
    assert checks.count() >= 8
    assert checks.evaluate_all("els => els.every(e => e.dataset.status === 'passed')")
    assert "通過" in checks.first.inner_text()
    assert "無需其他動作" in page.locator("#result .next").inner_text()
    screenshot(page, "success")
    assert_accessible(page, "result-success")


def test_superseded_diploma_warns_to_ask_for_the_latest(
    page: Any, site: Site, issued: Issued
) -> None:
    verdict = verify(page, site, "old.pdf", issued.pdf("superseded"))
    assert verdict.get_attribute("data-verdict") == "warning"
    assert "認證警告" in verdict.inner_text()
    assert reasons(page) == ["superseded"]
    assert "索取最新版本" in page.locator("#result .next").inner_text()
    # The superseded state is a warning, and looks like one (issue 15), not a failed check.
    assert page.locator("#result .check[data-status=warning]").count() == 1
    screenshot(page, "warning")
    assert_accessible(page, "result-warning")


def test_tampered_file_fails_with_its_reason(page: Any, site: Site, issued: Issued) -> None:
    verdict = verify(page, site, "edited.pdf", tampered(issued.pdf("genuine")))
    assert verdict.get_attribute("data-verdict") == "failure"
    assert "認證失敗" in verdict.inner_text()
    assert "signature_invalid" in reasons(page)
    assert "簽章後遭到修改" in page.locator("#result [data-code=signature_invalid]").inner_text()
    assert "原始附件" in page.locator("#result .next").inner_text()
    screenshot(page, "failure")
    assert_accessible(page, "result-failure")


def test_zip_archive_says_extract_it_first(page: Any, site: Site, issued: Issued) -> None:
    page.goto(site.url + "en/index.html")
    page.set_input_files(
        "#file",
        {
            "name": "diploma.zip",
            "mimeType": "application/zip",
            "buffer": zipped("diploma.pdf", issued.pdf("genuine")),
        },
    )
    # Choosing a file that does not look like a PDF already hints at the problem.
    assert "extract it first" in page.locator("#file-status").inner_text()
    page.click("#verify-button")
    page.wait_for_selector(f"{VERDICT}:not(.verdict-pending)")
    assert page.locator(VERDICT).get_attribute("data-verdict") == "failure"
    assert reasons(page) == ["zip_archive"]
    assert (
        page.locator("#result .next")
        .inner_text()
        .strip()
        .endswith("This is a ZIP archive: extract it first, then upload the PDF inside.")
    )
    screenshot(page, "zip")
    assert_accessible(page, "result-zip")


def test_a_transcript_verifies_three_times_then_warns(
    page: Any, site: Site, issued: Issued
) -> None:
    for used in (1, 2, 3):
        verdict = verify(page, site, "transcript.pdf", issued.pdf("transcript"), lang_dir="en/")
        assert verdict.get_attribute("data-verdict") == "success"
        assert f"{used} of 3 used" in page.locator("#result .facts").inner_text()
    verdict = verify(page, site, "transcript.pdf", issued.pdf("transcript"), lang_dir="en/")
    assert verdict.get_attribute("data-verdict") == "warning"
    assert reasons(page) == ["verification_limit_reached"]
    assert "request a new electronic document" in page.locator("#result .next").inner_text()
    screenshot(page, "limit-reached")
    assert_accessible(page, "result-limit")


def test_verify_another_starts_over(page: Any, site: Site, issued: Issued) -> None:
    verify(page, site, "diploma.pdf", issued.pdf("genuine"))
    page.click("#verify-another")
    assert page.locator("#result").is_hidden()
    assert page.locator("#verdict").inner_text() == ""
    assert page.locator(".step[aria-current=step]").get_attribute("data-step") == "1"
    assert page.evaluate("document.activeElement.id") == "file"


def test_drag_and_drop(page: Any, site: Site, issued: Issued) -> None:
    page.goto(site.url + "index.html")
    page.evaluate(
        """b64 => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.pdf", {type: "application/pdf"}));
            const zone = document.getElementById("dropzone");
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }""",
        base64.b64encode(issued.pdf("genuine")).decode(),
    )
    assert "dropped.pdf" in page.locator("#file-status").inner_text()
    assert page.locator(".step[aria-current=step]").get_attribute("data-step") == "2"
    page.click("#verify-button")
    page.wait_for_selector(f"{VERDICT}:not(.verdict-pending)")
    assert page.locator(VERDICT).get_attribute("data-verdict") == "success"


def test_keyboard_only(page: Any, site: Site, issued: Issued) -> None:
    page.goto(site.url + "index.html")
    # The first Tab reaches the skip link, which jumps to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "file":
            break
    else:
        pytest.fail("Tab never reached the file input")
    # The focus ring shows where the keyboard is.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.locator(":focus").set_input_files(
        {"name": "diploma.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("genuine")}
    )
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "verify-button"
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{VERDICT}:not(.verdict-pending)")
    assert page.locator(VERDICT).get_attribute("data-verdict") == "success"
    assert page.evaluate("document.activeElement.id") == "result-title"
    # Tab goes on from the result to "verify another", and Enter there starts over.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "verify-another":
            break
    else:
        pytest.fail("Tab never reached 'verify another'")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "file"
    screenshot(page, "keyboard-start-over")


def test_without_javascript_the_form_posts_to_the_verifier(
    browser: Any, site: Site, issued: Issued
) -> None:
    page = new_page(browser, java_script_enabled=False)
    try:
        page.goto(site.url + "en/index.html")
        page.set_input_files(
            "#file",
            {"name": "old.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("superseded")},
        )
        with page.expect_navigation():
            page.click("#verify-button")
        assert page.url == site.url + "verify"
        verdict = page.locator(".verdict")
        assert verdict.get_attribute("data-verdict") == "warning"
        assert "Warning" in page.locator("h1").inner_text()
        assert verdict.get_attribute("role") == "status"
        assert reasons_static(page) == ["superseded"]
        assert "latest version" in page.locator(".next").inner_text()
        assert page.locator(".step[aria-current=step]").get_attribute("data-step") == "3"
        assert page.locator("html").get_attribute("lang") == "en"
        screenshot(page, "nojs-result")
        html = page.content()
    finally:
        page.context.close()
    # The same page, checked by axe in a context where axe can run.
    checker = new_page(browser)
    try:
        checker.set_content(html.replace("<head>", f'<head><base href="{site.url}">', 1))
        assert_accessible(checker, "nojs-result")
    finally:
        checker.context.close()


def test_when_script_cannot_reach_the_api_the_form_posts_itself(
    page: Any, site: Site, issued: Issued
) -> None:
    """E.g. a verifier on another origin without CORS: the no-JavaScript path still answers."""
    page.route("**/api/v1/verify", lambda route: route.abort())
    page.goto(site.url + "en/index.html")
    page.set_input_files(
        "#file",
        {"name": "diploma.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("genuine")},
    )
    with page.expect_navigation():
        page.click("#verify-button")
    assert page.url == site.url + "verify"
    assert page.locator(".verdict").get_attribute("data-verdict") == "success"
    page.js_errors.clear()  # the aborted request is logged, on purpose


def reasons_static(page: Any) -> list[str]:
    return [
        str(c)
        for c in page.locator("[data-code]").evaluate_all("els => els.map(e => e.dataset.code)")
    ]


def test_switch_language(page: Any, site: Site, issued: Issued) -> None:
    page.goto(site.url + "faq.html")
    assert page.locator("html").get_attribute("lang") == "zh-Hant-TW"
    page.click("a[hreflang=en]")
    assert page.url == site.url + "en/faq.html"
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Frequently asked questions"
    page.click("nav.site-nav >> text=Verify")
    assert page.url == site.url + "en/index.html"
    verdict = verify(page, site, "diploma.pdf", issued.pdf("genuine"), lang_dir="en/")
    assert "Verified" in verdict.inner_text()
    assert "Chinese diploma" in page.locator("#result .facts").inner_text()
    screenshot(page, "success-en")
    page.click("a[hreflang=zh-Hant-TW]")
    assert page.url == site.url + "index.html"
    assert page.locator("h1").inner_text() == "電子文件驗證"


def test_phone_sized_screen(phone: Any, site: Site, issued: Issued) -> None:
    verdict = verify(phone, site, "diploma.pdf", issued.pdf("genuine"))
    assert verdict.get_attribute("data-verdict") == "success"
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways: {width}px"
    for name in ("index.html", "check.html", "faq.html", "issuers.html", "transparency.html"):
        phone.goto(site.url + name)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} scrolls sideways: {width}px"
    verify(phone, site, "old.pdf", issued.pdf("superseded"))
    # What the phone shows once the result took the focus: the verdict, in view.
    assert phone.locator(VERDICT).is_visible()
    box = phone.locator(VERDICT).bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    screenshot(phone, "phone-warning", full_page=False)


@pytest.mark.parametrize(
    "path",
    [
        f"{lang}{page}.html"
        for lang in ("", "en/")
        for page in ("index", "check", "faq", "issuers", "transparency")
    ],
)
def test_every_page_is_accessible(page: Any, site: Site, path: str) -> None:
    page.goto(site.url + path)
    assert_accessible(page, "page-" + path.replace("/", "-").removesuffix(".html"))
    # Landmarks and a skip link on every page.
    assert page.locator("header").count() == 1
    assert page.locator("nav").count() >= 1
    assert page.locator("main#main").count() == 1
    assert page.locator("a.skip-link[href='#main']").count() == 1
    assert page.locator("h1").count() == 1


def test_the_accessibility_check_finds_problems(page: Any) -> None:
    """axe-core really runs: a page with known defects is not reported clean."""
    page.set_content('<html><body><img src="x.png"><input type="file"></body></html>')
    found = {v["id"] for v in axe(page, "known-bad")}
    assert {"image-alt", "label", "html-has-lang"} <= found


def test_the_verifiers_own_form(page: Any, site: Site, issued: Issued) -> None:
    page.goto(site.url + "verify?lang=zh-TW")
    assert_accessible(page, "verifier-form")
    page.set_input_files(
        "#file", {"name": "x.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("revoked")}
    )
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator(".verdict").get_attribute("data-verdict") == "failure"
    assert "revoked" in reasons_static(page)
    assert "作廢" in page.locator(".reasons").inner_text()
    assert_accessible(page, "verifier-result-revoked")
    screenshot(page, "verifier-revoked")
