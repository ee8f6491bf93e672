"""A re-saved copy names the issued document its kept signature was made for (issue 14): type,
school and issue date from the signed status list, the number only when the copy's own twin
gives it unambiguously, the state when it is revoked or superseded; a grafted signature never
vouches for the content around it; lists published before the signature digest still answer."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import authority.service
from authority.production import Producer
from authority.service import Authority, IssueRequest
from certseal.sigdigest import pdf_signature_digest
from certseal.statuslist import Entry
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE, Issued, make_authority
from tests.evaluators.test_resaved_copies import with_pikepdf, with_pypdf, with_qpdf
from tests.pg import PostgresServer, postgres  # noqa: F401 - the fixture
from tests.verifier.conftest import engine_over
from verifier.engine import Verifier
from verifier.result import Verification
from verifier.store import Store, open_store

SCHOOL = "National Demonstration University"
RESAVES = [with_qpdf, with_pikepdf, with_pypdf]
Resave = Callable[[bytes, Path], bytes]


def messages(v: Verification) -> tuple[str, str]:
    """The first reason's message in English and in Chinese."""
    return v.to_dict("en")["reasons"][0]["message"], v.to_dict("zh-TW")["reasons"][0]["message"]


# -- the session's authority: several diplomas issued the same day -----------------------------
@pytest.mark.parametrize("resave", RESAVES, ids=lambda f: f.__name__)
def test_a_copy_names_type_school_and_date(
    resave: Resave, engine: Verifier, issued: Issued, tmp_path: Path
) -> None:
    v = engine.verify(resave(issued.pdf("genuine"), tmp_path), NOW)
    assert v.result == "failure"
    assert v.codes == ("resaved_copy", "not_issued")
    en, zh = messages(v)
    assert f"re-saved copy of a Chinese diploma issued by {SCHOOL} on " in en
    assert "ask the holder for the original attachment" in en
    assert "contents cannot be vouched for" in en
    assert "國立示範大學於" in zh and "核發之中文學位證書經另存後的副本" in zh
    # Four more Chinese diplomas were listed that day: a twin could be any of theirs.
    assert issued.diploma["genuine"] not in en
    status = next(c for c in v.checks if c.name == "status_list")
    assert status.status == "failed" and status.detail == "status_resaved"
    assert next(c for c in v.checks if c.name == "document_state").status == "passed"


@pytest.mark.parametrize("resave", RESAVES, ids=lambda f: f.__name__)
def test_a_copy_of_a_revoked_document_says_revoked(
    resave: Resave, engine: Verifier, issued: Issued, tmp_path: Path
) -> None:
    v = engine.verify(resave(issued.pdf("revoked"), tmp_path), NOW)
    assert v.result == "failure"
    assert v.codes == ("resaved_copy", "not_issued", "revoked")
    assert "The school voided this document on" in v.to_dict("en")["reasons"][2]["message"]
    state = next(c for c in v.checks if c.name == "document_state")
    assert (state.status, state.detail) == ("failed", "state_revoked")


def test_a_copy_of_a_superseded_document_says_so(
    engine: Verifier, issued: Issued, tmp_path: Path
) -> None:
    v = engine.verify(with_qpdf(issued.pdf("superseded"), tmp_path), NOW)
    assert v.codes == ("resaved_copy", "not_issued", "superseded")


def graft(signature_from: bytes, content: bytes) -> bytes:
    """``content`` carrying the CMS of another document: its /Contents replaced by theirs."""
    cms = re.search(rb"/Contents\s*<([0-9A-Fa-f]+)>", signature_from)
    slot = re.search(rb"/Contents\s*<([0-9A-Fa-f]+)>", content)
    assert cms is not None and slot is not None
    value = cms.group(1).rstrip(b"0")
    value += b"0" * (len(value) % 2)
    assert len(value) <= len(slot.group(1))
    value = value.ljust(len(slot.group(1)), b"0")
    return content[: slot.start(1)] + value + content[slot.end(1) :]


def test_a_grafted_signature_does_not_vouch_for_the_content(
    engine: Verifier, issued: Issued, tmp_path: Path
) -> None:
    """The transcript's signature on a (re-saved) diploma's content: the answer is a failure,
    names only the document the signature was made for, and neither the diploma's number (its
    twin disagrees with the entry's type) nor anything else of the content."""
    content = with_qpdf(issued.pdf("successor"), tmp_path)
    forged = graft(issued.pdf("transcript"), content)
    v = engine.verify(forged, NOW)
    assert v.result == "failure"
    assert v.codes[0] == "resaved_copy", v.codes
    en, _ = messages(v)
    assert f"re-saved copy of a Chinese-English transcript issued by {SCHOOL}" in en
    assert "contents cannot be vouched for: they may differ from the document issued" in en
    assert issued.diploma["successor"] not in en and "diploma" not in en


def test_a_twin_grafted_from_a_document_of_the_same_day_lends_no_number(
    engine: Verifier, issued: Issued, tmp_path: Path
) -> None:
    """One diploma's signature on another diploma of the same type and day: the content's
    twin agrees with the entry's type and date, but the list has other such diplomas, so no
    number is named (it would be the content's, not the signature's)."""
    forged = graft(issued.pdf("genuine"), with_qpdf(issued.pdf("successor"), tmp_path))
    v = engine.verify(forged, NOW)
    assert v.result == "failure" and v.codes[0] == "resaved_copy"
    en, _ = messages(v)
    assert f"re-saved copy of a Chinese diploma issued by {SCHOOL}" in en
    assert issued.diploma["successor"] not in en and issued.diploma["genuine"] not in en


# -- an authority of its own: one diploma that day, first listed without digests -------------
@dataclass(frozen=True)
class Lone:
    new: Issued  # published again after the digest came in (backfilled)
    old: Issued  # the list as published before: no entry has a digest
    doc_id: str
    pdf: bytes


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lone]:
    base = tmp_path_factory.mktemp("lone")
    home = base / "home"
    make_authority(home)
    with Authority(home) as auth:
        student = auth.registry.student_ids()[0]
        auth.record_collection(student, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
        produce = Producer(auth.keys_dir, PASSPHRASE)
        with pytest.MonkeyPatch.context() as mp:
            # An authority from before the digest: it records none, and publishes none.
            mp.setattr(authority.service, "pdf_signature_digest", lambda pdf: None)
            report = auth.issue(
                [IssueRequest("diploma_zh", student)], now=NOW, actor=ACTOR, produce=produce
            )
            auth.publish(base / "site", PASSPHRASE, now=NOW, actor=ACTOR)
        shutil.copytree(base / "site", base / "old-site")
        auth.publish(base / "site", PASSPHRASE, now=NOW + dt.timedelta(seconds=1), actor=ACTOR)
        doc = report.issued[0]
        pdf = (home / doc.path).read_bytes()
    new, old = Issued(home, base / "site", {}, {}), Issued(home, base / "old-site", {}, {})
    yield Lone(new, old, doc.doc_id, pdf)


def shards(published: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (published / "status" / "shards").iterdir())


def test_the_first_publish_after_the_change_backfills_the_digest(lone: Lone) -> None:
    """Issued before the digest was recorded: read from the stored issued file, recorded once
    (append-only, marked as backfilled) and published in the entry."""
    with Authority(lone.new.home) as auth:
        rows = auth.registry.conn.execute(
            "SELECT doc_id, sig, how FROM signature_digests"
        ).fetchall()
        entries = {e.sha256: e for e in auth.registry.status_entries()}
    sig = pdf_signature_digest(lone.pdf)
    assert sig is not None
    assert rows == [(lone.doc_id, sig, "backfilled")]
    listed: Entry = entries[hashlib.sha256(lone.pdf).hexdigest()]
    assert listed.sig == sig
    assert f'"sig":"{sig}"'.encode() in shards(lone.new.published)
    assert b'"sig"' not in shards(lone.old.published)


@pytest.mark.parametrize("resave", RESAVES, ids=lambda f: f.__name__)
def test_the_only_diploma_of_its_day_is_named_with_its_number(
    resave: Resave, lone: Lone, tmp_path: Path
) -> None:
    v = engine_over(lone.new, tmp_path).verify(resave(lone.pdf, tmp_path), NOW)
    assert v.result == "failure"
    en, zh = messages(v)
    assert (
        f"re-saved copy of the Chinese diploma {lone.doc_id} (the number as the copy's own "
        f"signed data gives it) issued by {SCHOOL} on " in en
    ), en
    assert f"（字號 {lone.doc_id}，依副本本身經簽署的資料）" in zh


def test_a_list_without_digests_names_the_school_only(lone: Lone, tmp_path: Path) -> None:
    """Old lists keep working: the copy is named after the school, as before."""
    v = engine_over(lone.old, tmp_path).verify(with_qpdf(lone.pdf, tmp_path), NOW)
    assert v.codes == ("resaved_copy", "not_issued")
    en, zh = messages(v)
    assert f"re-saved copy of a document signed by {SCHOOL}" in en
    assert "另存後的副本" in zh and "原始附件" in zh
    # The genuine file itself still verifies from the old list.
    assert engine_over(lone.old, tmp_path / "again").verify(lone.pdf, NOW).result == "success"


# -- the store's index, on SQLite and a real PostgreSQL -----------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres: PostgresServer,  # noqa: F811
) -> Iterator[Store]:
    where: Path | str = (
        tmp_path / "counts.sqlite" if request.param == "sqlite" else postgres.new_database()
    )
    opened = open_store(where)
    yield opened
    opened.close()


def test_the_signature_index_points_and_counts(store: Store) -> None:
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    rows = [
        (a, "1" * 64, "diploma_zh", "2026-06-22T02:00:00Z"),
        (b, None, "diploma_zh", "2026-06-22T23:59:59Z"),
        (c, "1" * 64, "transcript", "2026-06-23T00:00:00Z"),
    ]
    store.record_indexed("demo", "f" * 64, rows)
    store.record_indexed("demo", "f" * 64, rows[:1])  # again, by another worker: no change
    assert store.indexed("demo") == {"f" * 64} and store.indexed("other") == set()
    assert store.by_signature("demo", "1" * 64) == [a, c]  # two: the caller names neither
    assert store.by_signature("other", "1" * 64) == []
    assert store.issued_alike("demo", "diploma_zh", "2026-06-22") == 2
    assert store.issued_alike("demo", "transcript", "2026-06-22") == 0
    with pytest.raises(ValueError, match="not a listed document"):
        store.record_indexed("demo", "e" * 64, [("short", None, "diploma_zh", "x")])


# -- a school's own key history: the copy judged as its original ------------------------------
def test_a_copy_of_a_document_signed_with_a_compromised_key_says_so(
    home: Path, tmp_path: Path
) -> None:
    """A school's verifier with the school's key history: a copy of a document its log proves
    issued before the compromise reads as the original (key logged in time); a copy of one
    issued after the compromise fails for it, as the original does."""
    from authority.rotation import key_compromised
    from tests.keys.conftest import Steps

    hour = dt.timedelta(hours=1)
    steps = Steps(home, tmp_path / "site")
    proven = steps.issue(NOW)
    steps.publish(NOW + hour)
    after = steps.issue(NOW + 4 * hour)
    with Authority(home) as auth:
        key_compromised(
            auth.keys_dir, auth.school, auth.registry, role="signing", since=NOW + 3 * hour,
            passphrase=PASSPHRASE, now=NOW + 5 * hour,
        )  # fmt: skip
    steps.publish(NOW + 6 * hour)
    at = NOW + 7 * hour
    verifier = steps.verifier(tmp_path)
    for doc, judged, detail in (
        (proven, (), "school_key_logged"),
        (after, ("key_compromised",), "school_key_problem"),
    ):
        original = verifier.verify(steps.pdf(doc), at)
        assert original.codes == judged
        copy = verifier.verify(with_qpdf(steps.pdf(doc), tmp_path), at)
        assert copy.codes == ("resaved_copy", "not_issued", *judged), copy.codes
        trust = next(c for c in copy.checks if c.name == "trust_list")
        assert trust == next(c for c in original.checks if c.name == "trust_list")
        assert trust.detail == detail
        log = next(c for c in copy.checks if c.name == "transparency_log")
        assert log.status == "passed"


def test_while_one_thread_builds_the_index_another_copy_names_the_school_at_once(
    issued: Issued, tmp_path: Path
) -> None:
    """The first copies after a publication: one thread reads the shards; a copy arriving
    meanwhile is answered at once, naming the school, instead of holding a thread; once the
    index is built, copies name the document again."""
    import threading

    engine = engine_over(issued, tmp_path)
    store = engine.counter
    original, entered, release = store.record_indexed, threading.Event(), threading.Event()

    def slow_record(issuer: str, shard: str, rows: Any) -> None:
        # The first thread's index build, held half-way until the second copy was answered.
        entered.set()
        assert release.wait(30)
        original(issuer, shard, rows)

    store.record_indexed = slow_record  # type: ignore[method-assign]
    copy = with_qpdf(issued.pdf("genuine"), tmp_path)
    first: list[Verification] = []
    worker = threading.Thread(target=lambda: first.append(engine.verify(copy, NOW)))
    worker.start()
    try:
        assert entered.wait(60), "the first copy never read a shard"
        meanwhile = engine.verify(copy, NOW)
    finally:
        release.set()
        worker.join(60)
    assert meanwhile.codes == ("resaved_copy", "not_issued")
    assert f"a document signed by {SCHOOL}" in messages(meanwhile)[0]
    assert "Chinese diploma issued by" in messages(first[0])[0]
    store.record_indexed = original  # type: ignore[method-assign]
    again = engine.verify(copy, NOW)
    assert "Chinese diploma issued by" in messages(again)[0]
