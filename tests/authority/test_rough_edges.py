"""Small things a new user trips over, each seen by hand once and kept fixed here."""

from __future__ import annotations

from pathlib import Path

from authority.production import ParallelProducer, Producer
from authority.service import Authority, IssueRequest
from certseal.doctypes import DOCUMENT_TYPES
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


def test_document_names_keep_their_capitals_inside_sentences(home: Path) -> None:
    """Issue 15: the CLI printed "the paper chinese diploma" and "a chinese-english
    transcript" (the English name lower-cased whole)."""
    with Authority(home) as auth:
        sid = auth.registry.student_ids("courses")[0]
        report = auth.issue(
            [
                IssueRequest("diploma_zh", sid),
                IssueRequest("transcript", sid),
                IssueRequest("degree_certificate_en", sid),
            ],
            now=NOW,
            actor=ACTOR,
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
    messages = [e.message("en") for _, e in report.failed]
    assert "the paper Chinese diploma of" in messages[0]
    assert messages[1].startswith("a Chinese-English transcript is issued for an order")
    assert messages[2].startswith("an English degree certificate is issued for an order")
    assert not any("chinese" in m or "english" in m for m in messages)
    assert DOCUMENT_TYPES["rank_certificate"].in_sentence(article=True) == (
        "a bachelor's rank certificate"
    )


def test_one_document_is_made_in_process_without_starting_workers(home: Path) -> None:
    """Issue 15: issuing one or two documents took about 10 s, the cost of starting a worker
    pool for every call. Small calls are produced in this process; a larger one starts the
    workers (here: over a threshold of one)."""
    with Authority(home) as auth:
        sid = auth.registry.student_ids("courses")[0]
        with ParallelProducer(auth.keys_dir, PASSPHRASE, workers=1) as produce:
            report = auth.issue(
                [IssueRequest("transcript", sid, "ORD-SMALL")],
                now=NOW,
                actor=ACTOR,
                produce=produce,
            )
            assert not produce.started_workers and produce.worker_pids() == []
        assert len(report.issued) == 1 and not report.failed
        pdf = (home / report.issued[0].path).read_bytes()
        assert pdf.startswith(b"%PDF-") and b"/ByteRange" in pdf
        others = auth.registry.student_ids("courses")[1:3]
        with ParallelProducer(auth.keys_dir, PASSPHRASE, workers=1, in_process_max=1) as big:
            report = auth.issue(
                [IssueRequest("transcript", s, "ORD-BIG") for s in others],
                now=NOW,
                actor=ACTOR,
                produce=big,
            )
            assert big.started_workers and len(big.worker_pids()) == 1
        assert len(report.issued) == 2 and not report.failed
