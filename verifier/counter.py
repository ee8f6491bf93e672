"""Verification counts, atomic across threads and worker processes (SQLite, WAL).

Fifty simultaneous uploads of a document whose limit is 3 give exactly 3 successes: the
increment and the limit test are one SQL statement inside an immediate transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlite_utils

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (sha256 TEXT PRIMARY KEY, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen_versions (issuer TEXT PRIMARY KEY, version INTEGER NOT NULL);
"""


class Counter:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        db = self._db()
        db.conn.executescript(_SCHEMA)

    def _db(self) -> sqlite_utils.Database:
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            db = sqlite_utils.Database(conn, execute_plugins=False)
            self._local.db = db
        return db

    def try_use(self, sha256: str, limit: int) -> tuple[bool, int]:
        """Count one verification if the limit allows; returns (counted, used so far)."""
        conn = self._db().conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "INSERT INTO counts (sha256, used) VALUES (?, 1) "
                "ON CONFLICT (sha256) DO UPDATE SET used = used + 1 WHERE used < ? "
                "RETURNING used",
                (sha256, limit),
            ).fetchone()
            if row is None:
                used = conn.execute("SELECT used FROM counts WHERE sha256=?", (sha256,)).fetchone()
                conn.execute("COMMIT")
                return False, int(used[0])
            conn.execute("COMMIT")
            return True, int(row[0])
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def used(self, sha256: str) -> int:
        row = (
            self._db().conn.execute("SELECT used FROM counts WHERE sha256=?", (sha256,)).fetchone()
        )
        return 0 if row is None else int(row[0])

    def seen_version(self, issuer: str) -> int:
        row = (
            self._db()
            .conn.execute("SELECT version FROM seen_versions WHERE issuer=?", (issuer,))
            .fetchone()
        )
        return 0 if row is None else int(row[0])

    def record_seen(self, issuer: str, version: int) -> None:
        """Remember the newest status-list version seen, so a restart cannot be rolled back."""
        self._db().conn.execute(
            "INSERT INTO seen_versions VALUES (?, ?) ON CONFLICT (issuer) DO UPDATE "
            "SET version = max(version, excluded.version)",
            (issuer, version),
        )
