"""A real PostgreSQL for the tests: Debian's server binaries, a fresh cluster in a temporary
folder, listening on a free port on 127.0.0.1 only, with a random password.

PostgreSQL refuses to run as root, so under root the cluster belongs to Debian's ``postgres``
user (created by the ``postgresql`` package). Import the ``postgres`` fixture into a test module.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest


def server_binaries() -> Path:
    """The newest ``/usr/lib/postgresql/<major>/bin``: where Debian puts initdb and pg_ctl (they
    are not on a fresh Debian's PATH)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        pytest.fail(
            "PostgreSQL's server is not installed: run scripts/setup.sh (package postgresql)"
        )
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throw-away cluster; ``url(db)`` connects to a database in it."""

    def __init__(self, *, max_connections: int | None = None) -> None:
        """``max_connections``: the server's limit (PostgreSQL's default, 100, if None)."""
        self.max_connections = max_connections
        self.bin = server_binaries()
        self.base = Path(tempfile.mkdtemp(prefix="certseal-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.user = "certseal"
        self.password = secrets.token_hex(16)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            self._as: dict[str, Any] = {
                "user": owner.pw_uid,
                "group": owner.pw_gid,
                "extra_groups": [],
            }
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        else:
            self._as = {}
        pwfile = self.base / "pw"
        pwfile.write_text(self.password)
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--pwfile",
            str(pwfile),
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin / tool), *args],
            cwd=self.base,
            capture_output=True,
            text=True,
            check=False,
            **self._as,
        )
        if done.returncode != 0:
            log = self.base / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stderr}{done.stdout}\n{tail}")

    def start(self) -> None:
        # Unix socket in our folder: Debian's /var/run/postgresql may not exist or be writable.
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base}"
        if self.max_connections is not None:
            options += f" -c max_connections={self.max_connections}"
        log = str(self.base / "log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database: each test starts from nothing."""
        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server
    finally:
        server.close()
