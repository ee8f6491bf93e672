"""The registry is append-only and derives every state from recorded events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from authority.registry import Registry
from authority.service import Authority
from certseal.errors import RegistryError, StateError
from tests.conftest import ACTOR, COLLECTED, NOW, Issued


@pytest.mark.parametrize("table", ["documents", "events", "records", "publications", "collections"])
def test_rows_cannot_be_updated_or_deleted(issued: Issued, table: str, tmp_path: Path) -> None:
    copy = tmp_path / "r.sqlite"
    src = sqlite3.connect(issued.home / "registry.sqlite")
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        dst.execute(f"DELETE FROM {table}")  # noqa: S608
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        dst.execute(f"UPDATE {table} SET rowid = rowid")  # noqa: S608
    dst.close()


def test_states_follow_events(issued: Issued) -> None:
    reg = Registry(issued.home / "registry.sqlite")
    try:
        assert reg.state(issued.diploma["genuine"]).state == "active"
        sup = reg.state(issued.diploma["superseded"])
        assert sup.state == "superseded"
        assert sup.successor == issued.diploma["successor"]
        rev = reg.state(issued.diploma["revoked"])
        assert (rev.state, rev.reason_code) == ("revoked", "degree_revoked")
        kinds = [e.kind for e in reg.events(issued.diploma["superseded"])]
        assert kinds == ["issued", "superseded"]
        assert all(e.actor == ACTOR for e in reg.events())
    finally:
        reg.close()


def test_revoking_twice_is_refused(home: Path) -> None:
    with Authority(home) as auth:
        _issue_one(auth)
        doc = auth.registry.documents()[0].doc_id
        auth.revoke(doc, "issued_in_error", "typo", now=NOW, actor=ACTOR)
        with pytest.raises(StateError, match="was revoked"):
            auth.revoke(doc, "issued_in_error", "again", now=NOW, actor=ACTOR)
        with pytest.raises(RegistryError, match="only an active document"):
            auth.reissue(doc, now=NOW, actor=ACTOR, produce=_no_produce)
        assert [e.kind for e in auth.registry.events(doc)] == ["issued", "revoked"]


def test_unknown_document_is_named(home: Path) -> None:
    with Authority(home) as auth, pytest.raises(RegistryError, match="NOPE-1"):
        auth.revoke("NOPE-1", "other", "x", now=NOW, actor=ACTOR)


def _no_produce(jobs: object) -> object:
    raise AssertionError("must not render")


def _issue_one(auth: Authority) -> None:

    from authority.production import Producer
    from authority.service import IssueRequest
    from tests.conftest import PASSPHRASE

    sid = auth.registry.student_ids()[0]
    auth.record_collection(sid, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
    rep = auth.issue(
        [IssueRequest("diploma_zh", sid)],
        now=NOW,
        actor=ACTOR,
        produce=Producer(auth.keys_dir, PASSPHRASE),
    )
    assert len(rep.issued) == 1
