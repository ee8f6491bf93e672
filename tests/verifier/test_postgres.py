"""The verifier on a real PostgreSQL: several instances behind one address share the counts and
the trusted state; a database that is down or restarted gives a clear answer, never a 500."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import psycopg
import pytest

from certseal.errors import ConfigurationError, StoreUnavailableError
from tests.conftest import Issued
from tests.pg import PostgresServer, free_port, postgres  # noqa: F401 - the fixture
from tests.verifier.conftest import LiveServer, verifier_config
from tests.verifier.test_api import SPEC, post
from verifier.app import create_app
from verifier.config import VerifierConfig
from verifier.store_pg import PostgresStore


def _gunicorn(config: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "verifier.app:create_app()",
        ],
        env={**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_healthy(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


def test_fifty_uploads_over_two_instances_count_exactly_three(
    issued: Issued,
    tmp_path: Path,
    postgres: PostgresServer,  # noqa: F811
) -> None:
    """Two gunicorn instances (2 workers x 4 threads each) on one PostgreSQL, 50 simultaneous
    uploads of a limit-3 document spread over both: exactly 3 successes."""
    database = postgres.new_database()
    servers: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for name in ("a", "b"):
            cfg = tmp_path / f"verifier-{name}.json"
            # Each instance its own SQLite file, unused: only the shared database may count.
            settings = verifier_config(issued, tmp_path / name, database=database)
            cfg.write_text(json.dumps(settings))
            port = free_port()
            servers.append(_gunicorn(cfg, port))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            _wait_healthy(url)
        pdf = issued.pdf("transcript")
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(lambda i: post(urls[i % 2] + "/api/v1/verify", pdf), range(50)))
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)
    verdicts = [b["result"] for _, b in results]
    odd = [b["reasons"] for _, b in results if b["result"] == "failure"]
    assert not odd, odd
    assert (verdicts.count("success"), verdicts.count("warning")) == (3, 47)
    assert all(s == 200 for s, _ in results)
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT used FROM counts").fetchall() == [(3,)]
        (version,) = conn.execute(
            "SELECT version FROM seen_versions WHERE issuer = 'demo'"
        ).fetchone() or (0,)
    assert version >= 1
    assert not (tmp_path / "a" / "counts.sqlite").exists()


def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = f"postgresql://certseal:s3cret-pw@127.0.0.1:{free_port()}/verifier"
    with pytest.raises(StoreUnavailableError, match="cannot be reached") as caught:
        PostgresStore(url, connect_timeout=2)
    assert "127.0.0.1" in caught.value.message("en")
    assert "s3cret-pw" not in caught.value.message("en") + caught.value.message("zh-TW")


@pytest.mark.parametrize("url", ["postgresql://host:notaport/db?x=", "postgresql://h/d?bad=1"])
def test_a_malformed_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="postgresql://"):
        PostgresStore(url)


@pytest.mark.parametrize("database", ["counts.sqlite", "mysql://h/db", 5])
def test_the_database_setting_must_be_a_postgresql_url(
    issued: Issued, tmp_path: Path, database: object
) -> None:
    with pytest.raises(ConfigurationError, match="postgresql://"):
        VerifierConfig.from_dict(verifier_config(issued, tmp_path, database=database))


def test_the_database_comes_from_the_environment(issued: Issued) -> None:
    env = {
        "CERTSEAL_TRUST_DIR": str(issued.home / "keys"),
        "CERTSEAL_STATUS_SOURCE": str(issued.published),
        "CERTSEAL_DATABASE_URL": "postgresql://v@db.internal/verifier",
    }
    cfg = VerifierConfig.from_env(env)
    assert cfg.store_location == "postgresql://v@db.internal/verifier"
    del env["CERTSEAL_DATABASE_URL"]
    assert VerifierConfig.from_env(env).store_location == VerifierConfig.from_env(env).counts_db


@pytest.fixture
def live_pg(
    issued: Issued,
    tmp_path: Path,
    postgres: PostgresServer,  # noqa: F811
) -> Iterator[tuple[LiveServer, str]]:
    database = postgres.new_database()
    app = create_app(verifier_config(issued, tmp_path, database=database))
    server = LiveServer(app)
    yield server, database
    server.stop()
    app.extensions["certseal.verifier"].counter.close()  # every request thread's connection


def test_a_database_restart_costs_no_answer_and_an_outage_is_a_clear_503(
    live_pg: tuple[LiveServer, str],
    issued: Issued,
    postgres: PostgresServer,  # noqa: F811
) -> None:
    live, database = live_pg
    verify = live.url + "/api/v1/verify"
    assert post(verify, issued.pdf("transcript"))[1]["result"] == "success"
    postgres.stop()
    try:
        status, body = post(verify, issued.pdf("transcript"), {"lang": "en"})
        assert status == 503
        assert [r["code"] for r in body["reasons"]] == ["status_unavailable"]
    finally:
        postgres.start()
    # The connections the restart closed are reopened: the next answers are normal.
    for used in (2, 3):
        status, body = post(verify, issued.pdf("transcript"))
        assert (status, body["result"], body["verifications"]["used"]) == (200, "success", used)
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT used FROM counts").fetchall() == [(3,)]


def _workers(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(c) for c in children}


def test_a_worker_made_while_the_database_is_down_boots_and_waits_for_it(
    issued: Issued,
    tmp_path: Path,
    postgres: PostgresServer,  # noqa: F811
) -> None:
    """gunicorn stops the whole service when a worker fails to boot, and makes workers again
    at any time (one killed, one past its timeout): a worker made while the database is down
    boots, answers 503 status_unavailable, and counts once the database is back."""
    database = postgres.new_database()
    cfg = tmp_path / "verifier.json"
    cfg.write_text(json.dumps(verifier_config(issued, tmp_path / "v", database=database)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    errors = tmp_path / "gunicorn.err"
    with errors.open("wb") as err:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"),
                "verifier.app:create_app()",
            ],
            env={**os.environ, "CERTSEAL_VERIFIER_CONFIG": str(cfg)},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    pdf = issued.pdf("transcript")
    try:
        _wait_healthy(url)
        assert post(url + "/api/v1/verify", pdf)[1]["result"] == "success"
        (first,) = _workers(server.pid)
        postgres.stop()
        try:
            os.kill(first, 9)
            for _ in range(200):
                now = _workers(server.pid) if server.poll() is None else set()
                if now and now != {first}:
                    break
                time.sleep(0.1)
            assert server.poll() is None, "gunicorn stopped: the new worker failed to boot"
            _wait_healthy(url)
            status, body = post(url + "/api/v1/verify", pdf, {"lang": "en"})
            assert status == 503
            assert [r["code"] for r in body["reasons"]] == ["status_unavailable"]
        finally:
            postgres.start()
        status, body = post(url + "/api/v1/verify", pdf)
        assert (status, body["result"], body["verifications"]["used"]) == (200, "success", 2)
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=20)
    log = errors.read_text()
    assert "cannot be reached" in log and "answers are 503 until it can" in log
    assert "Traceback" not in log


def test_an_app_made_before_its_database_answers_makes_the_tables_at_first_use(
    issued: Issued,
    tmp_path: Path,
    postgres: PostgresServer,  # noqa: F811
) -> None:
    database = postgres.new_database()
    postgres.stop()
    try:
        app = create_app(verifier_config(issued, tmp_path, database=database))
        live = LiveServer(app)
        status, body = post(live.url + "/api/v1/verify", issued.pdf("transcript"))
        assert (status, body["reasons"][0]["code"]) == (503, "status_unavailable")
        # A monitor reading the status is told the store is down, in the status's own shape.
        with pytest.raises(urllib.error.HTTPError) as down:
            urllib.request.urlopen(live.url + "/api/v1/status?lang=en", timeout=30)
        state = json.loads(down.value.read())
        assert down.value.code == 503 and state["ok"] is False and state["status_lists"] == []
        assert "database" in state["store_error"] and postgres.password not in json.dumps(state)
        schema = SPEC["paths"]["/api/v1/status"]["get"]["responses"]["503"]["content"]
        jsonschema.validate(state, schema["application/json"]["schema"])
    finally:
        postgres.start()
    try:
        status, body = post(live.url + "/api/v1/verify", issued.pdf("transcript"))
        assert (status, body["result"], body["verifications"]["used"]) == (200, "success", 1)
        with urllib.request.urlopen(live.url + "/api/v1/status", timeout=30) as r:
            assert json.loads(r.read())["ok"] is True
    finally:
        live.stop()
        app.extensions["certseal.verifier"].counter.close()
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT used FROM counts").fetchall() == [(1,)]
