"""The authority's registry: an append-only SQLite record of everything it imported and issued.

Nothing is ever updated or deleted: triggers refuse it, for any connection, including the
conflict resolution REPLACE (``REPLACE``, ``INSERT OR REPLACE``, a UNIQUE clash), which deletes the
old row without running DELETE triggers unless recursive triggers are on. The registry's own
connection also refuses schema changes, pragma changes, ATTACH and VACUUM. A document's state is
derived from its events (issued, superseded, revoked), and every event records who did it, when
and why. Personal data stays here; only hashes and states leave through the status list.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from certseal.errors import InputError, RegistryError, StateError
from certseal.statuslist import REASON_CODES, Entry
from certseal.timeutil import format_time

SCHEMA_VERSION = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('graduate', 'courses', 'rank')),
    student_id TEXT NOT NULL,
    data TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_student ON records (kind, student_id, id);
CREATE TABLE IF NOT EXISTS collections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    collected_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    request_key TEXT NOT NULL UNIQUE,
    doc_type TEXT NOT NULL,
    student_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    replaces TEXT REFERENCES documents (doc_id),
    record_id INTEGER NOT NULL REFERENCES records (id),
    order_ref TEXT,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    path TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    verification_limit INTEGER,
    print_locked INTEGER NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_student ON documents (student_id, doc_type);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents (doc_id),
    kind TEXT NOT NULL CHECK (kind IN ('issued', 'superseded', 'revoked')),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason_code TEXT,
    reason TEXT,
    successor TEXT REFERENCES documents (doc_id)
);
CREATE INDEX IF NOT EXISTS events_doc ON events (doc_id, seq);
-- An extended copy of an issued document (authority/ltv.py): a new file with a renewed
-- archival timestamp; the issued file and its listed hash never change.
CREATE TABLE IF NOT EXISTS extensions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents (doc_id),
    path TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    source_sha256 TEXT NOT NULL,
    timestamp_expires TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS extensions_doc ON extensions (doc_id, seq);
-- The signature digest of each issued document (certseal/sigdigest.py): published as its
-- entry's sig, so a re-saved copy that kept the signature names the document. Recorded at
-- issuance ('issued'), or read from the stored file by the first publish after the table came
-- in ('backfilled'); a registry from before it gains the table when it is opened.
CREATE TABLE IF NOT EXISTS signature_digests (
    doc_id TEXT PRIMARY KEY REFERENCES documents (doc_id),
    sig TEXT NOT NULL CHECK (length(sig) = 64),
    how TEXT NOT NULL CHECK (how IN ('issued', 'backfilled')),
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS publications (
    version INTEGER PRIMARY KEY,
    issued_at TEXT NOT NULL,
    expires TEXT NOT NULL,
    last_event INTEGER NOT NULL,
    snapshot_sha256 TEXT NOT NULL,
    actor TEXT NOT NULL
);
"""

_APPEND_ONLY = (
    "meta",
    "records",
    "collections",
    "documents",
    "events",
    "publications",
    "extensions",
    "signature_digests",
)


def _append_only_triggers() -> str:
    out = []
    for table in _APPEND_ONLY:
        for op in ("UPDATE", "DELETE"):
            out.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'the registry is append-only: {table} rows are never "
                f"changed'); END;"
            )
    return "\n".join(out)


def _no_replace_triggers(conn: sqlite3.Connection) -> str:
    """BEFORE INSERT guards: an insert that meets an existing row on its rowid, its primary key
    or any UNIQUE column is refused before SQLite's REPLACE resolution could delete that row.

    The keys are read from the schema, so a UNIQUE column added later is guarded too. A BEFORE
    trigger runs before conflict resolution, so this holds whatever the connection's settings.
    """
    out = []
    for table in _APPEND_ONLY:  # our own table and column names, never input
        keys = [["rowid"]]
        for index in conn.execute(f"PRAGMA index_list({table})").fetchall():
            _, name, unique, _, partial = index
            if unique and not partial:
                cols = [c[2] for c in conn.execute(f"PRAGMA index_info({name})").fetchall()]
                if all(cols):  # an expression index has no column name to compare
                    keys.append(cols)
        clash = " OR ".join(
            f"EXISTS (SELECT 1 FROM {table} WHERE "  # noqa: S608
            + " AND ".join(f"{c} = NEW.{c}" for c in cols)
            + ")"
            for cols in keys
        )
        out.append(
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN {clash} BEGIN SELECT RAISE(ABORT, 'the registry is append-only: {table} rows "
            f"are never replaced'); END;"
        )
    return "\n".join(out)


_SCHEMA_CHANGES = frozenset(
    getattr(sqlite3, f"SQLITE_{verb}_{what}")
    for verb in ("CREATE", "DROP")
    for what in (
        "INDEX",
        "TABLE",
        "TRIGGER",
        "VIEW",
        "TEMP_INDEX",
        "TEMP_TABLE",
        "TEMP_TRIGGER",
        "TEMP_VIEW",
        "VTABLE",
    )
) | {sqlite3.SQLITE_ALTER_TABLE, sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH}
# Pragmas whose argument names a table or index: they read the schema, never set anything.
_INTROSPECTION_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
    }
)


def _authorize(action: int, arg1: str | None, arg2: str | None, *_: str | None) -> int:
    """The registry's connection, once its schema is in place, only reads and appends.

    Refuses what triggers cannot: dropping a trigger or a table (``sqlite_utils``'s ``drop()``,
    ``transform()``), ALTER, ATTACH, VACUUM (it rebuilds every table and may renumber the rowids
    that order documents), writing ``sqlite_*`` tables, and setting any pragma (turning off
    foreign keys or recursive triggers, ``writable_schema``). Reading a pragma stays allowed.
    """
    if action in _SCHEMA_CHANGES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA:
        if arg2 is None or (arg1 or "").lower() in _INTROSPECTION_PRAGMAS:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE) and (
        (arg1 or "").lower().startswith("sqlite_")
    ):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@dataclass(frozen=True)
class DocumentRow:
    doc_id: str
    request_key: str
    doc_type: str
    student_id: str
    version: int
    replaces: str | None
    record_id: int
    order_ref: str | None
    sha256: str
    size: int
    path: str
    issued_at: str
    verification_limit: int | None
    print_locked: bool
    actor: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DocumentRow:
        return cls(**{**row, "print_locked": bool(row["print_locked"])})


# Why a document is reissued (補發). Kept in the registry only: the public status list says that
# a newer version exists, never why.
REISSUE_REASONS: dict[str, tuple[str, str]] = {
    "lost": ("lost", "遺失"),
    "damaged": ("damaged", "毀損"),
    "data_corrected": ("data corrected", "資料更正"),
    "name_changed": ("name changed", "更改姓名"),
    "other": ("other", "其他"),
}


@dataclass(frozen=True)
class Reissue:
    """Why a reissue happens, and what becomes of the old version.

    ``void`` follows schools such as NTNU ("once reissued the previous one is invalid"): the old
    version then fails verification. Otherwise it stays *superseded* (a warning), as dcert does.
    """

    reason_code: str
    note: str = ""
    void: bool = False

    def __post_init__(self) -> None:
        if self.reason_code not in REISSUE_REASONS:
            raise InputError(
                f"unknown reissue reason '{self.reason_code}' "
                f"(known: {', '.join(REISSUE_REASONS)})",
                f"未知的補發原因「{self.reason_code}」（可用：{'、'.join(REISSUE_REASONS)}）",
            )
        if self.reason_code == "other" and not self.note.strip():
            raise InputError(
                "say why the document is reissued when the reason is 'other'",
                "補發原因為「其他」時，請說明原因",
            )


@dataclass(frozen=True)
class DocumentState:
    """A document's state, derived from its events."""

    state: str  # active | superseded | revoked
    successor: str | None = None
    superseded_at: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    revoked_at: str | None = None


@dataclass(frozen=True)
class Event:
    seq: int
    doc_id: str
    kind: str
    at: str
    actor: str
    reason_code: str | None
    reason: str | None
    successor: str | None


@dataclass(frozen=True)
class LoggedEvent:
    """An event joined with its document's public facts, for the transparency log."""

    seq: int
    kind: str
    at: str
    sha256: str
    doc_type: str
    limit: int | None
    reason_code: str | None
    successor_sha256: str | None


class Registry:
    """Append-only registry over one SQLite file. One writer at a time (see ``lock``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        conn = sqlite3.connect(str(path), timeout=30)
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(_TABLES + _append_only_triggers())
        conn.executescript(_no_replace_triggers(conn))
        if conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone() is None:
            with self.db.atomic():
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        conn.set_authorizer(_authorize)

    def close(self) -> None:
        self.db.close()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> Iterator[dict[str, Any]]:
        cur = self.conn.execute(sql, tuple(params))
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row, strict=True))

    # -- records -------------------------------------------------------------------------
    def add_records(
        self,
        kind: str,
        items: Iterable[tuple[str, Any]],
        *,
        at: dt.datetime,
        actor: str,
        source: str,
    ) -> int:
        """Append record versions; an identical latest version is not appended again."""
        added = 0
        with self.db.atomic():
            for student_id, data in items:
                text = json.dumps(data, ensure_ascii=False, sort_keys=True)
                latest = self.latest_record(kind, student_id)
                if latest is not None and latest[1] == data:
                    continue
                self.conn.execute(
                    "INSERT INTO records (kind, student_id, data, recorded_at, actor, source) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (kind, student_id, text, format_time(at), actor, source),
                )
                added += 1
        return added

    def latest_record(self, kind: str, student_id: str) -> tuple[int, Any] | None:
        row = self.conn.execute(
            "SELECT id, data FROM records WHERE kind=? AND student_id=? ORDER BY id DESC LIMIT 1",
            (kind, student_id),
        ).fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def record(self, record_id: int) -> Any:
        row = self.conn.execute("SELECT data FROM records WHERE id=?", (record_id,)).fetchone()
        if row is None:
            raise RegistryError(f"no record {record_id}", f"沒有紀錄 {record_id}")
        return json.loads(row[0])

    def student_ids(self, kind: str = "graduate") -> list[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT student_id FROM records WHERE kind=? ORDER BY student_id", (kind,)
        )
        return [r[0] for r in rows]

    # -- paper diploma collection --------------------------------------------------------
    def record_collection(
        self, student_id: str, doc_type: str, collected_on: dt.date, *, at: dt.datetime, actor: str
    ) -> bool:
        """Record that the paper diploma was collected; False if it already was."""
        if self.collection(student_id, doc_type) is not None:
            return False
        with self.db.atomic():
            self.conn.execute(
                "INSERT INTO collections (student_id, doc_type, collected_on, recorded_at, actor) "
                "VALUES (?, ?, ?, ?, ?)",
                (student_id, doc_type, collected_on.isoformat(), format_time(at), actor),
            )
        return True

    def collection(self, student_id: str, doc_type: str) -> dt.date | None:
        row = self.conn.execute(
            "SELECT collected_on FROM collections WHERE student_id=? AND doc_type=? "
            "ORDER BY id LIMIT 1",
            (student_id, doc_type),
        ).fetchone()
        return None if row is None else dt.date.fromisoformat(row[0])

    def collections(self) -> list[tuple[str, str, dt.date]]:
        rows = self.conn.execute(
            "SELECT student_id, doc_type, collected_on FROM collections ORDER BY id"
        )
        return [(r[0], r[1], dt.date.fromisoformat(r[2])) for r in rows]

    # -- documents -----------------------------------------------------------------------
    def by_request(self, request_key: str) -> DocumentRow | None:
        rows = list(self._rows("SELECT * FROM documents WHERE request_key=?", (request_key,)))
        return DocumentRow.from_row(rows[0]) if rows else None

    def document(self, doc_id: str) -> DocumentRow:
        rows = list(self._rows("SELECT * FROM documents WHERE doc_id=?", (doc_id,)))
        if not rows:
            raise RegistryError(f"no document numbered {doc_id}", f"查無文件字號 {doc_id}")
        return DocumentRow.from_row(rows[0])

    def documents(self, student_id: str | None = None) -> list[DocumentRow]:
        if student_id is None:
            rows = self._rows("SELECT * FROM documents ORDER BY rowid")
        else:
            rows = self._rows(
                "SELECT * FROM documents WHERE student_id=? ORDER BY rowid", (student_id,)
            )
        return [DocumentRow.from_row(r) for r in rows]

    def next_number(self, prefix: str) -> int:
        row = self.conn.execute(
            "SELECT COUNT(*) FROM documents WHERE doc_id LIKE ? || '%'", (prefix,)
        ).fetchone()
        return int(row[0]) + 1

    def register(
        self,
        rows: Iterable[DocumentRow],
        *,
        supersede: dict[str, str] | None = None,
        reissues: dict[str, Reissue] | None = None,
        sigs: Mapping[str, str] | None = None,
    ) -> None:
        """Register issued documents (and, for reissues, supersede their predecessors) in one
        transaction: after a crash either all of them are registered or none.

        ``reissues`` gives, per new document, why it was reissued and whether the old version
        becomes void (revoked as ``replaced``) rather than merely superseded. ``sigs`` gives
        the documents' signature digests (certseal/sigdigest.py), recorded with them.
        """
        supersede = supersede or {}
        sigs = sigs or {}
        with self.db.atomic():
            for doc in rows:
                self.conn.execute(
                    "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        doc.doc_id,
                        doc.request_key,
                        doc.doc_type,
                        doc.student_id,
                        doc.version,
                        doc.replaces,
                        doc.record_id,
                        doc.order_ref,
                        doc.sha256,
                        doc.size,
                        doc.path,
                        doc.issued_at,
                        doc.verification_limit,
                        int(doc.print_locked),
                        doc.actor,
                    ),
                )
                self._event(doc.doc_id, "issued", doc.issued_at, doc.actor)
                if doc.doc_id in sigs:
                    self._signature_digest(doc.doc_id, sigs[doc.doc_id], "issued", doc.issued_at)
                old = supersede.get(doc.doc_id)
                if old is not None:
                    why = (reissues or {}).get(doc.doc_id)
                    self._check_transition(old, "superseded")
                    self._event(
                        old,
                        "superseded",
                        doc.issued_at,
                        doc.actor,
                        why.reason_code if why else None,
                        why.note if why else None,
                        successor=doc.doc_id,
                    )
                    if why is not None and why.void:
                        # In the same transaction: a crash never leaves a void reissue valid.
                        self._event(old, "revoked", doc.issued_at, doc.actor, "replaced", why.note)

    def _signature_digest(self, doc_id: str, sig: str, how: str, at: str) -> None:
        if len(sig) != 64 or sig.strip("0123456789abcdef"):
            raise RegistryError(
                f"the signature digest of {doc_id} is not 64 lower-case hex digits",
                f"文件 {doc_id} 的簽章摘要不是 64 位小寫十六進位數字",
            )
        self.conn.execute(
            "INSERT INTO signature_digests (doc_id, sig, how, recorded_at) VALUES (?, ?, ?, ?)",
            (doc_id, sig, how, at),
        )

    def without_signature_digest(self) -> list[DocumentRow]:
        """Issued documents whose signature digest is not recorded (issued before it was)."""
        rows = self._rows(
            "SELECT d.* FROM documents d LEFT JOIN signature_digests s ON s.doc_id = d.doc_id "
            "WHERE s.doc_id IS NULL ORDER BY d.rowid"
        )
        return [DocumentRow.from_row(r) for r in rows]

    def backfill_signature_digests(self, sigs: Mapping[str, str], *, at: dt.datetime) -> None:
        """Record the signature digests read from stored issued files (one transaction)."""
        with self.db.atomic():
            for doc_id, sig in sigs.items():
                self._signature_digest(doc_id, sig, "backfilled", format_time(at))

    def signature_digests(self, doc_ids: Iterable[str] | None = None) -> dict[str, str]:
        """The recorded signature digests, by document number."""
        if doc_ids is None:
            return dict(self.conn.execute("SELECT doc_id, sig FROM signature_digests"))
        out = {}
        for doc_id in doc_ids:
            row = self.conn.execute(
                "SELECT sig FROM signature_digests WHERE doc_id=?", (doc_id,)
            ).fetchone()
            if row is not None:
                out[doc_id] = row[0]
        return out

    def revoke(
        self, doc_id: str, reason_code: str, reason: str, *, at: dt.datetime, actor: str
    ) -> None:
        if reason_code not in REASON_CODES:
            raise RegistryError(
                f"unknown reason code '{reason_code}' (known: {', '.join(REASON_CODES)})",
                f"未知的撤銷原因代碼「{reason_code}」（可用：{', '.join(REASON_CODES)}）",
            )
        with self.db.atomic():
            self.document(doc_id)
            self._check_transition(doc_id, "revoked")
            self._event(doc_id, "revoked", format_time(at), actor, reason_code, reason)

    def _check_transition(self, doc_id: str, kind: str) -> None:
        state = self.state(doc_id)
        if state.state == "revoked":
            raise StateError(
                f"document {doc_id} was revoked on {state.revoked_at}; it cannot change again",
                f"文件 {doc_id} 已於 {state.revoked_at} 撤銷，不可再變更",
            )
        if kind == "superseded" and state.state == "superseded":
            raise StateError(
                f"document {doc_id} was already replaced by {state.successor}: reissue that one",
                f"文件 {doc_id} 已由 {state.successor} 取代，請改補發該份",
            )

    def _event(
        self,
        doc_id: str,
        kind: str,
        at: str,
        actor: str,
        reason_code: str | None = None,
        reason: str | None = None,
        successor: str | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO events (doc_id, kind, at, actor, reason_code, reason, successor) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (doc_id, kind, at, actor, reason_code, reason, successor),
        )

    def events(self, doc_id: str | None = None, after: int = 0) -> list[Event]:
        if doc_id is None:
            rows = self._rows("SELECT * FROM events WHERE seq > ? ORDER BY seq", (after,))
        else:
            rows = self._rows("SELECT * FROM events WHERE doc_id=? ORDER BY seq", (doc_id,))
        return [Event(**r) for r in rows]

    def state(self, doc_id: str) -> DocumentState:
        return _fold(self.events(doc_id))

    def last_event(self) -> int:
        row = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(row[0])

    def status_entries(
        self, *, with_log: bool = False, doc_ids: set[str] | None = None
    ) -> Iterator[Entry]:
        """Every issued document (or those in ``doc_ids``) as it appears in the status list:
        hashes and states only.

        With ``with_log``, each entry also lists the transparency-log leaves of its events. The
        log appends every event in ``seq`` order, so an event's leaf index is its rank.
        """
        states: dict[str, list[Event]] = {}
        ranks: dict[str, list[int]] = {}
        if doc_ids is None:
            hashes = dict(self.conn.execute("SELECT doc_id, sha256 FROM documents").fetchall())
            for rank, ev in enumerate(self.events()):
                states.setdefault(ev.doc_id, []).append(ev)
                ranks.setdefault(ev.doc_id, []).append(rank)
            docs = self.documents()
        else:
            for doc_id in doc_ids:
                for ev in self.events(doc_id):
                    states.setdefault(doc_id, []).append(ev)
                    ranks.setdefault(doc_id, []).append(self.count_events(ev.seq) - 1)
            docs = [self.document(d) for d in sorted(doc_ids)]
            successors = {e.successor for evs in states.values() for e in evs if e.successor}
            hashes = {d: self.document(d).sha256 for d in successors}
        sigs = self.signature_digests(None if doc_ids is None else (d.doc_id for d in docs))
        for doc in docs:
            st = _fold(states.get(doc.doc_id, []))
            yield Entry(
                sha256=doc.sha256,
                doc_type=doc.doc_type,
                issued_at=doc.issued_at,
                limit=doc.verification_limit,
                state=st.state,
                successor=hashes[st.successor] if st.successor else None,
                superseded_at=st.superseded_at,
                reason_code=st.reason_code,
                revoked_at=st.revoked_at,
                log_indexes=tuple(ranks[doc.doc_id]) if with_log else None,
                sig=sigs.get(doc.doc_id),
            )

    def log_events(self, after: int = 0) -> list[LoggedEvent]:
        """Events after ``seq`` as the transparency log records them: hashes, never names."""
        rows = self.conn.execute(
            "SELECT e.seq, e.kind, e.at, d.sha256, d.doc_type, d.verification_limit, "
            # A reissue's reason stays in the registry: the log carries revocation codes only.
            "CASE WHEN e.kind = 'revoked' THEN e.reason_code END, s.sha256 "
            "FROM events e JOIN documents d ON d.doc_id = e.doc_id "
            "LEFT JOIN documents s ON s.doc_id = e.successor WHERE e.seq > ? ORDER BY e.seq",
            (after,),
        )
        return [LoggedEvent(*r) for r in rows]

    def count_events(self, through: int) -> int:
        """How many events have a ``seq`` up to ``through``."""
        row = self.conn.execute("SELECT COUNT(*) FROM events WHERE seq <= ?", (through,))
        return int(row.fetchone()[0])

    # -- publications --------------------------------------------------------------------
    def last_publication(self) -> dict[str, Any] | None:
        rows = list(self._rows("SELECT * FROM publications ORDER BY version DESC LIMIT 1"))
        return rows[0] if rows else None

    def record_publication(
        self, version: int, issued_at: str, expires: str, last_event: int, sha256: str, actor: str
    ) -> None:
        with self.db.atomic():
            self.conn.execute(
                "INSERT INTO publications VALUES (?, ?, ?, ?, ?, ?)",
                (version, issued_at, expires, last_event, sha256, actor),
            )


def _fold(events: Iterable[Event]) -> DocumentState:
    state = DocumentState("active")
    for ev in events:
        if ev.kind == "superseded":
            state = DocumentState("superseded", successor=ev.successor, superseded_at=ev.at)
        elif ev.kind == "revoked":
            state = DocumentState(
                "revoked",
                successor=state.successor,
                superseded_at=state.superseded_at,
                reason_code=ev.reason_code,
                reason=ev.reason,
                revoked_at=ev.at,
            )
    return state
