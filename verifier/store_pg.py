"""The verifier's store on PostgreSQL: one database shared by every instance behind one address.

Each worker process borrows connections (autocommit) from a bounded pool of its own, opened after
the fork: ``pool_size`` connections at most, however many threads the worker runs, so an
instance holds at most workers × pool_size connections (docs/deployment.md).
Counting is one ``INSERT … ON CONFLICT DO UPDATE … WHERE used < limit RETURNING used``: the
conflicting row is locked and the limit re-tested on its newest version, so concurrent
instances can never count past the limit. The trusted state rises the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from certseal.errors import ConfigurationError, StoreUnavailableError
from certseal.statuslist import Seen
from verifier.store import (
    NOTHING_SEEN,
    Listed,
    Store,
    check_listed,
    check_seen,
    check_use,
    next_day,
)

T = TypeVar("T")

log = logging.getLogger("certseal.verifier")

# Connections per worker process: a statement takes about a millisecond, so a gthread worker's
# 32 threads share 4 with little waiting, and 2 workers × 4 leave most of PostgreSQL's default
# 100 connections to other instances.
DEFAULT_POOL_SIZE = 4
# How long a request waits for a connection before it answers status_unavailable: far longer
# than a burst's queue, short enough that threads do not pile up while the database is down.
POOL_WAIT_SECONDS = 3.0

# Any constant: it serialises the schema set-up of workers that start at the same moment
# (concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL's catalog).
_SCHEMA_LOCK = 0x63657274  # "cert"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counts ("
    " sha256 text PRIMARY KEY, used integer NOT NULL CHECK (used >= 0))",
    "CREATE TABLE IF NOT EXISTS seen_versions ("
    " issuer text PRIMARY KEY, version bigint NOT NULL CHECK (version >= 1),"
    " issued_at timestamptz)",
    # The signature index (verifier/resaved.py): issue times kept as the list's text.
    "CREATE TABLE IF NOT EXISTS listed ("
    " issuer text NOT NULL, sha256 text NOT NULL, sig text, doc_type text NOT NULL,"
    " issued_at text NOT NULL, PRIMARY KEY (issuer, sha256))",
    "CREATE INDEX IF NOT EXISTS listed_sig ON listed (issuer, sig)",
    "CREATE INDEX IF NOT EXISTS listed_day ON listed (issuer, doc_type, issued_at)",
    "CREATE TABLE IF NOT EXISTS listed_files ("
    " issuer text NOT NULL, sha256 text NOT NULL, PRIMARY KEY (issuer, sha256))",
)
_TRY_USE = (
    "INSERT INTO counts AS c (sha256, used) VALUES (%s, 1) "
    "ON CONFLICT (sha256) DO UPDATE SET used = c.used + 1 WHERE c.used < %s "
    "RETURNING used"
)
_RECORD_SEEN = (
    "INSERT INTO seen_versions AS s (issuer, version, issued_at) VALUES (%s, %s, %s) "
    "ON CONFLICT (issuer) DO UPDATE SET version = excluded.version, "
    "issued_at = CASE WHEN excluded.version > s.version OR s.issued_at IS NULL "
    "THEN excluded.issued_at ELSE s.issued_at END "
    "WHERE excluded.version > s.version "
    "OR (excluded.version = s.version AND s.issued_at IS NULL)"
)


def describe(url: str) -> str:
    """Host, port and database of a connection URL, never its password (for messages)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql (unreadable URL)"
    host, port = info.get("host", "localhost"), info.get("port", 5432)
    return f"postgresql {host}:{port}/{info.get('dbname', '')}"


def _seen_row(version: int, issued_at: dt.datetime | None) -> Seen:
    """A stored row of ``seen_versions`` as a Seen (PostgreSQL gives the time zone-aware)."""
    return Seen(int(version), issued_at.astimezone(dt.UTC) if issued_at is not None else None)


class PostgresStore(Store):
    def __init__(
        self,
        url: str,
        *,
        connect_timeout: int = 10,
        pool_size: int | None = None,
        pool_wait: float = POOL_WAIT_SECONDS,
        start_unreachable: bool = False,
    ) -> None:
        """``pool_size``: connections per process (None: 4);
        ``pool_wait``: seconds a request waits for one before the store is unavailable;
        ``start_unreachable``: a database that cannot be reached now is logged, not raised,
        and the tables are made on the first connection that works (a gunicorn worker that
        fails to boot stops the whole service, and workers are made again at any time)."""
        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            raise ConfigurationError(
                "the database setting is not a valid postgresql:// URL",
                "資料庫設定不是有效的 postgresql:// 網址",
            ) from None
        self.pool_size = DEFAULT_POOL_SIZE if pool_size is None else pool_size
        if not isinstance(self.pool_size, int) or self.pool_size < 1:
            raise ValueError(f"a pool of {self.pool_size!r} connections")  # config checks it
        self.pool_wait = pool_wait
        self.url = str(url)
        self.where = describe(url)
        self.connect_timeout = connect_timeout
        self._pid = os.getpid()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._pool_lock = threading.Lock()
        # Pools made before a fork: the parent's sessions, kept (never closed nor collected
        # here, which would end them or wait on the parent's threads).
        self._forgotten: list[ConnectionPool[psycopg.Connection[Any]]] = []
        self._tables_made = False
        try:
            self._set_up()
        except StoreUnavailableError as e:
            if not start_unreachable or not isinstance(e.__cause__, psycopg.OperationalError):
                raise
            log.warning("%s; answers are 503 until it can", e.message("en"))

    def _connect_options(self) -> dict[str, Any]:
        return {
            "autocommit": True,
            "connect_timeout": self.connect_timeout,
            "application_name": "certseal-verifier",
        }

    def _set_up(self) -> None:
        """Create the tables on a connection of its own, closed at once: the store may be made
        in gunicorn's master, and a pool made there would not serve the forked workers."""
        try:
            with psycopg.connect(self.url, **self._connect_options()) as conn:
                self._make_tables(conn)
        except psycopg.OperationalError as e:
            raise self._unreachable(e) from e
        except psycopg.Error as e:
            raise self._refused(e) from e

    def _make_tables(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for sql in _SCHEMA:
                conn.execute(sql)
        self._tables_made = True

    def _connections(self) -> ConnectionPool[psycopg.Connection[Any]]:
        """This process's pool, made on first use after a fork."""
        pool = self._pool
        if pool is not None and self._pid == os.getpid():
            return pool
        with self._pool_lock:
            if self._pid != os.getpid():
                # A pool made before gunicorn forked belongs to the parent (its threads did not
                # cross the fork): forget it, since closing it here would end the parent's
                # sessions.
                if self._pool is not None:
                    self._forgotten.append(self._pool)
                self._pid, self._pool = os.getpid(), None
            if self._pool is None:
                pool = ConnectionPool(
                    self.url,
                    kwargs=self._connect_options(),
                    min_size=1,
                    max_size=self.pool_size,
                    open=False,
                    timeout=self.pool_wait,
                    # A connection that failed is tried again for no longer than a request
                    # waits: once the database is back, the next request's connection is
                    # opened at once rather than after a long back-off.
                    reconnect_timeout=self.pool_wait,
                    name="certseal-verifier",
                )
                pool.open()
                self._pool = pool
            return self._pool

    def _unreachable(self, e: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"the verifier's database ({self.where}) cannot be reached: {type(e).__name__}",
            f"無法連線驗證服務的資料庫（{self.where}）",
        )

    def _refused(self, e: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"the verifier's database ({self.where}) refused a request: {type(e).__name__}",
            f"驗證服務的資料庫（{self.where}）拒絕了要求",
        )

    def _run(
        self, work: Callable[[psycopg.Connection[Any]], T], *, retry: bool, ping: bool = False
    ) -> T:
        """Run ``work`` on a connection borrowed from this process's pool; every failure
        wrapped once.

        ``retry``: the work may run twice (a read, or a change that is the same when repeated),
        so a connection the server closed (a restart, a failover) is replaced once.
        ``ping``: first make sure the borrowed connection is alive (a repeatable ping, retried
        like a read), so work that is not repeatable runs on a connection just seen alive.
        """
        for attempt in (1, 2):
            pool = self._connections()
            started = False
            try:
                with pool.connection() as conn:
                    if not self._tables_made:
                        # Unreachable when the store was made: made now (repeatable).
                        self._make_tables(conn)
                    if ping:
                        conn.execute("SELECT 1")
                    started = True
                    return work(conn)
            except PoolTimeout as e:
                raise StoreUnavailableError(
                    f"the verifier's database ({self.where}) gave no connection within "
                    f"{self.pool_wait:g} s: it cannot be reached, or all {self.pool_size} of "
                    "this worker's connections are busy",
                    f"驗證服務的資料庫（{self.where}）在 {self.pool_wait:g} 秒內未能提供連線："
                    f"無法連線，或本工作程序的 {self.pool_size} 條連線都在使用中",
                ) from e
            except psycopg.OperationalError as e:
                if attempt == 1 and (retry or not started):
                    # A restart closed every idle connection too: replace them all, not only
                    # the one that failed, so the second attempt gets a live one.
                    pool.check()
                    continue
                raise self._unreachable(e) from e
            except psycopg.Error as e:
                raise self._refused(e) from e
        raise AssertionError("unreachable")

    def try_use(self, sha256: str, limit: int, used: int | None = None) -> tuple[bool, int]:
        check_use(sha256, limit)
        if used is not None and used >= limit:
            return False, used  # counts only rise: no write could make room
        if limit == 0:
            return False, self.used(sha256)

        def count(conn: psycopg.Connection[Any]) -> tuple[bool, int]:
            row = conn.execute(_TRY_USE, (sha256, limit)).fetchone()
            if row is not None:
                return True, int(row[0])
            return False, self._used(conn, sha256)

        # A count is not repeatable: it runs on a connection just seen alive, so a server
        # restart since the last request does not cost a failed answer.
        return self._run(count, retry=False, ping=True)

    @staticmethod
    def _used(conn: psycopg.Connection[Any], sha256: str) -> int:
        row = conn.execute("SELECT used FROM counts WHERE sha256 = %s", (sha256,)).fetchone()
        return 0 if row is None else int(row[0])

    def used(self, sha256: str) -> int:
        return self._run(lambda c: self._used(c, sha256), retry=True)

    @staticmethod
    def _seen(conn: psycopg.Connection[Any], issuer: str) -> Seen:
        row = conn.execute(
            "SELECT version, issued_at FROM seen_versions WHERE issuer = %s", (issuer,)
        ).fetchone()
        if row is None:
            return NOTHING_SEEN
        return _seen_row(row[0], row[1])

    def seen(self, issuer: str) -> Seen:
        return self._run(lambda c: self._seen(c, issuer), retry=True)

    def seen_all(self, issuers: Iterable[str]) -> dict[str, Seen]:
        wanted = list(issuers)

        def read(conn: psycopg.Connection[Any]) -> dict[str, Seen]:
            rows = conn.execute(
                "SELECT issuer, version, issued_at FROM seen_versions WHERE issuer = ANY(%s)",
                (wanted,),
            ).fetchall()
            got = {r[0]: _seen_row(r[1], r[2]) for r in rows}
            return {i: got.get(i, NOTHING_SEEN) for i in wanted}

        return self._run(read, retry=True)

    def answer_read(self, issuers: Iterable[str], sha256: str) -> tuple[dict[str, Seen], int]:
        wanted = list(issuers)

        def read(conn: psycopg.Connection[Any]) -> tuple[dict[str, Seen], int]:
            rows = conn.execute(
                "SELECT issuer, version, issued_at FROM seen_versions WHERE issuer = ANY(%s) "
                "UNION ALL SELECT NULL, used, NULL FROM counts WHERE sha256 = %s",
                (wanted, sha256),
            ).fetchall()
            got, used = {}, 0
            for issuer, version, at in rows:
                if issuer is None:
                    used = int(version)
                else:
                    got[issuer] = _seen_row(version, at)
            return {i: got.get(i, NOTHING_SEEN) for i in wanted}, used

        return self._run(read, retry=True)

    def record_seen(self, issuer: str, version: int, issued_at: dt.datetime | None = None) -> Seen:
        check_seen(issuer, version, issued_at)
        at = issued_at.astimezone(dt.UTC).replace(microsecond=0) if issued_at else None

        def record(conn: psycopg.Connection[Any]) -> Seen:
            conn.execute(_RECORD_SEEN, (issuer, version, at))
            return self._seen(conn, issuer)

        # Repeating it changes nothing: the version only rises and a version's time is kept.
        return self._run(record, retry=True)

    def indexed(self, issuer: str) -> set[str]:
        def read(conn: psycopg.Connection[Any]) -> set[str]:
            rows = conn.execute("SELECT sha256 FROM listed_files WHERE issuer = %s", (issuer,))
            return {r[0] for r in rows}

        return self._run(read, retry=True)

    def record_indexed(self, issuer: str, file_sha256: str, rows: Sequence[Listed]) -> None:
        check_listed(issuer, rows)

        def record(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO listed (issuer, sha256, sig, doc_type, issued_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(issuer, *row) for row in rows],
                )
                cur.execute(
                    "INSERT INTO listed_files (issuer, sha256) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (issuer, file_sha256),
                )

        # Repeating it changes nothing: every insert keeps what is there.
        self._run(record, retry=True)

    def by_signature(self, issuer: str, sig: str) -> list[str]:
        def read(conn: psycopg.Connection[Any]) -> list[str]:
            rows = conn.execute(
                "SELECT sha256 FROM listed WHERE issuer = %s AND sig = %s ORDER BY sha256",
                (issuer, sig),
            )
            return [r[0] for r in rows]

        return self._run(read, retry=True)

    def issued_alike(self, issuer: str, doc_type: str, day: str) -> int:
        def read(conn: psycopg.Connection[Any]) -> int:
            row = conn.execute(
                "SELECT COUNT(*) FROM listed WHERE issuer = %s AND doc_type = %s "
                "AND issued_at >= %s AND issued_at < %s",
                (issuer, doc_type, day, next_day(day)),
            ).fetchone()
            return 0 if row is None else int(row[0])

        return self._run(read, retry=True)

    def close(self) -> None:
        """Close this process's pool and its connections (a later request opens a new one)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid != os.getpid():
            self._forgotten.append(pool)  # the parent's, as in _connections
        elif pool is not None:
            pool.close()
