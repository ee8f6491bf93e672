"""SMTP servers that accept a session and then never finish answering (a continuation line
every 0.2 s: each wait for data is short, the reply never ends). Each message is bounded as a
whole by ``message_timeout``: at that deadline the connection is dropped, the message deferred
with a plain answer and retried later, and the run tries no more e-mail (the rest wait for the
next run: test_mail_server_gone.py). Real servers on 127.0.0.1; every run is itself bounded, so
a hang fails the test."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from authority.service import Authority
from delivery.config import DeliveryConfig
from delivery.errors import DeliveryConfigError, MailServerError
from delivery.service import Delivery
from tests.conftest import NOW
from tests.delivery.conftest import DEADLINE, PASSWORD_ENV, run_within, write_config
from tests.delivery.servers import SMTP_PASSWORD, SmtpServer, StallingSmtpServer

T = NOW + dt.timedelta(hours=4)


def test_message_timeout_defaults_to_ten_minutes_and_is_never_shorter_than_one_wait() -> None:
    config = DeliveryConfig.from_dict({"smtp": {"host": "smtp.example"}})
    assert config.smtp is not None
    assert (config.smtp.timeout, config.smtp.message_timeout) == (30, 600)
    with pytest.raises(
        DeliveryConfigError, match=r"\[smtp\] timeout .* message_timeout \(20 s\)"
    ) as e:
        DeliveryConfig.from_dict({"smtp": {"host": "h", "message_timeout": 20}})
    assert "單次等待不能比整體還長" in e.value.message("zh-TW")
    with pytest.raises(DeliveryConfigError, match=r"\[smtp\] message_timeout must be a int"):
        DeliveryConfig.from_dict({"smtp": {"host": "h", "message_timeout": "10 min"}})


@pytest.mark.parametrize("stalling_smtp", [{1: "data"}], indirect=True)
def test_a_reply_trickled_after_data_defers_that_message_and_the_rest_wait(
    dhome: Path, stalling_smtp: StallingSmtpServer
) -> None:
    """A ``250-`` line every 0.2 s after the data: each wait is short, the reply never ends.
    Before, it held the run for as long as the server went on."""
    report, views, took = run_within(30, dhome, T)
    (first,) = report.outcomes
    assert first.state == "deferred"
    assert first.answer == f"DATA: no complete answer within {DEADLINE} s"
    assert stalling_smtp.connections == 1 and stalling_smtp.accepted == []
    assert took < DEADLINE + 8
    deferred = views[first.delivery_id]
    assert deferred.state == "deferred" and deferred.retry_at is not None
    assert deferred.answer == first.answer
    # Retried after the usual backoff, on a server that now answers: sent, with the rest.
    later, views, _ = run_within(30, dhome, T + dt.timedelta(minutes=16))
    assert first.delivery_id in {o.delivery_id for o in later.outcomes}
    assert {v.state for v in views.values()} == {"sent"}


def test_a_reply_trickled_over_starttls_is_cut_too(
    dhome: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real server (STARTTLS, AUTH, DKIM-signed messages): the deadline shuts the TLS
    session's socket as well."""
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    write_config(dhome, smtp_server)
    toml = dhome / "delivery.toml"
    toml.write_text(
        toml.read_text().replace(
            "timeout = 10", f"timeout = {DEADLINE}\nmessage_timeout = {DEADLINE}"
        )
    )
    accept = smtp_server.handler.handle_DATA
    trickled: list[bool] = []

    async def trickle_first(server: Any, session: Any, envelope: Any) -> str:
        if not trickled:
            trickled.append(True)
            while not server.transport.is_closing():
                await server.push("250-still working")
                await asyncio.sleep(0.2)
        return await accept(server, session, envelope)

    monkeypatch.setattr(smtp_server.handler, "handle_DATA", trickle_first)
    report, _, took = run_within(30, dhome, T)
    (first,) = report.outcomes
    assert (first.state, first.answer) == (
        "deferred",
        f"DATA: no complete answer within {DEADLINE} s",
    )
    assert report.mail_stopped is not None and report.mail_stopped.left > 0
    assert smtp_server.received == []
    assert took < DEADLINE + 8


@pytest.mark.parametrize(
    "stalling_smtp", [{1: "hangup", 2: "greeting"}, {1: "hangup", 2: "ehlo"}], indirect=True
)
def test_a_greeting_or_ehlo_trickled_when_a_session_reopens_defers_that_message(
    dhome: Path, stalling_smtp: StallingSmtpServer
) -> None:
    """After a dropped session, the next message opens another: its greeting and its EHLO
    reply are within that message's deadline."""
    report, _, took = run_within(30, dhome, T)
    states = [(o.state, o.answer) for o in report.outcomes]
    assert states[0] == ("sent", "DATA: 250 queued")
    assert states[1][0] == "deferred" and states[1][1].startswith("connection lost")
    assert states[2:] == [("deferred", f"connect: no complete answer within {DEADLINE} s")]
    assert stalling_smtp.connections == 2
    assert took < DEADLINE + 8


@pytest.mark.parametrize("stalling_smtp", [{1: "greeting"}, {1: "ehlo"}], indirect=True)
def test_a_server_that_never_finishes_its_greeting_stops_the_run_before_anything_is_recorded(
    dhome: Path, stalling_smtp: StallingSmtpServer
) -> None:
    """The run's first session is opened before anything is recorded: a server that never
    completes it cannot be used at all, like one that is unreachable."""
    started = time.monotonic()
    with pytest.raises(MailServerError, match=f"no complete answer within {DEADLINE} s") as e:
        run_within(30, dhome, T)
    assert time.monotonic() - started < DEADLINE + 8
    assert f"{DEADLINE} 秒內" in e.value.message("zh-TW")
    with Authority(dhome) as auth, Delivery(auth) as d:
        assert {v.state for v in d.outbox.deliveries()} == {"queued"}
    assert stalling_smtp.accepted == []


@pytest.mark.parametrize("stalling_smtp", [{1: "quit"}], indirect=True)
def test_a_quit_never_answered_does_not_hold_the_end_of_the_run(
    dhome: Path, stalling_smtp: StallingSmtpServer
) -> None:
    report, _, took = run_within(30, dhome, T)
    assert report.outcomes and {o.state for o in report.outcomes} == {"sent"}
    assert took < DEADLINE + 8
