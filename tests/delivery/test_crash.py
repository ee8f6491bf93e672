"""A real ``certseal authority deliver`` process killed (SIGKILL) in the middle of a batch, then
run again: nobody is lost, and nobody gets the same delivery twice except at the one documented
edge (killed after the server accepted a message and before ``sent`` was committed), where the
repeat carries the same Message-ID."""

from __future__ import annotations

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from authority.service import Authority
from certseal.timeutil import format_time
from delivery.service import Delivery
from tests.conftest import ACTOR, NOW, Issued
from tests.delivery.conftest import PASSWORD_ENV, write_config
from tests.delivery.servers import SMTP_PASSWORD, SmtpServer
from tests.delivery.test_mail import orders_csv

REPO = Path(__file__).resolve().parents[2]
T = NOW + dt.timedelta(hours=4)


def _prepare(home: Path, server: SmtpServer, issued: Issued) -> int:
    """Configure delivery and an order with three recipients; returns how many deliveries."""
    write_config(home, server)
    with Authority(home) as auth, Delivery(auth) as d:
        student = auth.registry.document(issued.diploma["transcript"]).student_id
        rows = [("original", "a1@example.org"), ("copy", "a2@example.org")]
        rows.append(("institution", "a3@example.org"))
        csv = orders_csv("ORDER-1", student, rows)
        assert d.import_orders(csv, now=NOW, actor=ACTOR, source="o.csv").rejected == ()
        return len(d.plan(now=NOW, actor=ACTOR))


def _deliver_killed(home: Path, server: SmtpServer, *, at: str, n: int) -> int:
    """Run ``deliver`` in a child process and SIGKILL it at the n-th MAIL FROM (``at='mail'``)
    or once the server has stored the n-th message (``at='data'``); returns its exit code."""
    env = {**os.environ, PASSWORD_ENV: SMTP_PASSWORD, "CERTSEAL_HOME": str(home)}
    command = [sys.executable, "-m", "cli", "authority", "--now", format_time(T), "deliver"]
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def kill(count: int) -> None:
        if count == n:
            os.kill(proc.pid, signal.SIGKILL)

    if at == "mail":
        server.handler.on_mail = kill
    else:
        server.handler.on_data = kill
    code = proc.wait(timeout=120)
    server.handler.on_mail = server.handler.on_data = None
    return code


def _message_ids(server: SmtpServer) -> list[bytes]:
    return [r.data.split(b"\r\nMessage-ID: ", 1)[1].split(b"\r\n")[0] for r in server.received]


@pytest.mark.slow
def test_killed_between_messages_nobody_lost_nobody_twice(
    dhome: Path, smtp_server: SmtpServer, issued: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = _prepare(dhome, smtp_server, issued)
    assert total >= 5
    code = _deliver_killed(dhome, smtp_server, at="mail", n=3)
    assert code == -signal.SIGKILL
    assert len(smtp_server.received) == 2  # the third never reached DATA
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    with Authority(dhome) as auth, Delivery(auth) as d:
        interrupted = d.outbox.deliveries(states=("sending",))
        assert len(interrupted) == 1
        report = d.run(now=T + dt.timedelta(minutes=1), actor=ACTOR)
        views = d.outbox.deliveries()
    assert report.count("sent") == total - 2
    assert {v.state for v in views} == {"sent"}
    ids = _message_ids(smtp_server)
    assert len(ids) == total and len(set(ids)) == total  # everyone once
    assert sorted(i.decode() for i in ids) == sorted(v.message_id for v in views)


@pytest.mark.slow
def test_killed_after_the_server_accepted_resends_with_the_same_message_id(
    dhome: Path, smtp_server: SmtpServer, issued: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = _prepare(dhome, smtp_server, issued)
    assert _deliver_killed(dhome, smtp_server, at="data", n=2) == -signal.SIGKILL
    assert len(smtp_server.received) == 2
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    with Authority(dhome) as auth, Delivery(auth) as d:
        d.run(now=T + dt.timedelta(minutes=1), actor=ACTOR)
        views = {v.message_id: v for v in d.outbox.deliveries()}
    counts = collections.Counter(i.decode() for i in _message_ids(smtp_server))
    assert set(counts) == set(views) and len(counts) == total  # nobody lost
    repeated = [mid for mid, n in counts.items() if n > 1]
    # The one message in flight is sent again, under the same Message-ID, and its history
    # shows two attempts; nobody else is repeated.
    assert len(repeated) == 1 and counts[repeated[0]] == 2
    assert views[repeated[0]].attempts == 2 and views[repeated[0]].state == "sent"
    assert all(v.attempts == 1 for mid, v in views.items() if mid != repeated[0])
