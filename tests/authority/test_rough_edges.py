"""Small things a new user trips over, each seen by hand once and kept fixed here."""

from __future__ import annotations

from pathlib import Path

from authority.production import Producer
from authority.service import Authority, IssueRequest
from tests.conftest import ACTOR, NOW, PASSPHRASE
from verifier.messages import reason_message


def test_a_masters_graduate_hears_the_rule_not_a_missing_rank(home: Path) -> None:
    with Authority(home) as auth:
        masters = [
            sid for sid in auth.registry.student_ids() if sid.startswith("M")
        ]  # the sample class's master's students
        assert masters
        report = auth.issue(
            [IssueRequest("rank_certificate", masters[0], "ORD-M1")],
            now=NOW,
            actor=ACTOR,
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
    ((_, error),) = report.failed
    assert "bachelor's graduates only" in error.message("en")
    assert "名次證明限學士班" in error.message("zh-TW")


def test_the_limit_warning_says_please_once() -> None:
    text = reason_message("verification_limit_reached", "zh-TW", {"limit": 3})
    assert "請請" not in text
    assert "請文件持有人重新申請" in text
