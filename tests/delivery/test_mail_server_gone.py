"""An SMTP server that goes away or stalls in the middle of a run: the message in hand is
deferred with the server's explanation, no more e-mail is tried in that run (the rest stay
queued, untouched, for the next run), WES uploads still go ahead, and the run returns its
report. A single dropped connection, a 4xx or a 5xx stops nothing. Real servers on 127.0.0.1
(aiosmtpd, the stalling server of ``servers.py``, asyncssh); every run is bounded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from authority.service import Authority
from cli import main
from delivery.outbox import DeliveryView
from delivery.service import Delivery, RunReport
from delivery.sink import host_key_line
from tests.conftest import ACTOR, NOW, PASSPHRASE, Issued
from tests.delivery.conftest import DEADLINE, PASSWORD_ENV, WAIT, run_within, write_config
from tests.delivery.servers import SMTP_PASSWORD, SmtpServer, StallingSmtpServer
from tests.delivery.test_mail import orders_csv
from tests.delivery.test_sftp import _start

T = NOW + dt.timedelta(hours=4)
LATER = T + dt.timedelta(minutes=16)  # after the first backoff (15 minutes)
WES_REF = "PTTC2001009"


@pytest.fixture
def wes(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running SFTP server: its ``[sftp]`` section for delivery.toml, and its root."""
    server, root, key_file, host = _start(tmp_path)
    yield (
        (
            f'[sftp]\nhost = "127.0.0.1"\nport = {server.port}\nusername = "wes"\n'
            f'key_file = "{key_file}"\nhost_key = "{host_key_line(host)}"\nremote_dir = "/"\n'
        ),
        root,
    )
    server.stop()


def _order(home: Path, issued: Issued) -> str:
    """An order with three recipients and a WES upload (after its e-mails); returns the
    transcript's document number."""
    with Authority(home) as auth, Delivery(auth) as d:
        doc = auth.registry.document(issued.diploma["transcript"])
        rows = [("original", "a1@example.org"), ("copy", "a2@example.org")]
        rows.append(("institution", "a3@example.org"))
        csv = orders_csv("ORDER-1", doc.student_id, rows, wes_ref=WES_REF)
        assert d.import_orders(csv, now=NOW, actor=ACTOR, source="o.csv").rejected == ()
        return doc.doc_id


def _left_untouched(report: RunReport, views: dict[str, DeliveryView]) -> list[DeliveryView]:
    """The e-mails the run did not try: each still queued, with no attempt recorded."""
    tried = {o.delivery_id for o in report.outcomes}
    left = [v for v in views.values() if v.channel == "email" and v.delivery_id not in tried]
    assert left and {(v.state, v.attempts) for v in left} == {("queued", 0)}
    assert report.mail_stopped is not None and report.mail_stopped.left == len(left)
    assert "sending" not in {v.state for v in views.values()}
    return left


def test_a_server_that_goes_away_mid_run_defers_the_message_in_hand_and_leaves_the_rest(
    dhome: Path,
    smtp_server: SmtpServer,
    wes: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    issued: Issued,
) -> None:
    """At the second message the real server hangs up and stops listening: that message is
    deferred as a lost connection (which alone stops nothing), the next one cannot open a new
    session and is deferred with the server's explanation, and no more e-mail is tried. Before,
    the run stopped with MailServerError, that delivery left 'sending' and WES not tried."""
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    section, root = wes
    write_config(dhome, smtp_server, extra=section)
    doc_id = _order(dhome, issued)
    handler = smtp_server.handler
    accept = handler.handle_MAIL

    async def go_away(server: Any, session: Any, envelope: Any, address: str, opts: Any) -> str:
        if handler.mails == 1:  # the second message: hang up, and refuse new connections
            smtp_server.controller.server.close()
            server.transport.close()
        return await accept(server, session, envelope, address, opts)

    monkeypatch.setattr(handler, "handle_MAIL", go_away)
    report, views, _ = run_within(60, dhome, T)

    mails = [o for o in report.outcomes if views[o.delivery_id].channel == "email"]
    assert [o.state for o in mails] == ["sent", "deferred", "deferred"]
    assert mails[1].answer.startswith("connection lost")
    refused = f"SMTP server 127.0.0.1:{smtp_server.port}: cannot connect"
    assert mails[2].answer.startswith(refused)
    in_hand = views[mails[2].delivery_id]
    assert (in_hand.state, in_hand.answer, in_hand.attempts) == ("deferred", mails[2].answer, 1)
    assert in_hand.retry_at is not None
    assert [r.rcpt for r in smtp_server.received] == [views[mails[0].delivery_id].address]
    # The WES upload, after the server went away, still went ahead.
    upload = next(o for o in report.outcomes if views[o.delivery_id].channel == "sftp")
    assert report.outcomes.index(upload) > report.outcomes.index(mails[2])
    assert upload.state == "sent"
    assert (root / f"{WES_REF}_{doc_id}.pdf").exists()
    left = _left_untouched(report, views)
    assert report.mail_stopped is not None and refused in report.mail_stopped.en
    assert f"SMTP 伺服器 127.0.0.1:{smtp_server.port}：無法連線" in report.mail_stopped.zh

    # The server is back (restarted: a new port and certificate): the next run sends the rest,
    # the deferred ones once their backoff is over; nobody gets a message twice.
    back = SmtpServer(tmp_path / "smtp").start()
    try:
        write_config(dhome, back, extra=section)
        now, _, _ = run_within(60, dhome, T)
        assert {o.delivery_id for o in now.outcomes} == {v.delivery_id for v in left}
        after, views, _ = run_within(60, dhome, LATER)
    finally:
        back.stop()
    assert {o.delivery_id for o in after.outcomes} == {o.delivery_id for o in mails[1:]}
    assert now.mail_stopped is None and after.mail_stopped is None
    assert {v.state for v in views.values()} == {"sent"}
    rcpts = [r.rcpt for r in smtp_server.received + back.received]
    assert sorted(rcpts) == sorted(v.address for v in views.values() if v.channel == "email")


@pytest.mark.parametrize("stalling_smtp", [{1: "data"}, {1: "silent"}], indirect=True)
def test_a_stalled_server_holds_one_message_not_every_one(
    dhome: Path, stalling_smtp: StallingSmtpServer, wes: tuple[str, Path], issued: Issued
) -> None:
    """A reply trickled for ever is cut at message_timeout, silence at the end of one wait
    (timeout). Before, each of the run's e-mails waited that long behind a stalled server
    (100 e-mails, 600 s each: 17 hours)."""
    section, root = wes
    with (dhome / "delivery.toml").open("a") as f:
        f.write("\n" + section)
    doc_id = _order(dhome, issued)
    report, views, took = run_within(60, dhome, T)
    mails = [o for o in report.outcomes if views[o.delivery_id].channel == "email"]
    late = {
        "data": f"DATA: no complete answer within {DEADLINE} s",
        "silent": f"DATA: no answer within {WAIT} s",
    }[stalling_smtp.stalls[1]]
    assert [(o.state, o.answer) for o in mails] == [("deferred", late)]
    assert took < DEADLINE + 5
    assert stalling_smtp.connections == 1
    left = _left_untouched(report, views)
    assert len(left) >= 3
    assert report.mail_stopped is not None
    assert report.mail_stopped.en == f"SMTP server 127.0.0.1:{stalling_smtp.port}: {late}"
    assert "秒內未收到" in report.mail_stopped.zh
    assert (root / f"{WES_REF}_{doc_id}.pdf").exists()


@pytest.mark.parametrize("stalling_smtp", [{1: "hangup"}], indirect=True)
def test_a_dropped_connection_that_reopens_stops_nothing(
    dhome: Path, stalling_smtp: StallingSmtpServer
) -> None:
    report, views, _ = run_within(60, dhome, T)
    assert [o.state for o in report.outcomes[:2]] == ["sent", "deferred"]
    assert report.outcomes[1].answer.startswith("connection lost")
    assert len(report.outcomes) == len(views) > 2
    assert {o.state for o in report.outcomes[2:]} == {"sent"}
    assert report.mail_stopped is None and stalling_smtp.connections == 2


@pytest.mark.parametrize("stalling_smtp", [{1: "hangup", 2: "greeting"}], indirect=True)
def test_deliver_says_in_both_languages_what_waits_for_the_next_run_and_exits_5(
    dhome: Path, stalling_smtp: StallingSmtpServer
) -> None:
    """A new session whose greeting never ends, after a dropped one: that message is deferred
    at its deadline and the rest wait. 5 is the exit of a run that did part of its work."""
    runner = CliRunner(env={"CERTSEAL_HOME": str(dhome), "CERTSEAL_PASSPHRASE": PASSPHRASE})
    res = runner.invoke(main, ["authority", "--now", T.strftime("%Y-%m-%dT%H:%M:%SZ"), "deliver"])
    assert res.exit_code == 5, res.output
    with Authority(dhome) as auth, Delivery(auth) as d:
        views = d.outbox.deliveries()
    left = sum(v.state == "queued" for v in views)
    assert [v.state for v in views[:3]] == ["sent", "deferred", "deferred"] and left > 0
    late = f"connect: no complete answer within {DEADLINE} s"
    assert views[2].answer == late
    assert f"{left} e-mails were not tried and wait for the next run" in res.output
    assert f"SMTP server 127.0.0.1:{stalling_smtp.port}: {late}" in res.output
    assert f"{left} 封郵件本次未寄出，留待下次執行" in res.output
    assert stalling_smtp.connections == 2


@pytest.mark.parametrize("stalling_smtp", [{1: "longline"}], indirect=True)
def test_an_answer_too_long_to_read_defers_that_message_and_the_run_goes_on(
    dhome: Path, stalling_smtp: StallingSmtpServer
) -> None:
    """A reply line longer than smtplib reads: its own 'SMTPResponseException(500)', never the
    server's 5xx, so nothing bounces. The session is out of step with the server: dropped, and
    the next message opens another. Before, the exception stopped the run with a traceback and
    left that delivery 'sending'."""
    report, views, _ = run_within(60, dhome, T)
    first = report.outcomes[0]
    assert (first.state, views[first.delivery_id].code) == ("deferred", 0)
    assert first.answer == (
        "DATA: an answer the server should not give (a line longer than any reply)"
    )
    assert len(report.outcomes) == len(views) > 2
    assert {o.state for o in report.outcomes[1:]} == {"sent"}
    assert report.mail_stopped is None and stalling_smtp.connections == 2
    assert "sending" not in {v.state for v in views.values()}
