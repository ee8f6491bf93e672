"""The machine-readable twin beside the verdict: the engine reads it from listed bytes with a
bounded scan (no parse), the JSON API carries it as an optional field, and the no-JavaScript
page shows it in both languages; a failure shows none, and a twin that does not verify says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from flask import render_template

from tests.conftest import NOW, Issued
from tests.verifier.conftest import verifier_config
from verifier import twin as verifier_twin
from verifier.app import create_app
from verifier.engine import Verifier
from verifier.messages import Lang, ui
from verifier.result import Check, DocumentInfo, Verification, page_view

SPEC = yaml.safe_load(Path("verifier/openapi.yaml").read_text())
SCHEMA = {**SPEC["components"]["schemas"]["Verification"], "components": SPEC["components"]}
WHEN = NOW + dt.timedelta(hours=4)


def printed(path: Path) -> str:
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(out.split())


def test_a_listed_diploma_carries_its_verified_twin_read_without_a_parse(
    engine: Verifier, issued: Issued
) -> None:
    result = engine.verify(issued.pdf("genuine"), WHEN)
    assert result.result == "success"
    assert result.twin is not None and result.twin.verified
    # The scan finds what pyhanko's reader finds in the same file.
    assert result.twin == verifier_twin.read_twin(issued.pdf("genuine"))
    shown = result.twin.to_dict()
    page = printed(issued.paths["genuine"])
    assert shown["holder"] and all(name in page for name in shown["holder"])
    assert shown["achievement_type"] == "BachelorDegree"
    assert "credential" not in shown  # the facts the page prints, not the whole credential


def test_a_warning_still_shows_the_twin_and_a_failure_shows_none(
    engine: Verifier, issued: Issued
) -> None:
    superseded = engine.verify(issued.pdf("superseded"), WHEN)
    assert superseded.result == "warning" and superseded.twin is not None
    revoked = engine.verify(issued.pdf("revoked"), WHEN)
    assert revoked.result == "failure" and revoked.twin is None
    assert "twin" not in revoked.to_dict("en")


def test_a_print_locked_transcript_has_no_twin(engine: Verifier, issued: Issued) -> None:
    result = engine.verify(issued.pdf("transcript"), WHEN)
    assert result.twin is None and "twin" not in result.to_dict("zh-TW")


def test_the_scan_gives_up_on_anything_but_the_authoritys_one_stream(issued: Issued) -> None:
    pdf = issued.pdf("genuine")
    assert verifier_twin.scan_twin(pdf) is not None
    name = b"/Subtype /application#2Fvc+jwt\n"
    assert verifier_twin.scan_twin(pdf + b"\n" + name) is None  # two: which one?
    at = pdf.index(name)
    cut = pdf[: at + 200]  # the stream cut short
    assert verifier_twin.scan_twin(cut) is None
    start = pdf.index(b"stream\n", at) + 7
    damaged = pdf[:start] + b"\x00" * 8 + pdf[start + 8 :]  # not deflate data any more
    assert verifier_twin.scan_twin(damaged) is None
    assert verifier_twin.scan_twin(b"%PDF-1.7\n" + name + b">>\nstream\n") is None


def test_api_carries_the_twin_as_the_contract_says(issued: Issued, tmp_path: Path) -> None:
    app = create_app(verifier_config(issued, tmp_path))
    with app.test_client() as client:
        answer = client.post(
            "/api/v1/verify",
            data={"file": (io.BytesIO(issued.pdf("genuine")), "d.pdf"), "lang": "en"},
            content_type="multipart/form-data",
        )
    body: dict[str, Any] = answer.get_json()
    jsonschema.validate(body, SCHEMA)
    assert body["result"] == "success"
    assert body["twin"]["verified"] is True
    assert body["twin"]["achievement_type"] == "BachelorDegree"


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh-TW", ["文件內附的機器可讀憑證", "憑證簽章", "有效：由簽署本文件的同一把學校金鑰簽署"]),
        ("en", ["Machine-readable credential in the document", "Valid: signed with the school"]),
    ],
)
def test_the_result_page_shows_the_twin_beside_the_verdict(
    issued: Issued, tmp_path: Path, lang: str, words: list[str]
) -> None:
    app = create_app(verifier_config(issued, tmp_path))
    with app.test_client() as client:
        page = client.post(
            f"/verify?lang={lang}",
            data={"file": (io.BytesIO(issued.pdf("genuine")), "d.pdf"), "lang": lang},
            content_type="multipart/form-data",
        ).get_data(as_text=True)
    assert 'data-verdict="success"' in page
    assert 'class="panel twin"' in page and 'data-verified="true"' in page
    for word in words:
        assert word in page
    twin = verifier_twin.scan_twin(issued.pdf("genuine"))
    assert twin is not None
    for name in twin.to_dict()["holder"]:
        assert name in page
    # After the verdict and the document, before the checks.
    assert (
        page.index('data-verdict="success"')
        < page.index("panel twin")
        < page.index('id="checks-title"')
    )


def test_a_twin_that_does_not_verify_is_shown_as_such(issued: Issued, tmp_path: Path) -> None:
    """What the page says of a twin whose signature is not the PDF signer's: not valid, do
    not rely on it (the verdict is the status list's and the signature's)."""
    twin = verifier_twin.scan_twin(issued.pdf("genuine"))
    assert twin is not None
    unverified = verifier_twin.Twin(False, twin.credential)
    result = Verification(
        (Check("status_list", "passed", "status_found", {"version": 1}),),
        (),
        DocumentInfo("0" * 64),
        twin=unverified,
    )
    assert result.to_dict("en")["twin"]["verified"] is False
    app = create_app(verifier_config(issued, tmp_path))
    shown: tuple[tuple[Lang, str], ...] = (
        ("zh-TW", "未通過：並非由簽署本文件的金鑰簽署，請勿採信其內容"),
        ("en", "Not valid: not signed with the key that signed this document"),
    )
    for lang, words in shown:
        with app.test_request_context():
            page = render_template(
                "verify/result.html", lang=lang, t=ui(lang), page=page_view(result, lang)
            )
        assert 'data-verified="false"' in page and words in page


def test_the_same_listed_bytes_are_answered_from_the_twins_seen_lately(issued: Issued) -> None:
    """A listed file verified again costs no second signature check: its twin is remembered
    by the SHA-256 of the listed bytes (any file answered as that entry has the same twin)."""
    pdf = issued.pdf("genuine")
    sha = hashlib.sha256(pdf).hexdigest()
    first = verifier_twin.scan_twin(pdf, sha)
    assert first is not None
    assert verifier_twin.scan_twin(b"%PDF-1.7 not the file", sha) is first
    assert verifier_twin.scan_twin(b"%PDF-1.7 not the file", "0" * 64) is None
    assert verifier_twin.scan_twin(pdf, "0" * 64) is None  # "0" * 64 was remembered: no twin
