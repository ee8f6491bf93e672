"""PostgreSQL connections bounded per verifier process: a burst of requests over several
instances never opens more connections than PostgreSQL allows, so no answer is
``status_unavailable`` while nothing is wrong (a real server with a small max_connections).
A pool that stays busy past a short wait, or a database that is down, is still a clear 503."""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from certseal.errors import ConfigurationError, StoreUnavailableError
from tests.conftest import Issued
from tests.pg import PostgresServer
from tests.verifier.conftest import LiveServer, verifier_config
from tests.verifier.test_api import post
from verifier.app import create_app
from verifier.config import VerifierConfig
from verifier.store_pg import DEFAULT_POOL_SIZE, PostgresStore

SHA = "ab" * 32
# PostgreSQL's own default is 100; the tests' user is the cluster's superuser, so all 10 are its.
MAX_CONNECTIONS = 10
Counted = tuple[bool, int] | StoreUnavailableError


@pytest.fixture(scope="module")
def small_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(max_connections=MAX_CONNECTIONS)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def database(small_postgres: PostgresServer) -> str:
    return small_postgres.new_database()


def verifier_backends(database: str, *, waiting_on_lock: bool = False) -> set[int]:
    """The server processes of the verifier's connections now (those blocked on a lock)."""
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'certseal-verifier' "
            "AND (NOT %s OR wait_event_type = 'Lock')",
            (waiting_on_lock,),
        ).fetchall()
    return {int(r[0]) for r in rows}


def wait_for(done: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if done():
            return
        time.sleep(0.05)
    raise AssertionError(f"never saw {what}")


def burst(calls: list[Callable[[], tuple[bool, int]]]) -> list[Counted]:
    """Every call on its own thread, all released at once (a gthread worker's 32 threads)."""
    start = threading.Barrier(len(calls))

    def one(call: Callable[[], tuple[bool, int]]) -> Counted:
        start.wait()
        try:
            return call()
        except StoreUnavailableError as e:
            return e

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


class CountsLocked:
    """Another session holds ``counts`` locked against writes (reads go on): every count
    waits, holding its pool connection, until the lock is released (at the latest on leaving
    the ``with``; put it after the executor whose counts wait, so it is released first)."""

    def __init__(self, database: str) -> None:
        self.conn = psycopg.connect(database)
        self.conn.execute("LOCK TABLE counts IN EXCLUSIVE MODE")

    def __enter__(self) -> CountsLocked:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.commit()
            self.conn.close()


def test_a_burst_over_two_instances_stays_within_max_connections(database: str) -> None:
    """Two instances' stores, 16 threads each, against a server that allows 10 connections:
    every count is answered (exactly the limit of them succeed) and the stores hold at most
    their two pools' connections. With one connection per thread, 24 of the 32 failed."""
    stores = [PostgresStore(database), PostgresStore(database)]
    try:
        results = burst([functools.partial(stores[i % 2].try_use, SHA, 20) for i in range(32)])
        failed = [r.message("en") for r in results if isinstance(r, StoreUnavailableError)]
        assert not failed, failed[:3]
        counted = sorted(r for r in results if isinstance(r, tuple) and r[0])
        assert counted == [(True, n) for n in range(1, 21)]
        assert results.count((False, 20)) == 12
        assert 1 <= len(verifier_backends(database)) <= 2 * DEFAULT_POOL_SIZE
        assert stores[0].used(SHA) == stores[1].used(SHA) == 20
    finally:
        for store in stores:
            store.close()


def test_a_pool_busy_past_the_wait_is_unavailable_then_answers_again(database: str) -> None:
    """One connection, held by a count that waits on a lock: a read waits the short wait, then
    is refused in plain words (en + zh-TW); the count itself is never lost."""
    store = PostgresStore(database, pool_size=1, pool_wait=0.5)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool, CountsLocked(database) as locked:
            counting = pool.submit(store.try_use, SHA, 3)
            wait_for(lambda: bool(verifier_backends(database, waiting_on_lock=True)), "a count")
            with pytest.raises(StoreUnavailableError, match=r"no connection within 0\.5 s") as e:
                store.used(SHA)
            assert "all 1 of this worker's connections are busy" in e.value.message("en")
            assert "1 條連線都在使用中" in e.value.message("zh-TW")
            locked.release()
            assert counting.result(timeout=10) == (True, 1)
        assert store.used(SHA) == 1
        assert len(verifier_backends(database)) == 1
    finally:
        store.close()


def test_a_restart_that_kills_every_pooled_connection_costs_no_answer(
    small_postgres: PostgresServer, database: str
) -> None:
    """Four connections idle in the pool when the server restarts: the first read and the
    first count after it are answered (all the dead ones are replaced, not only one)."""
    store = PostgresStore(database, pool_size=4)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool, CountsLocked(database) as locked:
            counts = [pool.submit(store.try_use, SHA, 10) for _ in range(4)]
            wait_for(
                lambda: len(verifier_backends(database, waiting_on_lock=True)) == 4,
                "four counts on four connections",
            )
            locked.release()
            assert sorted(c.result(timeout=10) for c in counts) == [(True, n) for n in (1, 2, 3, 4)]
        before = verifier_backends(database)
        assert len(before) == 4
        small_postgres.stop()
        small_postgres.start()
        assert store.used(SHA) == 4
        assert store.try_use(SHA, 10) == (True, 5)
        assert not before & verifier_backends(database)
    finally:
        store.close()


def test_a_forked_worker_opens_its_own_pool_and_leaves_the_parents(database: str) -> None:
    """gunicorn forks after the app is made: the child counts on connections of its own, and
    the parent's stay open (closing them in the child would end the parent's sessions)."""
    store = PostgresStore(database, pool_size=1)  # one connection: none still arriving
    try:
        assert store.try_use(SHA, 5) == (True, 1)
        parents = verifier_backends(database)
        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through the pipe
            code = 1
            try:
                mine = store.try_use(SHA, 5)
                seen = sorted(verifier_backends(database))  # while its pool is open
                os.write(writer, json.dumps([mine, seen]).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(writer)
        with os.fdopen(reader) as answer:
            counted, seen = json.loads(answer.read() or "[null, []]")
        _, status = os.waitpid(child, 0)
        assert (os.waitstatus_to_exitcode(status), counted) == (0, [True, 2])
        assert set(seen) > parents  # a connection of its own beside the parent's
        assert parents <= verifier_backends(database)
        assert store.try_use(SHA, 5) == (True, 3)
        wait_for(lambda: verifier_backends(database) == parents, "only the parent's connection")
    finally:
        store.close()


def test_the_pool_size_setting_reaches_the_store(
    issued: Issued, tmp_path: Path, database: str
) -> None:
    """The app opens its store with the configured size, and with the default without one."""
    for setting, size in (({"postgres_pool_size": 2}, 2), ({}, DEFAULT_POOL_SIZE)):
        cfg = verifier_config(issued, tmp_path, database=database, **setting)
        assert VerifierConfig.from_dict(cfg).store_location == database
        app = create_app(cfg)
        store = app.extensions["certseal.verifier"].counter
        try:
            assert isinstance(store, PostgresStore)
            assert store.pool_size == size
        finally:
            store.close()


def test_the_pool_size_comes_from_the_environment(issued: Issued) -> None:
    env = {
        "CERTSEAL_TRUST_DIR": str(issued.home / "keys"),
        "CERTSEAL_STATUS_SOURCE": str(issued.published),
        "CERTSEAL_DATABASE_URL": "postgresql://v@db.internal/verifier",
        "CERTSEAL_POSTGRES_POOL_SIZE": "6",
    }
    assert VerifierConfig.from_env(env).postgres_pool_size == 6
    env["CERTSEAL_POSTGRES_POOL_SIZE"] = "six"
    with pytest.raises(ConfigurationError, match="postgres_pool_size must be a whole number"):
        VerifierConfig.from_env(env)


@pytest.mark.parametrize("size", [0, -1, "4", 2.5, True])
def test_a_bad_pool_size_is_a_configuration_error(
    issued: Issued, tmp_path: Path, size: object
) -> None:
    with pytest.raises(ConfigurationError, match="postgres_pool_size must be a whole number ≥ 1"):
        VerifierConfig.from_dict(verifier_config(issued, tmp_path, postgres_pool_size=size))


def test_a_verification_that_finds_the_pool_busy_answers_503(
    issued: Issued, tmp_path: Path, database: str
) -> None:
    """Through the service, one connection per process: an upload whose count waits on a lock
    holds it; another upload meanwhile is a 503 status_unavailable after the short wait (not a
    500, not a wrong answer), and the first one is answered and counted once the lock goes."""
    app = create_app(verifier_config(issued, tmp_path, database=database, postgres_pool_size=1))
    live = LiveServer(app)
    verify = live.url + "/api/v1/verify"
    try:
        with ThreadPoolExecutor(max_workers=1) as pool, CountsLocked(database) as locked:
            first = pool.submit(post, verify, issued.pdf("transcript"))
            wait_for(lambda: bool(verifier_backends(database, waiting_on_lock=True)), "a count")
            status, body = post(verify, issued.pdf("genuine"), {"lang": "en"})
            assert status == 503
            assert [r["code"] for r in body["reasons"]] == ["status_unavailable"]
            locked.release()
            status, body = first.result(timeout=30)
        assert (status, body["result"], body["verifications"]["used"]) == (200, "success", 1)
        assert len(verifier_backends(database)) == 1
    finally:
        live.stop()
        app.extensions["certseal.verifier"].counter.close()
