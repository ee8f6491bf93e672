"""The shared store, the same rules on SQLite and on a real PostgreSQL: counts never pass the
limit, the trusted state never goes back, and every worker and instance sees the same ones."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from certseal.statuslist import Seen
from tests.pg import PostgresServer, postgres  # noqa: F401 - the fixture
from verifier.store import NOTHING_SEEN, SqliteStore, Store, open_store
from verifier.store_pg import PostgresStore

T1 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
T2 = T1 + dt.timedelta(hours=1)
T3 = T1 + dt.timedelta(hours=2)
SHA = "ab" * 32

# Opens the same database again: another worker or another instance.
Opener = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def opener(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres: PostgresServer,  # noqa: F811
) -> Iterator[Opener]:
    where: Path | str = (
        tmp_path / "counts.sqlite" if request.param == "sqlite" else postgres.new_database()
    )
    opened: list[Store] = []

    def open_one() -> Store:
        store = open_store(where)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def test_open_store_picks_the_backend(opener: Opener, request: pytest.FixtureRequest) -> None:
    kind = SqliteStore if "sqlite" in request.node.callspec.id else PostgresStore
    assert type(opener()) is kind


def test_counts_stop_at_the_limit(opener: Opener) -> None:
    a, b = opener(), opener()
    assert [a.try_use(SHA, 3), b.try_use(SHA, 3), a.try_use(SHA, 3)] == [
        (True, 1),
        (True, 2),
        (True, 3),
    ]
    assert b.try_use(SHA, 3) == (False, 3)
    assert (a.used(SHA), b.used(SHA), a.used("cd" * 32)) == (3, 3, 0)


def test_a_zero_limit_never_counts(opener: Opener) -> None:
    store = opener()
    assert store.try_use(SHA, 0) == (False, 0)
    assert store.used(SHA) == 0


@pytest.mark.parametrize("limit", [-1, True, 2.5, "3"])
def test_a_bad_limit_is_refused(opener: Opener, limit: object) -> None:
    with pytest.raises(ValueError, match="verification limit"):
        opener().try_use(SHA, limit)  # type: ignore[arg-type]


def test_fifty_simultaneous_counts_over_two_stores_give_exactly_the_limit(
    opener: Opener,
) -> None:
    stores = [opener(), opener()]
    start = threading.Barrier(50)

    def one(i: int) -> bool:
        start.wait()
        return stores[i % 2].try_use(SHA, 3)[0]

    with ThreadPoolExecutor(max_workers=50) as pool:
        counted = list(pool.map(one, range(50)))
    assert counted.count(True) == 3
    assert stores[0].used(SHA) == 3


def test_trusted_state_is_shared_and_never_goes_back(opener: Opener) -> None:
    a, b = opener(), opener()
    assert a.seen("demo") == NOTHING_SEEN
    assert a.record_seen("demo", 1, T1) == Seen(1, T1)
    assert b.record_seen("demo", 3, T3) == Seen(3, T3)
    # A worker still holding version 2 learns that 3 is trusted: the answer is the newer state.
    assert a.record_seen("demo", 2, T2) == Seen(3, T3)
    assert (a.seen("demo"), b.seen_version("demo")) == (Seen(3, T3), 3)
    assert a.seen("other") == NOTHING_SEEN


def test_every_issuers_state_in_one_read_is_each_ones(opener: Opener) -> None:
    """``seen_all`` (a national answer's one read) says for each issuer what ``seen`` says."""
    a, b = opener(), opener()
    a.record_seen("demo", 2, T2)
    b.record_seen("trustlist", 7)
    b.record_seen("demo", 3, T3)
    wanted = ["trustlist", "demo", "never"]
    assert a.seen_all(wanted) == {i: a.seen(i) for i in wanted}
    assert a.seen_all(wanted) == {"trustlist": Seen(7), "demo": Seen(3, T3), "never": NOTHING_SEEN}
    assert b.seen_all([]) == {}


def test_an_answers_one_read_is_the_states_and_the_count(opener: Opener) -> None:
    """``answer_read`` (every answer's one read) says what ``seen_all`` and ``used`` say."""
    a, b = opener(), opener()
    assert a.answer_read(["demo"], SHA) == ({"demo": NOTHING_SEEN}, 0)
    b.try_use(SHA, 5)
    assert a.answer_read(["demo"], SHA) == ({"demo": NOTHING_SEEN}, 1)  # nothing trusted yet
    nothing = {"demo": NOTHING_SEEN, "trustlist": NOTHING_SEEN}
    assert a.answer_read(["demo", "trustlist"], SHA) == (nothing, 1)
    b.record_seen("demo", 3, T3)
    b.record_seen("trustlist", 7)
    b.try_use(SHA, 5)
    b.try_use("cd" * 32, 5)
    wanted = ["trustlist", "demo", "never"]
    assert a.answer_read(wanted, SHA) == (a.seen_all(wanted), 2)
    assert a.answer_read(["demo"], SHA) == ({"demo": Seen(3, T3)}, 2)
    assert a.answer_read([], "ef" * 32) == ({}, 0)


def test_a_count_read_earlier_never_lets_a_count_pass_the_limit(opener: Opener) -> None:
    """An answer counts with the count it read at its start: another worker may have counted
    since, and the limit is tested again by the one atomic statement."""
    a, b = opener(), opener()
    _, before = a.answer_read([], SHA)
    assert [b.try_use(SHA, 2), b.try_use(SHA, 2)] == [(True, 1), (True, 2)]
    assert a.try_use(SHA, 2, before) == (False, 2)  # read 0, but the store is at 2
    assert a.try_use(SHA, 2, 2) == (False, 2)  # at the limit: answered without a write
    assert a.used(SHA) == 2


def test_a_version_keeps_its_first_time(opener: Opener) -> None:
    store = opener()
    store.record_seen("demo", 2, T2)
    assert store.record_seen("demo", 2, T3) == Seen(2, T2)


def test_a_version_recorded_without_time_gets_it_later(opener: Opener) -> None:
    """``record_seen(issuer, version)`` (no time) keeps working for older callers."""
    store = opener()
    assert store.record_seen("demo", 4) == Seen(4, None)
    assert store.record_seen("demo", 4, T2) == Seen(4, T2)
    assert store.record_seen("demo", 3, T1) == Seen(4, T2)


@pytest.mark.parametrize(
    ("version", "at", "match"),
    [
        (0, T1, "version"),
        (-2, T1, "version"),
        (True, T1, "version"),
        (2, dt.datetime(2026, 6, 1), "naive"),  # naive: the defect under test
    ],
)
def test_bad_trusted_state_is_refused(
    opener: Opener, version: int, at: dt.datetime, match: str
) -> None:
    store = opener()
    with pytest.raises(ValueError, match=match):
        store.record_seen("demo", version, at)
    assert store.seen("demo") == NOTHING_SEEN


def test_concurrent_records_end_at_the_highest_and_no_reader_sees_it_fall(
    opener: Opener,
) -> None:
    stores = [opener(), opener()]
    versions = list(range(1, 61))
    random.Random(7).shuffle(versions)
    done = threading.Event()
    fell: list[tuple[int, int]] = []

    def watch() -> None:
        last = 0
        while not done.is_set():
            now = stores[1].seen_version("demo")
            if now < last:
                fell.append((last, now))
            last = now

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            after = list(
                pool.map(
                    lambda iv: stores[iv[0] % 2].record_seen(
                        "demo", iv[1], T1 + dt.timedelta(minutes=iv[1])
                    ),
                    enumerate(versions),
                )
            )
    finally:
        done.set()
        watcher.join()
    assert not fell
    assert all(s.version >= v for s, v in zip(after, versions, strict=True))
    assert stores[0].seen("demo") == Seen(60, T1 + dt.timedelta(minutes=60))


def test_sqlite_database_from_before_the_time_is_upgraded(tmp_path: Path) -> None:
    """A counts database written by the earlier verifier keeps its counts and versions."""
    path = tmp_path / "counts.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE counts (sha256 TEXT PRIMARY KEY, used INTEGER NOT NULL);"
        "CREATE TABLE seen_versions (issuer TEXT PRIMARY KEY, version INTEGER NOT NULL);"
        "INSERT INTO seen_versions VALUES ('demo', 5);"
    )
    old.execute("INSERT INTO counts VALUES (?, 2)", (SHA,))
    old.commit()
    old.close()
    store = SqliteStore(path)
    try:
        assert store.used(SHA) == 2
        assert store.seen("demo") == Seen(5, None)
        assert store.record_seen("demo", 5, T1) == Seen(5, T1)
        assert store.try_use(SHA, 3) == (True, 3)
    finally:
        store.close()
    SqliteStore(path).close()  # opening an upgraded database again changes nothing


def _open_at(path: Path, start: float) -> None:
    """A worker starting: wait for the common moment, open the store, exit 0 if it opened."""
    while time.time() < start:
        pass
    try:
        SqliteStore(path).close()
    except Exception:
        os._exit(3)
    os._exit(0)


def test_workers_starting_together_on_a_new_database_all_open_it(tmp_path: Path) -> None:
    """gunicorn's workers open a new database at the same moment; before, one in a dozen
    pairs got "database is locked" at once (making the file WAL), failed to boot, and gunicorn
    stopped the whole service."""
    forked = multiprocessing.get_context("fork")
    failed = []
    for round_ in range(25):
        path = tmp_path / f"r{round_}" / "counts.sqlite"
        start = time.time() + 0.05
        workers = [forked.Process(target=_open_at, args=(path, start)) for _ in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
        failed += [(round_, w.exitcode) for w in workers if w.exitcode != 0]
    assert failed == []
