"""Issue 15, the verifier's half: times in sentences written for people (the reader's language,
the school's time zone), a listed file's checks saying they were proven by the status list, a
warning that looks like a warning, and advice for every reason, ``busy`` and the national codes
among them. The JSON fields keep their RFC 3339 times."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import render_template

from certseal.errors import ConfigurationError
from certseal.timeutil import people_time, people_times
from tests.conftest import Issued
from tests.verifier.conftest import verifier_config
from verifier.app import create_app
from verifier.config import VerifierConfig
from verifier.messages import CHECKS, NEXT_STEPS, Lang, next_steps, reason_message, ui
from verifier.pdfcheck import SIGNATURE_CHECKS, proven_by_status_list
from verifier.result import FAILURE_CODES, WARNING_CODES, Check, Reason, Verification, page_view

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "people_times.json"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# The national verifier's codes (docs/verifier.md), each with advice of its own.
NATIONAL = (
    "school_not_in_trust_list",
    "school_not_active",
    "key_not_valid_at_issuance",
    "key_compromised",
    "status_list_of_another_school",
    "listed_by_another_school",
    "school_suspended",
)


@pytest.mark.parametrize("case", json.loads(VECTORS.read_text("utf-8"))["cases"])
def test_the_shared_vectors(case: dict[str, str]) -> None:
    for lang in ("zh-TW", "en"):
        assert people_time(case["time"], lang, case["zone"]) == case[lang]


def test_an_unknown_zone_is_refused_by_name(issued: Issued, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown time zone 'Mars/Olympus'"):
        people_time("2026-11-30T08:46:39Z", "en", "Mars/Olympus")
    with pytest.raises(ConfigurationError, match="unknown time zone 'Nowhere/X'"):
        VerifierConfig.from_dict(verifier_config(issued, tmp_path, time_zone="Nowhere/X"))
    cfg = VerifierConfig.from_dict(verifier_config(issued, tmp_path))
    assert cfg.time_zone == "Asia/Taipei"  # the default: Taiwan's schools


def test_the_issue_sentence_reads_as_a_person_writes_it() -> None:
    """Seen by hand: "已於 2026-11-30T16:46:39Z 核發新版本" beside "2026-11-30 16:46 UTC"."""
    params = {"superseded_at": "2026-11-30T08:46:39Z"}
    zh = reason_message("superseded", "zh-TW", params)
    en = reason_message("superseded", "en", params)
    assert "已於2026年11月30日 下午4:46（臺北時間）核發新版本" in zh
    assert "on 30 November 2026, 4:46 pm Taipei time." in en
    assert not ISO.search(zh + en)
    # The verifier's time-zone setting reaches the sentence.
    assert "3:46 am UTC−5" in reason_message("superseded", "en", params, "America/New_York")
    # A time inside a longer parameter (the national key-window's "revoked on …") too.
    assert people_times("x, revoked on 2026-11-30T08:46:39Z", "en") == (
        "x, revoked on 30 November 2026, 4:46 pm Taipei time"
    )


def test_every_sentence_with_a_time_has_none_left_raw() -> None:
    at = "2026-11-30T08:46:39Z"
    params = {
        k: at
        for k in (
            "revoked_at",
            "superseded_at",
            "expires",
            "issued_at",
            "since",
            "valid_from",
            "valid_to",
            "logged_at",
        )
    }
    for code in (*FAILURE_CODES, *WARNING_CODES):
        for lang in ("zh-TW", "en"):
            assert not ISO.search(reason_message(code, lang, params)), code
    for key in CHECKS:
        assert not ISO.search(Check("x", "failed", key, params).to_dict("zh-TW")["detail"]), key


def test_the_answer_keeps_iso_fields_and_marks_a_warning_check(
    issued: Issued, tmp_path: Path
) -> None:
    app = create_app(verifier_config(issued, tmp_path))
    client = app.test_client()
    body = client.post(
        "/api/v1/verify?lang=zh-TW", data=issued.pdf("superseded"), content_type="application/pdf"
    ).get_json()
    assert body["result"] == "warning"
    doc = body["document"]
    assert ISO.fullmatch(doc["superseded_at"]) and ISO.fullmatch(doc["issued_at"])
    assert ISO.fullmatch(body["status_list"]["expires"])
    (message,) = [r["message"] for r in body["reasons"]]
    assert people_time(doc["superseded_at"], "zh-TW") in message and not ISO.search(message)
    state = next(c for c in body["checks"] if c["name"] == "document_state")
    # ``status`` keeps its three values; the added field says the failure only warns.
    assert state["status"] == "failed" and state["severity"] == "warning"
    assert all("severity" not in c for c in body["checks"] if c is not state)


def test_the_no_javascript_page_writes_times_for_people(issued: Issued, tmp_path: Path) -> None:
    client = create_app(verifier_config(issued, tmp_path)).test_client()
    html = client.post(
        "/verify",
        data={"file": (io.BytesIO(issued.pdf("superseded")), "old.pdf")},
        content_type="multipart/form-data",
    ).text
    text = re.sub(r"<[^>]+>", " ", html)
    assert not ISO.search(text) and " UTC" not in text
    assert "（臺北時間）" in text
    # The machine-readable time stays in the markup.
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', html)


def test_a_listed_files_signature_checks_each_say_the_list_proved_them() -> None:
    facts = proven_by_status_list({"issuer": "Demo University", "issuer_zh": "示範大學"})
    sig = [c for c in facts.checks if c.name in SIGNATURE_CHECKS]
    assert [c.name for c in sig] == list(SIGNATURE_CHECKS)
    cases: tuple[tuple[Lang, str], ...] = (
        ("en", "proven by the status list"),
        ("zh-TW", "由狀態清單證明"),
    )
    for lang, words in cases:
        details = [c.to_dict(lang)["detail"] for c in sig]
        assert all(d.startswith(words) for d in details), details
        assert len(set(details)) == len(details), "each check says what the list proves for it"
        assert all(c.status == "passed" for c in sig)


def test_every_reason_has_its_advice() -> None:
    t = ui("en")
    assert next_steps("failure", ["busy"]) == ["next_busy"]
    assert "Try again" in t["next_busy"]
    # busy sits next to status_unavailable in the rules.
    keys = [key for _, key in NEXT_STEPS]
    assert abs(keys.index("next_busy") - keys.index("next_unavailable")) == 1
    for code in NATIONAL:
        verdict = "warning" if code in WARNING_CODES else "failure"
        (key,) = next_steps(verdict, [code])
        assert key not in ("next_failure", "next_success"), code
        assert t[key] and ui("zh-TW")[key], key
    for _, key in NEXT_STEPS:
        assert t[key] and ui("zh-TW")[key], key


def _page(app: Any, result: Verification, lang: Lang = "en") -> str:
    with app.test_request_context("/verify"):
        return render_template(
            "verify/result.html", lang=lang, t=ui(lang), page=page_view(result, lang)
        )


def test_the_result_page_gives_try_again_for_busy(issued: Issued, tmp_path: Path) -> None:
    app = create_app(verifier_config(issued, tmp_path))
    busy = Verification((Check("pdf_structure", "skipped", "parse_busy"),), (Reason("busy"),))
    html = _page(app, busy)
    assert ui("en")["next_busy"] in html
    assert ui("en")["next_failure"] not in html
    suspended = Verification((), (Reason("school_suspended", {"since": "2026-11-30T08:46:39Z"}),))
    html = _page(app, suspended, "zh-TW")
    assert ui("zh-TW")["next_suspended"] in html and "2026年11月30日" in html
