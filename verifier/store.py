"""What every verifier worker and instance shares: verification counts, the trusted
status-list state (per issuer, the highest version seen and its issue time), and an index of
the listed documents by signature digest (for re-saved copies: verifier/resaved.py).

One small interface, two implementations: SQLite (the embedded default, WAL; shared by the
worker processes of one machine) and PostgreSQL (:mod:`verifier.store_pg`; shared by every
instance behind one address). Each change is one atomic statement, so concurrent workers can
never count past a limit or move the trusted version back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import mmap
import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from certseal.errors import StoreUnavailableError
from certseal.statuslist import Seen
from certseal.timeutil import format_time, parse_time

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


# The trusted state of one issuer: the highest status-list version any worker accepted, and
# its time (None only for a version recorded without it, in older databases).
NOTHING_SEEN = Seen(0)

Listed = tuple[str, str | None, str, str]
"""One listed document in the signature index: its file's SHA-256, its signature digest (or
None), its type and its issue time, as its status-list entry gives them."""


class Store(ABC):
    """Counts and trusted state, shared by every worker that opens the same database."""

    @abstractmethod
    def try_use(self, sha256: str, limit: int, used: int | None = None) -> tuple[bool, int]:
        """Count one verification if the limit allows; returns (counted, used so far).

        ``used``: the count this answer read already (:meth:`answer_read`). Counts only rise,
        so one at the limit needs no write; one below it is counted by the atomic statement,
        which tests the limit again."""

    @abstractmethod
    def used(self, sha256: str) -> int:
        """How many verifications of this document were counted."""

    @abstractmethod
    def seen(self, issuer: str) -> Seen:
        """The issuer's trusted state; one indexed read, cheap enough for every answer."""

    @abstractmethod
    def record_seen(self, issuer: str, version: int, issued_at: dt.datetime | None = None) -> Seen:
        """Raise the issuer's trusted state to ``version`` (never lower it) and return the state
        after the call, which is newer than ``version`` when another worker got there first.

        A version already recorded keeps its first time; the time of a version recorded
        without one is filled in.
        """

    def seen_version(self, issuer: str) -> int:
        return self.seen(issuer).version

    def answer_read(self, issuers: Iterable[str], sha256: str) -> tuple[dict[str, Seen], int]:
        """What every answer consults before it is given: each list's trusted state, and how
        many verifications of this document were counted. A store answers both in one read
        (one statement on SQLite, one round trip to PostgreSQL) where it can."""
        return self.seen_all(issuers), self.used(sha256)

    def seen_all(self, issuers: Iterable[str]) -> dict[str, Seen]:
        """Several issuers' trusted states at once: a national answer consults every school's
        (and the trust list's), so a store answers them in one read where it can."""
        return {i: self.seen(i) for i in issuers}

    # -- the signature index: a hint for finding an entry, never its authority -------------
    @abstractmethod
    def indexed(self, issuer: str) -> set[str]:
        """The published files (shards, snapshots; by SHA-256) whose entries are indexed."""

    @abstractmethod
    def record_indexed(self, issuer: str, file_sha256: str, rows: Sequence[Listed]) -> None:
        """Index the entries of one published file, and remember the file, in one transaction;
        entries already indexed are kept as they are (an entry's hash, digest, type and issue
        time never change)."""

    @abstractmethod
    def by_signature(self, issuer: str, sig: str) -> list[str]:
        """The SHA-256 of every listed document indexed with this signature digest."""

    @abstractmethod
    def issued_alike(self, issuer: str, doc_type: str, day: str) -> int:
        """How many indexed documents of this type were issued on ``day`` (YYYY-MM-DD, UTC)."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release this process's connections."""


def check_use(sha256: str, limit: int) -> None:
    if not sha256:
        raise ValueError("a document hash is required")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"a verification limit is a whole number ≥ 0, not {limit!r}")


class MemoryIndex:
    """The signature index in memory, for a store that lives one run (the offline command's):
    mixed into such a :class:`Store` before it."""

    def _memory_index(self) -> tuple[dict[tuple[str, str], Listed], set[tuple[str, str]]]:
        held: tuple[dict[tuple[str, str], Listed], set[tuple[str, str]]] | None
        held = self.__dict__.get("_listed_in_memory")
        if held is None:
            held = self.__dict__["_listed_in_memory"] = ({}, set())
        return held

    def indexed(self, issuer: str) -> set[str]:
        return {sha for who, sha in self._memory_index()[1] if who == issuer}

    def record_indexed(self, issuer: str, file_sha256: str, rows: Sequence[Listed]) -> None:
        check_listed(issuer, rows)
        listed, files = self._memory_index()
        for row in rows:
            listed.setdefault((issuer, row[0]), row)
        files.add((issuer, file_sha256))

    def by_signature(self, issuer: str, sig: str) -> list[str]:
        listed = self._memory_index()[0]
        return sorted(r[0] for (who, _), r in listed.items() if who == issuer and r[1] == sig)

    def issued_alike(self, issuer: str, doc_type: str, day: str) -> int:
        listed = self._memory_index()[0]
        return sum(
            1
            for (who, _), r in listed.items()
            if who == issuer and r[2] == doc_type and r[3][:10] == day
        )


def check_listed(issuer: str, rows: Sequence[Listed]) -> None:
    if not issuer:
        raise ValueError("an issuer name is required")
    for sha, sig, doc_type, issued_at in rows:
        if len(sha) != 64 or (sig is not None and len(sig) != 64) or not doc_type or not issued_at:
            raise ValueError(f"not a listed document: {sha!r}")


def next_day(day: str) -> str:
    """The UTC day after ``day`` (YYYY-MM-DD): the end of a range of issue times."""
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def check_seen(issuer: str, version: int, issued_at: dt.datetime | None) -> None:
    if not issuer:
        raise ValueError("an issuer name is required")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"a status-list version is a whole number ≥ 1, not {version!r}")
    if issued_at is not None and issued_at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC time")


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (sha256 TEXT PRIMARY KEY, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen_versions (
    issuer TEXT PRIMARY KEY, version INTEGER NOT NULL, issued_at TEXT
);
CREATE TABLE IF NOT EXISTS listed (
    issuer TEXT NOT NULL, sha256 TEXT NOT NULL, sig TEXT, doc_type TEXT NOT NULL,
    issued_at TEXT NOT NULL, PRIMARY KEY (issuer, sha256)
);
CREATE INDEX IF NOT EXISTS listed_sig ON listed (issuer, sig);
CREATE INDEX IF NOT EXISTS listed_day ON listed (issuer, doc_type, issued_at);
CREATE TABLE IF NOT EXISTS listed_files (
    issuer TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (issuer, sha256)
);
"""
# Shared with store_pg in spirit: the version only rises; a version's first time is kept.
_SQLITE_RECORD_SEEN = (
    "INSERT INTO seen_versions (issuer, version, issued_at) VALUES (?, ?, ?) "
    "ON CONFLICT (issuer) DO UPDATE SET version = excluded.version, "
    "issued_at = CASE WHEN excluded.version > seen_versions.version "
    "OR seen_versions.issued_at IS NULL THEN excluded.issued_at "
    "ELSE seen_versions.issued_at END "
    "WHERE excluded.version > seen_versions.version "
    "OR (excluded.version = seen_versions.version AND seen_versions.issued_at IS NULL)"
)


_SQLITE_ANSWER_READ = (
    "SELECT issuer, version, issued_at, (SELECT used FROM counts WHERE sha256=?) FROM seen_versions"
)
_SQLITE_ANSWER_READ_ALL = (
    "SELECT json_group_array(json_array(issuer, version, issued_at)), "
    "(SELECT used FROM counts WHERE sha256=?) FROM seen_versions"
)


@functools.lru_cache(maxsize=4096)
def _seen_row(version: int, issued_at: str | None) -> Seen:
    """A stored row as a Seen, parsed once per distinct row (read on every answer)."""
    return Seen(int(version), parse_time(issued_at, "issued_at") if issued_at else None)


class ChangeMark:
    """A value in a small file beside the database, replaced by a fresh random one after every
    commit that changes what :meth:`SqliteStore.answer_read` returns (a trusted state, a count).

    Every answer consults the shared state; while nothing changed, the last read of it still
    holds, and comparing this value costs one memory read of a mapped file, no system call. The
    SQLite read it saves was a statement whose steps each let the other request threads take the
    interpreter, at every answer. A random value, not a counter: two writers that replace it at
    once still leave a value no reader has seen, with no lock between them. Without the file
    (a folder that refuses it), every answer reads the database, as before."""

    SIZE = 8

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mapped: tuple[int, mmap.mmap] | None = None  # the file's inode, its mapping

    def _map(self, recheck: bool = False) -> mmap.mmap | None:
        # A shared mapping stays shared in a forked worker: no process id to check per answer.
        held = self._mapped
        if held is not None:
            if not recheck:
                return held[1]
            try:
                if os.stat(self.path).st_ino == held[0]:
                    return held[1]
            except OSError:
                pass  # removed: made again below, and shared again by whoever maps it next
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            self._mapped = None
            return None
        try:
            info = os.fstat(fd)
            if info.st_size < self.SIZE:
                os.ftruncate(fd, self.SIZE)
            held = self._mapped = (info.st_ino, mmap.mmap(fd, self.SIZE))
        except (OSError, ValueError):
            self._mapped = None
            return None
        finally:
            os.close(fd)
        return held[1]

    def value(self, recheck: bool = False) -> bytes | None:
        """The current value; None when there is no file to share it (never equal to a held one).
        ``recheck``: make sure the file mapped is still the one at the path (a removed file is
        made again), at a system call's cost."""
        mapped = self._map(recheck)
        try:
            return None if mapped is None else mapped[: self.SIZE]
        except ValueError:  # closed meanwhile (the store is closing)
            return None

    def change(self) -> None:
        mapped = self._map()
        try:
            if mapped is not None:
                mapped[: self.SIZE] = os.urandom(self.SIZE)
        except ValueError:
            pass  # closed meanwhile: readers elsewhere still read at least every READ_MAX_AGE

    def close(self) -> None:
        held, self._mapped = self._mapped, None
        if held is not None:
            held[1].close()


@contextlib.contextmanager
def _one_opening_at_a_time(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` while a process first opens the database.

    Workers start together on a new database: making it WAL takes a lock SQLite does not wait
    for, so one of two workers opening it at once got "database is locked" at once (not after
    the busy timeout), failed to boot, and gunicorn then stopped the whole service. The lock
    file is the change mark's, which every store keeps beside the database anyway. A folder that
    refuses it opens without the lock, as before."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):  # a file system without locks: as before
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# Answers' reads kept per process while the mark holds: at most this many documents, and never
# older than this (a change made outside this code, by an older verifier or by hand, is seen
# within it).
_READS_MAX = 10_000
READ_MAX_AGE = 1.0


class SqliteStore(Store):
    """One SQLite file (WAL), atomic across threads and worker processes of one machine.

    Fifty simultaneous uploads of a document whose limit is 3 give exactly 3 successes: the
    increment and the limit test are one SQL statement inside an immediate transaction.

    A count already at its limit is answered from a read: a write transaction takes SQLite's
    write lock, and a second worker wanting it sleeps and retries (1, 2, 5 … 100 ms), which put
    tens to hundreds of milliseconds on answers for a document verified past its limit.
    """

    def __init__(self, path: Path, *, read_max_age: float = READ_MAX_AGE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.read_max_age = read_max_age
        self._mark = ChangeMark(path.with_name(path.name + "-changes"))
        # Per document (and lists asked): the mark it was read under, when, the states, the count.
        self._reads: dict[tuple[tuple[str, ...], str], tuple[bytes, float, dict[str, Seen], int]]
        self._reads = {}
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []  # every thread's, closed by close()
        self._opened_lock = threading.Lock()
        with _one_opening_at_a_time(self._mark.path):
            conn = self._conn()
            conn.executescript(_SQLITE_SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            try:
                cols = {r[1] for r in conn.execute("PRAGMA table_info(seen_versions)")}
                if "issued_at" not in cols:  # a database from before the time was kept
                    conn.execute("ALTER TABLE seen_versions ADD COLUMN issued_at TEXT")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                # Each thread uses its own; another thread may only close it (close()).
                conn = sqlite3.connect(
                    str(self.path), timeout=30, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as e:
                raise StoreUnavailableError(
                    f"cannot open the verifier's database {self.path}: {e}",
                    f"無法開啟驗證服務的資料庫 {self.path}：{e}",
                ) from e
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    def try_use(self, sha256: str, limit: int, used: int | None = None) -> tuple[bool, int]:
        check_use(sha256, limit)
        used = self.used(sha256) if used is None else used
        if used >= limit:
            return False, used  # counts only rise: no write could make room
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "INSERT INTO counts (sha256, used) VALUES (?, 1) "
                "ON CONFLICT (sha256) DO UPDATE SET used = used + 1 WHERE used < ? "
                "RETURNING used",
                (sha256, limit),
            ).fetchone()
            if row is None:
                got = conn.execute("SELECT used FROM counts WHERE sha256=?", (sha256,)).fetchone()
                conn.execute("COMMIT")
                return False, int(got[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._mark.change()
        return True, int(row[0])

    def used(self, sha256: str) -> int:
        row = self._conn().execute("SELECT used FROM counts WHERE sha256=?", (sha256,)).fetchone()
        return 0 if row is None else int(row[0])

    def seen(self, issuer: str) -> Seen:
        row = (
            self._conn()
            .execute("SELECT version, issued_at FROM seen_versions WHERE issuer=?", (issuer,))
            .fetchone()
        )
        return NOTHING_SEEN if row is None else _seen_row(row[0], row[1])

    def seen_all(self, issuers: Iterable[str]) -> dict[str, Seen]:
        rows = {
            r[0]: _seen_row(r[1], r[2])
            for r in self._conn().execute("SELECT issuer, version, issued_at FROM seen_versions")
        }
        return {i: rows.get(i, NOTHING_SEEN) for i in issuers}

    def answer_read(self, issuers: Iterable[str], sha256: str) -> tuple[dict[str, Seen], int]:
        wanted = tuple(issuers)
        mark = self._mark.value()  # before the read: a change after it replaces the mark
        now = time.monotonic()
        held = self._reads.get((wanted, sha256))
        if held is not None and mark is not None and held[0] == mark:
            if now - held[1] < self.read_max_age:
                return dict(held[2]), held[3]
            mark = self._mark.value(recheck=True)
        seen, used = self._answer_read(wanted, sha256)
        if mark is not None:
            if len(self._reads) >= _READS_MAX:
                self._reads.clear()
            self._reads[(wanted, sha256)] = (mark, now, seen, used)
        return dict(seen), used

    def _answer_read(self, wanted: tuple[str, ...], sha256: str) -> tuple[dict[str, Seen], int]:
        # One statement is one read transaction: the states and the count are of one moment.
        conn = self._conn()
        if len(wanted) > 1:
            # Nationally, one row of JSON rather than a row per school: each row is a step of
            # SQLite with the interpreter lock released, and with two threads reading at once
            # 61 rows measured about twice the CPU of one row of JSON.
            text, used = conn.execute(_SQLITE_ANSWER_READ_ALL, (sha256,)).fetchone()
            rows = [(r[0], r[1], r[2], used) for r in json.loads(text)]
        else:
            # Each row carries the count, so one school's verifier reads a single row.
            rows = conn.execute(_SQLITE_ANSWER_READ, (sha256,)).fetchall()
            if not rows:  # nothing trusted yet, anywhere: before the first list is loaded
                return {i: NOTHING_SEEN for i in wanted}, self.used(sha256)
            used = rows[0][3]
        seen = {r[0]: _seen_row(r[1], r[2]) for r in rows}
        return {i: seen.get(i, NOTHING_SEEN) for i in wanted}, 0 if used is None else int(used)

    def record_seen(self, issuer: str, version: int, issued_at: dt.datetime | None = None) -> Seen:
        check_seen(issuer, version, issued_at)
        at = format_time(issued_at) if issued_at is not None else None
        if self._conn().execute(_SQLITE_RECORD_SEEN, (issuer, version, at)).rowcount:
            self._mark.change()
        return self.seen(issuer)

    def indexed(self, issuer: str) -> set[str]:
        rows = self._conn().execute("SELECT sha256 FROM listed_files WHERE issuer=?", (issuer,))
        return {r[0] for r in rows}

    def record_indexed(self, issuer: str, file_sha256: str, rows: Sequence[Listed]) -> None:
        check_listed(issuer, rows)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO listed (issuer, sha256, sig, doc_type, issued_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(issuer, *row) for row in rows],
            )
            conn.execute(
                "INSERT INTO listed_files (issuer, sha256) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (issuer, file_sha256),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def by_signature(self, issuer: str, sig: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT sha256 FROM listed WHERE issuer=? AND sig=? ORDER BY sha256", (issuer, sig)
        )
        return [r[0] for r in rows]

    def issued_alike(self, issuer: str, doc_type: str, day: str) -> int:
        row = (
            self._conn()
            .execute(
                "SELECT COUNT(*) FROM listed WHERE issuer=? AND doc_type=? "
                "AND issued_at >= ? AND issued_at < ?",
                (issuer, doc_type, day, next_day(day)),
            )
            .fetchone()
        )
        return int(row[0])

    def close(self) -> None:
        """Close the connections every thread opened."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()
        self._mark.close()


def open_store(
    database: Path | str, *, pool_size: int | None = None, start_unreachable: bool = False
) -> Store:
    """A ``postgresql://`` URL opens PostgreSQL (``pool_size`` connections per process, None
    for its default; ``start_unreachable``: a database down now is logged, and answers wait
    for it, rather than an error); anything else is a SQLite file's path."""
    if isinstance(database, str) and database.startswith(POSTGRES_SCHEMES):
        from verifier.store_pg import PostgresStore  # psycopg (and libpq) only when configured

        return PostgresStore(database, pool_size=pool_size, start_unreachable=start_unreachable)
    return SqliteStore(Path(database))
