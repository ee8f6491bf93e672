"""The registry is append-only and derives every state from recorded events."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


def _copy(issued: Issued, tmp_path: Path) -> Path:
    copy = tmp_path / "r.sqlite"
    src = sqlite3.connect(issued.home / "registry.sqlite")
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    return copy


def _everything(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (with its rowid) and the whole schema, read afresh."""
    conn = sqlite3.connect(path)
    try:
        out = {"schema": conn.execute("SELECT * FROM sqlite_master ORDER BY name").fetchall()}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            out[table] = conn.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid").fetchall()  # noqa: S608
        return out
    finally:
        conn.close()


@pytest.fixture
def revoked_copy(issued: Issued, tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A copy of the session's registry, and the facts the rewrites below aim at."""
    path = _copy(issued, tmp_path)
    conn = sqlite3.connect(path)
    doc = issued.diploma["revoked"]
    facts = {
        "doc": doc,
        "other": issued.diploma["genuine"],
        "other_sha": conn.execute(
            "SELECT sha256 FROM documents WHERE doc_id=?", (issued.diploma["genuine"],)
        ).fetchone()[0],
        "revocation": conn.execute(
            "SELECT seq FROM events WHERE doc_id=? AND kind='revoked'", (doc,)
        ).fetchone()[0],
        "rowid": conn.execute("SELECT rowid FROM documents WHERE doc_id=?", (doc,)).fetchone()[0],
        "cols": _DOC_COLUMNS,
    }
    conn.close()
    yield path, facts


_DOC_COLUMNS = (
    "doc_id, request_key, doc_type, student_id, version, replaces, record_id, order_ref, sha256, "
    "size, path, issued_at, verification_limit, print_locked, actor"
)
# Each rewrites a revocation or a document hash if SQLite lets it through.
REWRITES: dict[str, str] = {
    "replace_revocation": "REPLACE INTO events (seq, doc_id, kind, at, actor) "
    "VALUES ({revocation}, '{doc}', 'issued', 'x', 'x')",
    "insert_or_replace_revocation": "INSERT OR REPLACE INTO events (seq, doc_id, kind, at, actor) "
    "VALUES ({revocation}, '{doc}', 'issued', 'x', 'x')",
    "replace_document_hash": "REPLACE INTO documents ({cols}) SELECT doc_id, "
    "request_key, doc_type, student_id, version, replaces, record_id, order_ref, "
    "'00' || substr(sha256, 3), size, path, issued_at, verification_limit, print_locked, actor "
    "FROM documents WHERE doc_id = '{doc}'",
    "replace_through_unique_hash": "INSERT OR REPLACE INTO documents ({cols}) SELECT "
    "'NEW-1', 'new-key', doc_type, student_id, version, replaces, record_id, order_ref, "
    "'{other_sha}', size, path, issued_at, verification_limit, print_locked, actor "
    "FROM documents WHERE doc_id = '{doc}'",
    "replace_through_rowid": "INSERT OR REPLACE INTO documents (rowid, {cols}) SELECT "
    "{rowid}, 'NEW-2', 'new-key-2', doc_type, student_id, version, replaces, record_id, "
    "order_ref, 'ff' || substr(sha256, 3), size, path, issued_at, verification_limit, "
    "print_locked, actor FROM documents WHERE doc_id = '{doc}'",
    "upsert_do_update": "INSERT INTO documents ({cols}) SELECT * FROM documents "
    "WHERE doc_id = '{doc}' ON CONFLICT (doc_id) DO UPDATE SET sha256 = 'ab' || excluded.sha256",
    "upsert_revocation": "INSERT INTO events (seq, doc_id, kind, at, actor) "
    "VALUES ({revocation}, '{doc}', 'issued', 'x', 'x') ON CONFLICT (seq) DO UPDATE "
    "SET kind = 'issued'",
    "update_or_replace": "UPDATE OR REPLACE documents SET sha256 = '{other_sha}' "
    "WHERE doc_id = '{doc}'",
    "update_or_replace_events": "UPDATE OR REPLACE events SET kind = 'issued' "
    "WHERE seq = {revocation}",
    "delete_revocation": "DELETE FROM events WHERE seq = {revocation}",
    "replace_meta": "REPLACE INTO meta VALUES ('schema', '0')",
    "replace_publication": "REPLACE INTO publications SELECT version, issued_at, expires, 0, "
    "snapshot_sha256, actor FROM publications",
}


@pytest.mark.parametrize("recursive", ["ON", "OFF"])
@pytest.mark.parametrize("form", sorted(REWRITES))
def test_no_statement_rewrites_a_row_on_any_connection(
    revoked_copy: tuple[Path, dict[str, Any]], form: str, recursive: str
) -> None:
    """Any connection, whatever its recursive_triggers setting: the triggers refuse."""
    path, facts = revoked_copy
    before = _everything(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA recursive_triggers={recursive}")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(REWRITES[form].format(**facts))
    conn.close()
    assert _everything(path) == before


def _sql(statement: str) -> Callable[[Registry, dict[str, Any]], object]:
    return lambda reg, facts: reg.conn.execute(statement.format(**facts))


# Through the registry's own connection: SQL and sqlite-utils' API, the forms that would drop
# the triggers or the tables, turn the guards off, or rebuild the file.
REGISTRY_FORMS: dict[str, Callable[[Registry, dict[str, Any]], object]] = {
    **{name: _sql(sql) for name, sql in REWRITES.items()},
    "recursive_triggers_off": _sql("PRAGMA recursive_triggers = OFF"),
    "foreign_keys_off": _sql("PRAGMA foreign_keys = OFF"),
    "writable_schema": _sql("PRAGMA writable_schema = ON"),
    "drop_trigger": _sql("DROP TRIGGER events_no_update"),
    "drop_replace_guard": _sql("DROP TRIGGER documents_no_replace"),
    "drop_table": _sql("DROP TABLE events"),
    "alter_table": _sql("ALTER TABLE events RENAME TO events_old"),
    "add_column": _sql("ALTER TABLE documents ADD COLUMN note TEXT"),
    "temp_trigger": _sql("CREATE TEMP TRIGGER t AFTER INSERT ON events BEGIN SELECT 1; END"),
    "attach": _sql("ATTACH DATABASE ':memory:' AS other"),
    "vacuum": _sql("VACUUM"),
    "sqlite_sequence": _sql("UPDATE sqlite_sequence SET seq = 0"),
    "sqlite_sequence_delete": _sql("DELETE FROM sqlite_sequence"),
    "sqlite_utils_drop": lambda reg, _: reg.db["events"].drop(),
    "sqlite_utils_transform": lambda reg, _: reg.db["documents"].transform(drop={"actor"}),
    "sqlite_utils_vacuum": lambda reg, _: reg.db.vacuum(),
    "sqlite_utils_disable_wal": lambda reg, _: reg.db.disable_wal(),
    "sqlite_utils_delete_where": lambda reg, _: reg.db["events"].delete_where(),
    "sqlite_utils_update": lambda reg, f: reg.db["events"].update(
        f["revocation"], {"kind": "issued"}
    ),
    "sqlite_utils_insert_replace": lambda reg, f: reg.db["events"].insert(
        {"seq": f["revocation"], "doc_id": f["doc"], "kind": "issued", "at": "x", "actor": "x"},
        replace=True,
    ),
    "sqlite_utils_upsert": lambda reg, f: reg.db["events"].upsert(
        {"seq": f["revocation"], "doc_id": f["doc"], "kind": "issued", "at": "x", "actor": "x"},
        pk="seq",
    ),
}


@pytest.mark.parametrize("form", sorted(REGISTRY_FORMS))
def test_registry_connection_refuses_every_rewriting_form(
    revoked_copy: tuple[Path, dict[str, Any]], form: str
) -> None:
    path, facts = revoked_copy
    before = _everything(path)
    reg = Registry(path)
    try:
        with pytest.raises(
            sqlite3.DatabaseError, match=r"append-only|not authorized|authorization denied"
        ):
            REGISTRY_FORMS[form](reg, facts)
        reg.conn.rollback()
        # The registry still works, and still refuses a plain rewrite afterwards.
        assert reg.state(facts["doc"]).state == "revoked"
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            reg.conn.execute(REWRITES["insert_or_replace_revocation"].format(**facts))
    finally:
        reg.close()
    assert _everything(path) == before


def test_registry_still_reads_its_schema(revoked_copy: tuple[Path, dict[str, Any]]) -> None:
    """Introspection and reading a pragma stay allowed (sqlite-utils relies on them)."""
    path, _ = revoked_copy
    reg = Registry(path)
    try:
        assert "sha256" in reg.db["documents"].columns_dict
        assert reg.db["documents"].indexes
        assert reg.conn.execute("PRAGMA recursive_triggers").fetchone() == (1,)
        assert reg.conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    finally:
        reg.close()


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
