"""Delivery's fixtures: a copy of the session's authority (real signed PDFs), a real SMTP
server, and a ``delivery.toml`` that points at it; a stalling SMTP server too."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from authority.service import Authority
from delivery.outbox import DeliveryView
from delivery.service import Delivery, RunReport
from tests.conftest import ACTOR, Issued
from tests.delivery.servers import (
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    StallingSmtpServer,
    finish_within,
    write_dkim_key,
)

PASSWORD_ENV = "CERTSEAL_TEST_SMTP_PASSWORD"
DKIM_DOMAIN = "demo.example.edu.tw"
DKIM_SELECTOR = "certseal2026"
DEADLINE = 2  # seconds, for a whole message with the stalling server, which stalls far longer
WAIT = 1  # seconds, for each wait for the stalling server (it trickles every 0.2 s)


@pytest.fixture
def dhome(issued: Issued, tmp_path: Path) -> Path:
    """A private copy of the session's authority home: deliveries never touch the shared one."""
    home = tmp_path / "home"
    shutil.copytree(issued.home, home, ignore=shutil.ignore_patterns("lock"))
    return home


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    folder = tmp_path / "smtp"
    folder.mkdir()
    server = SmtpServer(folder).start()
    yield server
    server.stop()


@pytest.fixture
def stalling_smtp(request: pytest.FixtureRequest, dhome: Path) -> Iterator[StallingSmtpServer]:
    """A plain SMTP server stalling where the test's parameter says, and delivery.toml for it."""
    server = StallingSmtpServer(request.param).start()
    (dhome / "delivery.toml").write_text(
        f'[mail]\nfrom = "registrar@{DKIM_DOMAIN}"\n\n[smtp]\nhost = "127.0.0.1"\n'
        f'port = {server.port}\nsecurity = "none"\ntimeout = {WAIT}\n'
        f"message_timeout = {DEADLINE}\n"
    )
    yield server
    server.stop()


def write_config(
    home: Path,
    server: SmtpServer,
    *,
    extra: str = "",
    ca: bool = True,
    password_file: bool = False,
) -> str:
    """``delivery.toml`` for the test server; returns the DKIM TXT record to verify with."""
    txt = write_dkim_key(home / "dkim.key")
    if ca:
        shutil.copy(server.cert, home / "smtp-ca.pem")
    if password_file:
        (home / "smtp-password").write_text(SMTP_PASSWORD + "\n")
    secret = (
        'password_file = "smtp-password"' if password_file else f'password_env = "{PASSWORD_ENV}"'
    )
    (home / "delivery.toml").write_text(
        f"""
[mail]
from = "registrar@{DKIM_DOMAIN}"

[smtp]
host = "127.0.0.1"
port = {server.port}
security = "starttls"
username = "{SMTP_USER}"
{secret}
{'ca_file = "smtp-ca.pem"' if ca else ""}
timeout = 10

[dkim]
domain = "{DKIM_DOMAIN}"
selector = "{DKIM_SELECTOR}"
key_file = "dkim.key"
{extra}
""",
        "utf-8",
    )
    return txt


def run_within(
    seconds: float, home: Path, now: dt.datetime
) -> tuple[RunReport, dict[str, DeliveryView], float]:
    """One ``deliver`` run in a thread, failed if not done within ``seconds`` (a server that
    holds it fails the test, not the suite); its report, the outbox by id, and how long."""

    def work() -> tuple[RunReport, dict[str, DeliveryView]]:
        with Authority(home) as auth, Delivery(auth) as d:
            report = d.run(now=now, actor=ACTOR)
            return report, {v.delivery_id: v for v in d.outbox.deliveries()}

    started = time.monotonic()
    report, views = finish_within(seconds, work)
    return report, views, time.monotonic() - started
