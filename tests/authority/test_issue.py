"""Issuing in batches: idempotent, crash-safe (a real SIGKILL mid-batch), paper first,
due dates, and a published folder free of personal data."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from authority.production import Producer
from authority.records import parse_csv
from authority.service import Authority, IssueRequest, add_working_days
from certseal.errors import InputError
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE, Issued, sample_bytes


def _collect_all(auth: Authority) -> list[str]:
    students = auth.registry.student_ids()
    for sid in students:
        auth.record_collection(sid, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
    return students


def test_same_batch_twice_issues_nothing_twice(home: Path) -> None:
    with Authority(home) as auth:
        students = _collect_all(auth)[:5]
        produce = Producer(auth.keys_dir, PASSPHRASE)
        batch = [IssueRequest("diploma_zh", s) for s in students]
        first = auth.issue(batch, now=NOW, actor=ACTOR, produce=produce)
        second = auth.issue(batch, now=NOW, actor=ACTOR, produce=produce)
        assert len(first.issued) == 5 and not first.failed
        assert (len(second.issued), len(second.already)) == (0, 5)
        assert len(auth.registry.documents()) == 5
        assert auth.due(NOW.date())[0].student_id not in students


def _cli(home: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CERTSEAL_HOME": str(home), "CERTSEAL_PASSPHRASE": PASSPHRASE}
    # A file, not a pipe: a worker orphaned by the kill would hold a pipe open.
    with open(home.parent / "cli.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "authority", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _registered(home: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(home / "registry.sqlite")
    try:
        return list(conn.execute("SELECT doc_id, sha256, path FROM documents"))
    finally:
        conn.close()


def test_killed_mid_batch_then_rerun_completes(home: Path) -> None:
    with Authority(home) as auth:
        total = len(_collect_all(auth))
    proc = _cli(home, "issue", "--due", "--workers", "1", "--group-size", "4")
    deadline = time.monotonic() + 120
    while len(_registered(home)) < 8 and time.monotonic() < deadline:
        assert proc.poll() is None, (home.parent / "cli.log").read_text()
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    registered = _registered(home)
    assert 8 <= len(registered) < total, "the kill must land mid-batch"
    # Every registered document is whole: its file is there with exactly the registered bytes.
    for _, sha, rel in registered:
        assert hashlib.sha256((home / rel).read_bytes()).hexdigest() == sha
    rerun = _cli(home, "--json", "issue", "--due", "--workers", "1")
    assert rerun.wait(timeout=300) == 0, (home.parent / "cli.log").read_text()
    after = _registered(home)
    assert len(after) == total
    assert len({d for d, _, _ in after}) == total
    assert set(registered) <= set(after)
    for _, sha, rel in after:
        assert hashlib.sha256((home / rel).read_bytes()).hexdigest() == sha
    with Authority(home) as auth:
        kinds = [e.kind for e in auth.registry.events()]
        assert kinds == ["issued"] * total


def test_diploma_needs_paper_collected_first(home: Path) -> None:
    with Authority(home) as auth:
        sid = auth.registry.student_ids()[0]
        rep = auth.issue(
            [IssueRequest("diploma_zh", sid)],
            now=NOW,
            actor=ACTOR,
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
        assert not rep.issued
        assert "not recorded as collected" in rep.failed[0][1].message("en")


def test_electronic_documents_need_an_order(home: Path) -> None:
    with Authority(home) as auth:
        sid = auth.registry.student_ids("courses")[0]
        rep = auth.issue(
            [IssueRequest("transcript", sid)],
            now=NOW,
            actor=ACTOR,
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
        assert "order reference" in rep.failed[0][1].message("en")


def test_rank_certificate_one_per_order(home: Path) -> None:
    with Authority(home) as auth:
        sid = auth.registry.student_ids("rank")[0]
        produce = Producer(auth.keys_dir, PASSPHRASE)
        req = IssueRequest("rank_certificate", sid, "ORD-9")
        first = auth.issue([req, req], now=NOW, actor=ACTOR, produce=produce)
        assert len(first.issued) == 1
        assert "twice" in first.failed[0][1].message("en")
        assert first.issued[0].verification_limit == 3
        again = auth.issue([req], now=NOW, actor=ACTOR, produce=produce)
        assert (len(again.issued), len(again.already)) == (0, 1)


def test_due_within_five_working_days() -> None:
    friday = dt.date(2026, 6, 19)
    assert friday.weekday() == 4
    assert add_working_days(friday, 5) == dt.date(2026, 6, 26)


def test_collection_in_the_future_is_refused(home: Path) -> None:
    with Authority(home) as auth, pytest.raises(InputError, match="future"):
        auth.record_collection(
            auth.registry.student_ids()[0],
            NOW.date() + dt.timedelta(days=3),
            doc_type="diploma_zh",
            now=NOW,
            actor=ACTOR,
        )


def test_published_folder_carries_no_personal_data(issued: Issued) -> None:
    grads = parse_csv("graduates", sample_bytes("graduates.csv")).accepted
    needles = set()
    for g in grads:
        needles |= {g.student_id, g.name_zh, g.name_en, g.school_email, g.birth_date}
        if g.permanent_email:
            needles.add(g.permanent_email)
    for path in issued.published.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".pem", ".jsonl", ""):
            text = path.read_bytes().decode("utf-8", "replace")
            found = [n for n in needles if n and n in text]
            assert not found, f"{path.relative_to(issued.published)} contains {found[:3]}"
