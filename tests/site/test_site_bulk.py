"""The Bulk page in chromium, against real verifiers on 127.0.0.1: a folder and many files sent
to the batch endpoint (split by the page's limits, and again when a verifier refuses a part as
too many), the table in both languages, the CSV download's bytes, the progress indicator while
requests are held, signed receipts checked with the foundation's checker, keyboard-only use,
and axe with no violation at all."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certseal.pki import load_certificates
from certseal.receipt import check_receipt
from certseal.timeutil import people_time
from tests.conftest import NOW, Issued
from tests.site.conftest import (
    ARTIFACTS,
    FROZEN,
    PHONE,
    Site,
    axe,
    new_page,
    screenshot,
    serving,
    tampered,
    verifier_config,
    zipped,
)
from verifier.app import create_app
from verifier.receipt import new_receipt_key

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BATCH = "**/api/v1/verify/batch"
CERT_PATH = "/api/v1/receipt-certificate"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def receipt_site(issued: Issued, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A second verifier serving the same site, with a receipt key and a batch limit of three
    files (below the page's 100, so the page must split what it is refused)."""
    tmp = tmp_path_factory.mktemp("bulk-receipts")
    key, cert = new_receipt_key(tmp / "receipt", "bulk.test", FROZEN - dt.timedelta(days=1))
    app = create_app(
        verifier_config(
            issued,
            tmp / "counts.sqlite",
            receipt_key=str(key),
            receipt_cert=str(cert),
            receipt_name="bulk.test",
            batch_max_files=3,
        ),
        clock=lambda: FROZEN,
    )
    with serving(app) as url:
        yield Site(url, issued.published, ())


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page whose console must stay clean, but for the one 404 the page asks for on purpose:
    a verifier without a receipt key has no receipt certificate to give."""
    p = new_page(browser)
    errors: list[str] = []

    def on_console(m: Any) -> None:
        if m.type == "error" and not m.location.get("url", "").endswith(CERT_PATH):
            errors.append(m.text)

    p.on("console", on_console)
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.bulk_errors = errors
    yield p
    p.context.close()
    assert not errors, f"the page logged errors: {errors}"


def no_violations(page: Any, name: str) -> None:
    """axe-core finds nothing, whatever its impact (conftest's helper returns serious ones)."""
    axe(page, name)
    found = json.loads((ARTIFACTS / "axe" / f"{name}.json").read_text("utf-8"))
    assert found == [], found


def chosen(page: Any) -> str:
    """What the page says of the files chosen, once it has looked at them."""
    page.wait_for_selector("#bulk-selection p")
    return str(page.locator("#bulk-selection").inner_text())


def answers(page: Any) -> list[Any]:
    """The batch endpoint's responses to this page, read once the run is over."""
    out: list[Any] = []
    page.on("response", lambda r: out.append(r) if r.url.endswith("/verify/batch") else None)
    return out


def start(page: Any) -> None:
    page.click("#bulk-button")
    finished(page)


def finished(page: Any) -> None:
    page.wait_for_selector("#bulk-again:not([hidden])")


def rows(page: Any) -> list[dict[str, str]]:
    """The table as the person sees it, one dict per row."""
    out: list[dict[str, str]] = page.locator("#bulk-rows tr").evaluate_all(
        """trs => trs.map(tr => ({
            name: tr.cells[0].innerText, verdict: tr.dataset.verdict, codes: tr.dataset.codes,
            word: tr.cells[1].innerText, reason: tr.cells[2].innerText,
            type: tr.cells[3].innerText, school: tr.cells[4].innerText,
            issued: tr.cells[5].innerText}))"""
    )
    return out


def download(page: Any, selector: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.click(selector)
    d = info.value
    return d.suggested_filename, Path(d.path()).read_bytes()


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte-order mark: Excel would garble Chinese"
    text = data[3:].decode("utf-8")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline="")))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def held_routes(page: Any) -> list[Any]:
    """Batch requests held until the test lets each one go on to the real verifier."""
    held: list[Any] = []
    page.route(BATCH, lambda route: held.append(route))
    return held


def wait_for(page: Any, held: list[Any], n: int) -> None:
    for _ in range(200):
        if len(held) >= n:
            return
        page.wait_for_timeout(50)
    pytest.fail(f"the page sent {len(held)} batch requests, not {n}")


def test_a_folder_becomes_a_table_and_a_csv(
    page: Any, site: Site, issued: Issued, tmp_path: Path
) -> None:
    folder = tmp_path / "收件匣"
    (folder / "sub").mkdir(parents=True)
    files = {
        "收件匣/畢業證書.pdf": issued.pdf("genuine"),
        "收件匣/sub/old.pdf": issued.pdf("superseded"),
        "收件匣/edited.pdf": tampered(issued.pdf("genuine")),
        "收件匣/=cmd.txt": b"a note, not a document",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    page.goto(site.url + "bulk.html")
    assert page.locator("#bulk-form").is_visible()
    page.wait_for_load_state("networkidle")
    # This verifier has no receipt key: no receipt is offered.
    assert page.locator("#bulk-receipt-box").is_hidden()
    page.set_input_files("#bulk-folder", str(folder))
    assert "已選擇 4 個檔案" in chosen(page)
    assert "已略過 1 個系統隱藏檔" in chosen(page)
    assert page.locator("#bulk-selection").get_attribute("role") == "status"
    start(page)

    table = {r["name"]: r for r in rows(page)}
    assert sorted(table) == sorted(files)
    genuine = table["收件匣/畢業證書.pdf"]
    assert genuine["verdict"] == "success" and genuine["word"].endswith("認證成功")
    assert genuine["type"] == "中文學位證書" and genuine["school"] == "國立示範大學"
    # Written for people, as on the Verify page: the school's zone, the reader's language.
    assert genuine["issued"].startswith(people_time(NOW, "zh-TW").split()[0])
    assert genuine["issued"].endswith("（臺北時間）")
    old = table["收件匣/sub/old.pdf"]
    assert (old["verdict"], old["codes"]) == ("warning", "superseded")
    edited = table["收件匣/edited.pdf"]
    assert edited["verdict"] == "failure" and "signature_invalid" in edited["codes"]
    assert "簽章後遭到修改" in edited["reason"]
    note = table["收件匣/=cmd.txt"]
    assert (note["verdict"], note["codes"]) == ("failure", "not_pdf")
    assert note["type"] == note["school"] == note["issued"] == ""
    assert (
        "共 4 筆：認證成功 1、認證警告 1、認證失敗 2、未檢查 0"
        in page.locator("#bulk-summary").inner_text()
    )
    # The results took the focus; the table has a caption and row headers for screen readers.
    assert page.evaluate("document.activeElement.id") == "bulk-results-title"
    assert page.locator("#bulk-table caption").inner_text() == "每個檔案的驗證結果"
    assert page.locator("#bulk-rows th[scope=row]").count() == 4
    assert page.locator("#bulk-download-list a").count() == 1  # the CSV, no receipt
    screenshot(page, "bulk-folder")
    no_violations(page, "bulk-result-zh")

    name, data = download(page, "#bulk-download-list a")
    assert name.endswith(".csv")
    header, *body = read_csv(data)
    assert header == ["檔名", "結果", "原因", "文件類型", "學校", "核發時間", "檔案指紋（SHA-256）"]
    by_name = {r[0]: r for r in body}
    assert len(body) == 4
    assert by_name["收件匣/畢業證書.pdf"][1:5] == ["認證成功", "", "中文學位證書", "國立示範大學"]
    assert by_name["收件匣/edited.pdf"][1] == "認證失敗"
    assert "簽章後遭到修改" in by_name["收件匣/edited.pdf"][2]
    # Every row carries its file's SHA-256, also where the verifier found no document.
    for shown, row in by_name.items():
        assert row[6] == sha(files[shown]), shown


def test_formula_names_are_neutralised_in_the_csv(page: Any, site: Site) -> None:
    page.goto(site.url + "en/bulk.html")
    page.set_input_files(
        "#bulk-files",
        [
            {"name": "=HYPERLINK(1).pdf", "mimeType": "application/pdf", "buffer": b"x"},
            {"name": 'a "quoted", name.pdf', "mimeType": "application/pdf", "buffer": b"y"},
        ],
    )
    start(page)
    _, data = download(page, "#bulk-download-list a")
    names = [r[0] for r in read_csv(data)[1:]]
    assert names == ["'=HYPERLINK(1).pdf", 'a "quoted", name.pdf']


def test_english_page_with_a_zip_file(page: Any, site: Site, issued: Issued) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a/diploma.pdf", issued.pdf("genuine"))
        z.writestr("a/revoked.pdf", issued.pdf("revoked"))
    page.goto(site.url + "en/bulk.html")
    assert page.locator("h1").inner_text() == "Verify many documents at once"
    page.set_input_files(
        "#bulk-files",
        [
            {"name": "docs.zip", "mimeType": "application/zip", "buffer": archive.getvalue()},
            {"name": "old.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("superseded")},
        ],
    )
    start(page)
    table = {r["name"]: r for r in rows(page)}
    assert set(table) == {"docs.zip/a/diploma.pdf", "docs.zip/a/revoked.pdf", "old.pdf"}
    assert table["docs.zip/a/diploma.pdf"]["word"].endswith("Verified")
    assert table["docs.zip/a/diploma.pdf"]["type"] == "Chinese diploma"
    assert table["docs.zip/a/diploma.pdf"]["issued"].endswith(" Taipei time")
    assert table["docs.zip/a/revoked.pdf"]["verdict"] == "failure"
    assert "revoked" in table["docs.zip/a/revoked.pdf"]["codes"]
    assert table["old.pdf"]["word"].endswith("Warning")
    assert (
        "3 rows: 1 verified, 1 with a warning, 1 failed, 0 not checked"
        in page.locator("#bulk-summary").inner_text()
    )
    _, data = download(page, "#bulk-download-list a")
    header, *body = read_csv(data)
    assert header == [
        "File name",
        "Result",
        "Reason",
        "Document type",
        "School",
        "Issued",
        "File fingerprint (SHA-256)",
    ]
    assert {r[0]: r[6] for r in body}["docs.zip/a/revoked.pdf"] == sha(issued.pdf("revoked"))
    no_violations(page, "bulk-result-en")


def test_a_refused_archive_is_listed_and_the_rest_still_checked(
    page: Any, site: Site, issued: Issued
) -> None:
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../escape.pdf", issued.pdf("genuine"))
    page.goto(site.url + "en/bulk.html")
    page.set_input_files(
        "#bulk-files",
        [
            {"name": "a.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("genuine")},
            {"name": "evil.zip", "mimeType": "application/zip", "buffer": evil.getvalue()},
            {"name": "b.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("genuine")},
        ],
    )
    start(page)
    table = {r["name"]: r for r in rows(page)}
    assert [table[n]["verdict"] for n in ("a.pdf", "evil.zip", "b.pdf")] == [
        "success",
        "unchecked",
        "success",
    ]
    assert table["evil.zip"]["word"].endswith("Not checked")
    assert table["evil.zip"]["reason"].startswith("Its batch was not checked: ")
    assert "escape.pdf" in table["evil.zip"]["reason"]
    page.bulk_errors.clear()  # the browser logs the refusal's 400, as it does any


def test_progress_while_the_batches_run(page: Any, site: Site, tmp_path: Path) -> None:
    """105 files: two requests (100 + 5), the indicator counting files done between them."""
    files = [
        {"name": f"note-{i:03}.txt", "mimeType": "text/plain", "buffer": f"note {i}".encode()}
        for i in range(105)
    ]
    held = held_routes(page)
    page.goto(site.url + "bulk.html")
    page.set_input_files("#bulk-files", files)
    assert "將分成 2 批依序送出" in chosen(page)
    page.click("#bulk-button")
    wait_for(page, held, 1)
    box = page.locator("#bulk-progress-box")
    assert box.is_visible()
    progress = page.locator("#bulk-progress")
    assert progress.get_attribute("max") == "105"
    assert progress.evaluate("p => p.value") == 0
    text = page.locator("#bulk-progress-text")
    assert text.get_attribute("role") == "status"
    assert text.inner_text() == "驗證中：已完成 0 / 105 個檔案（第 1 / 2 批）……"
    assert page.locator("#bulk-button").is_disabled()
    assert page.locator("#bulk-results").get_attribute("aria-busy") == "true"
    no_violations(page, "bulk-running")
    screenshot(page, "bulk-progress")
    held[0].continue_()
    wait_for(page, held, 2)
    assert progress.evaluate("p => p.value") == 100
    assert text.inner_text() == "驗證中：已完成 100 / 105 個檔案（第 2 / 2 批）……"
    assert page.locator("#bulk-rows tr").count() == 100  # rows appear as each batch ends
    held[1].continue_()
    finished(page)
    assert text.inner_text() == "完成：105 個檔案皆已處理。"
    assert page.locator("#bulk-rows tr[data-verdict=failure]").count() == 105


def test_large_selections_are_split_by_bytes(page: Any, site: Site, tmp_path: Path) -> None:
    paths = []
    for i, size in enumerate((7 * MB, 7 * MB, 7 * MB, 21 * MB)):
        path = tmp_path / f"big-{i}.bin"
        path.write_bytes(bytes([i]) * size)
        paths.append(path)
    sent = answers(page)
    page.goto(site.url + "en/bulk.html")
    page.set_input_files("#bulk-files", [str(p) for p in paths])
    selection = chosen(page)
    assert "they will be sent in 2 batches" in selection
    assert "Files larger than 20 MB cannot be sent (1)" in selection
    start(page)
    assert [[f["size"] for f in r.json()["files"]] for r in sent] == [[7 * MB] * 2, [7 * MB]]
    table = {r["name"]: r for r in rows(page)}
    assert [table[f"big-{i}.bin"]["codes"] for i in range(3)] == ["not_pdf"] * 3
    assert table["big-3.bin"]["verdict"] == "unchecked"
    assert table["big-3.bin"]["reason"] == "Larger than 20 MB: not sent for checking."


def test_receipts_when_the_verifier_signs_them(
    page: Any, receipt_site: Site, issued: Issued
) -> None:
    """Five files to a verifier that takes three at a time: it refuses the page's first
    request, the page sends it again in two, and offers both signed receipts."""
    roles = ("genuine", "superseded", "revoked", "transcript", "successor")
    page.goto(receipt_site.url + "en/bulk.html")
    box = page.locator("#bulk-receipt-box")
    box.wait_for(state="visible")
    assert page.locator("#bulk-receipt").is_checked()
    sent = answers(page)
    page.set_input_files(
        "#bulk-files",
        [
            {"name": f"{i}-{r}.pdf", "mimeType": "application/pdf", "buffer": issued.pdf(r)}
            for i, r in enumerate(roles)
        ],
    )
    start(page)
    got = [r.json() for r in sent]
    assert [(a["reasons"][0]["code"] if a["reasons"] else a["count"]) for a in got] == [
        "batch_too_many",
        3,
        2,
    ]
    page.bulk_errors.clear()  # the browser logs the refusal's 400, as it does any
    verdicts = [r["verdict"] for r in rows(page)]
    assert verdicts == ["success", "warning", "failure", "success", "success"]
    links = page.locator("#bulk-download-list a")
    assert links.count() == 4  # the CSV, two receipts, the certificate
    assert "Signed receipt: batch 2 (2 files)" in links.nth(2).inner_text()
    assert page.locator("#bulk-receipt-howto").is_visible()
    _, pem = download(page, "#bulk-download-list li:nth-child(4) a")
    cert = load_certificates(pem)[0]
    listed = {}
    for n in (2, 3):
        name, data = download(page, f"#bulk-download-list li:nth-child({n}) a")
        assert name.endswith(".json")
        checked = check_receipt(data, certificates=[cert])
        listed.update({f.name: f.sha256 for f in checked.receipt.files})
    assert listed == {f"{i}-{r}.pdf": sha(issued.pdf(r)) for i, r in enumerate(roles)}
    no_violations(page, "bulk-receipts")


def test_without_a_receipt_when_unticked(page: Any, receipt_site: Site, issued: Issued) -> None:
    page.goto(receipt_site.url + "bulk.html")
    page.locator("#bulk-receipt").wait_for(state="visible")
    page.uncheck("#bulk-receipt")
    page.set_input_files(
        "#bulk-files",
        {"name": "a.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("genuine")},
    )
    start(page)
    assert page.locator("#bulk-download-list a").count() == 1
    assert page.locator("#bulk-receipt-howto").is_hidden()


def test_keyboard_only(page: Any, site: Site, issued: Issued) -> None:
    page.goto(site.url + "bulk.html")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    order = []
    for _ in range(20):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
        if order[-1] == "bulk-files":
            break
    else:
        pytest.fail(f"Tab never reached the file input: {order}")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.locator(":focus").set_input_files(
        [
            {"name": "a.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("genuine")},
            {"name": "b.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("superseded")},
        ]
    )
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "bulk-folder"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "bulk-button"
    page.keyboard.press("Enter")
    finished(page)
    assert page.evaluate("document.activeElement.id") == "bulk-results-title"
    # From the results: the CSV link (Enter downloads it), the table, then "verify other files".
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('download')").endswith(".csv")
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    _, *body = read_csv(Path(info.value.path()).read_bytes())
    assert [r[:2] for r in body] == [["a.pdf", "認證成功"], ["b.pdf", "認證警告"]]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "table-scroll"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "bulk-another"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "bulk-files"
    assert page.locator("#bulk-results").is_hidden()
    screenshot(page, "bulk-keyboard-start-over")


def test_drag_and_drop_of_many_files(page: Any, site: Site, issued: Issued) -> None:
    page.goto(site.url + "en/bulk.html")
    page.evaluate(
        """docs => {
            const transfer = new DataTransfer();
            docs.forEach(([name, b64]) => {
                const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, {type: "application/pdf"}));
            });
            const zone = document.getElementById("bulk-dropzone");
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }""",
        [
            [name, base64.b64encode(issued.pdf(role)).decode()]
            for name, role in (("x.pdf", "genuine"), ("y.pdf", "revoked"), ("z.pdf", "genuine"))
        ],
    )
    page.wait_for_selector("#bulk-selection p")
    assert "Chosen: 3 files" in page.locator("#bulk-selection").inner_text()
    start(page)
    assert [(r["name"], r["verdict"]) for r in rows(page)] == [
        ("x.pdf", "success"),
        ("y.pdf", "failure"),
        ("z.pdf", "success"),
    ]


def test_clear_messages_before_anything_is_sent(page: Any, site: Site, tmp_path: Path) -> None:
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/verify/batch") else None)
    page.goto(site.url + "en/bulk.html")
    page.click("#bulk-button")
    error = page.locator("#bulk-error")
    assert error.get_attribute("role") == "alert"
    assert error.inner_text() == "Choose the files or the folder to verify first."
    assert page.evaluate("document.activeElement.id") == "bulk-files"
    folder = tmp_path / "only-junk"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"x")
    (folder / "Thumbs.db").write_bytes(b"y")
    page.set_input_files("#bulk-folder", str(folder))
    assert "There is no file to verify" in page.locator("#bulk-selection").inner_text()
    page.click("#bulk-button")
    assert "There is no file to verify" in error.inner_text()
    assert sent == []
    no_violations(page, "bulk-error")


def test_an_unreachable_verifier_leaves_every_file_listed(
    page: Any, site: Site, issued: Issued
) -> None:
    page.route(BATCH, lambda route: route.abort())
    page.goto(site.url + "en/bulk.html")
    page.set_input_files(
        "#bulk-files",
        [
            {"name": "a.pdf", "mimeType": "application/pdf", "buffer": issued.pdf("genuine")},
            {"name": "b.zip", "mimeType": "application/zip", "buffer": zipped("c.pdf", b"%PDF")},
        ],
    )
    start(page)
    table = rows(page)
    assert [(r["name"], r["verdict"]) for r in table] == [
        ("a.pdf", "unchecked"),
        ("b.zip", "unchecked"),
    ]
    assert all("could not be reached" in r["reason"] for r in table)
    page.bulk_errors.clear()  # the aborted requests are logged, on purpose


@pytest.mark.parametrize("path", ["bulk.html", "en/bulk.html"])
def test_the_page_before_use(page: Any, site: Site, path: str) -> None:
    page.goto(site.url + path)
    page.wait_for_load_state("networkidle")
    no_violations(page, "bulk-page-" + path.replace("/", "-").removesuffix(".html"))
    assert page.locator("nav a[aria-current=page]").get_attribute("href").endswith("bulk.html")
    assert page.locator("#bulk-folder").get_attribute("webkitdirectory") is not None
    assert page.locator("#bulk-files").get_attribute("multiple") is not None


def test_without_javascript_the_page_says_what_to_do(browser: Any, site: Site) -> None:
    p = new_page(browser, java_script_enabled=False)
    try:
        p.goto(site.url + "en/bulk.html")
        assert p.locator("#bulk-form").is_hidden()
        assert "needs JavaScript" in p.locator("main").inner_text()
    finally:
        p.context.close()


def test_phone_sized_screen(browser: Any, site: Site, issued: Issued) -> None:
    phone = new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone.goto(site.url + "bulk.html")
        phone.set_input_files(
            "#bulk-files",
            {
                "name": "a-very-long-file-name-from-an-applicant-2026.pdf",
                "mimeType": "application/pdf",
                "buffer": issued.pdf("genuine"),
            },
        )
        start(phone)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways: {width}px"
        screenshot(phone, "bulk-phone")
    finally:
        phone.context.close()
