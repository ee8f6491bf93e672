"""Issue 15 in chromium: a warning looks like a warning on /, /verify and /check.html; the
site's Verify page and the verifier's own /verify are one design with one wording (titles, step
names, the school's name, the default language); the browser writes times for people by the
same vectors as Python and gives the same advice as the verifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Issued
from tests.site.conftest import Site, new_page, screenshot
from verifier.messages import NEXT_STEPS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "people_times.json"
PDF = "application/pdf"


def _warning_check(page: Any, scope: str) -> dict[str, str]:
    """The one warning check in ``scope``: its icon, status word and colours, as shown."""
    checks = page.locator(f"{scope} .check")
    assert checks.filter(has=page.locator(".check-icon")).count() >= 1
    assert page.locator(f"{scope} .check[data-status=failed]").count() == 0
    warning = page.locator(f"{scope} .check[data-status=warning]")
    assert warning.count() == 1
    shown: dict[str, str] = warning.evaluate(
        """li => ({
            cls: li.className,
            icon: li.querySelector('.check-icon').textContent,
            word: li.querySelector('.check-status').textContent,
            color: getComputedStyle(li.querySelector('.check-status')).color,
            background: getComputedStyle(li.querySelector('.check-status')).backgroundColor,
            iconBackground: getComputedStyle(li.querySelector('.check-icon')).backgroundColor,
        })"""
    )
    return shown


def test_a_superseded_document_looks_like_a_warning_everywhere(
    browser: Any, page: Any, site: Site, issued: Issued
) -> None:
    """Seen by hand: a red ✕ "未通過" for the document state on / and /verify, while
    /check.html showed "! 注意"."""
    old = {"name": "old.pdf", "mimeType": PDF, "buffer": issued.pdf("superseded")}
    # The site's Verify page, with its script.
    page.goto(site.url + "index.html")
    page.set_input_files("#file", old)
    page.click("#verify-button")
    page.wait_for_selector("#verdict .verdict:not(.verdict-pending)")
    on_index = _warning_check(page, "#result")
    screenshot(page, "rough-edges-warning-index")
    # The check without uploading.
    page.goto(site.url + "check.html")
    page.set_input_files("#check-file", old)
    page.click("#check-button")
    page.wait_for_selector("#check-verdict .verdict:not(.verdict-pending)")
    on_check = _warning_check(page, "#check-result")
    # The verifier's own page, without JavaScript.
    nojs = new_page(browser, java_script_enabled=False)
    try:
        nojs.goto(site.url + "verify")
        nojs.set_input_files("#file", old)
        with nojs.expect_navigation():
            nojs.click("button[type=submit]")
        assert nojs.locator(".verdict").get_attribute("data-verdict") == "warning"
        on_verify = _warning_check(nojs, ".checks")
        screenshot(nojs, "rough-edges-warning-verify")
    finally:
        nojs.context.close()
    for shown in (on_index, on_verify, on_check):
        assert shown["icon"] == "!" and shown["word"] == "注意", shown
        assert "check-warning" in shown["cls"].split()
    assert on_index == on_verify == on_check


@pytest.mark.parametrize("lang", ["zh-TW", "en"])
def test_the_two_verify_pages_share_titles_step_names_and_the_school(
    page: Any, site: Site, lang: str
) -> None:
    """Seen by hand: two designs, "1 選擇文件" against "選擇證書", "certseal 數位證書" instead of
    the school, and /verify in English for a browser the site shows in Chinese."""

    def looks(url: str) -> dict[str, Any]:
        page.goto(url)
        shown: dict[str, Any] = page.evaluate(
            """() => ({
                title: document.title,
                lang: document.documentElement.lang,
                h1: document.querySelector('h1').textContent.trim(),
                school: document.querySelector('.brand-school').textContent.trim(),
                steps: [...document.querySelectorAll('.step-label')].map(e => e.textContent),
                stepsLabel: document.querySelector('.steps').getAttribute('aria-label'),
                chooseFile: document.querySelector('label[for=file]').textContent.trim(),
                button: document.querySelector('form button[type=submit]').textContent.trim(),
                nav: [...document.querySelectorAll('.site-nav a')].map(a => a.textContent),
                text: document.body.innerText,
            })"""
        )
        return shown

    # Chromium asks for English (Accept-Language en-US): /verify still follows the site's rule,
    # Chinese unless English was chosen.
    site_page = looks(site.url + ("" if lang == "zh-TW" else "en/") + "index.html")
    own_page = looks(site.url + ("verify" if lang == "zh-TW" else "verify?lang=en"))
    text = own_page.pop("text")
    site_page.pop("text")
    assert own_page == site_page
    assert "certseal" not in text.lower()
    school = "國立示範大學" if lang == "zh-TW" else "National Demonstration University"
    assert own_page["school"] == school and own_page["title"].endswith(" · " + school)
    screenshot(page, f"rough-edges-verify-form-{lang}")


def test_the_browser_writes_times_by_the_shared_vectors(page: Any, site: Site) -> None:
    page.goto(site.url + "index.html")
    cases = json.loads(VECTORS.read_text("utf-8"))["cases"]
    got = page.evaluate(
        """cases => cases.map(c => ({
            zh: window.Certseal.peopleTime(c.time, 'zh-TW', c.zone),
            en: window.Certseal.peopleTime(c.time, 'en', c.zone),
        }))""",
        cases,
    )
    assert got == [{"zh": c["zh-TW"], "en": c["en"]} for c in cases]
    # The page's own zone, unless the build names another: Taipei.
    assert page.evaluate("window.Certseal.peopleTime('2026-11-30T08:46:39Z')") == (
        "2026年11月30日 下午4:46（臺北時間）"
    )


def test_the_browser_gives_the_verifiers_advice(page: Any, site: Site) -> None:
    page.goto(site.url + "index.html")
    rules = page.evaluate("window.Certseal.NEXT_STEPS")
    assert rules == [[list(codes), key] for codes, key in NEXT_STEPS]
    assert page.evaluate("window.Certseal.nextSteps('failure', ['busy'])") == ["next_busy"]
    assert page.evaluate(
        "window.Certseal.nextSteps('failure', ['status_unavailable', 'busy'])"
    ) == [
        "next_unavailable",
        "next_busy",
    ]
