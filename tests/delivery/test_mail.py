"""E-mail delivery against a real SMTP server (STARTTLS, AUTH, per-address answers): DKIM
checked with dkimpy against the test's key, attachments hashed against the issued files."""

from __future__ import annotations

import datetime as dt
import hashlib
from email import message_from_bytes, policy
from pathlib import Path

import dkim
import pytest

from authority.service import Authority
from delivery.errors import MailServerError
from delivery.message import attachments
from delivery.service import Delivery
from delivery.smtp import Answer
from tests.conftest import ACTOR, NOW, Issued
from tests.delivery.conftest import DKIM_DOMAIN, DKIM_SELECTOR, PASSWORD_ENV, write_config
from tests.delivery.servers import SMTP_PASSWORD, SmtpServer

T = NOW + dt.timedelta(hours=4)


def orders_csv(order_id: str, student_id: str, rows: list[tuple[str, str]], **extra: str) -> bytes:
    head = (
        "order_id,student_id,doc_type,language,ordered_on,note,wes_ref,asuid,"
        "recipient_kind,recipient_email,recipient_name\n"
    )
    body = "".join(
        f"{order_id},{student_id},transcript,{extra.get('language', 'zh-TW')},"
        f"{NOW.date().isoformat()},{extra.get('note', '')},{extra.get('wes_ref', '')},"
        f"{extra.get('asuid', '')},{kind},{email},{extra.get('name', '')}\n"
        for kind, email in rows
    )
    return (head + body).encode()


def _dns(txt: str):  # type: ignore[no-untyped-def]
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        wanted = f"{DKIM_SELECTOR}._domainkey.{DKIM_DOMAIN}.".encode()
        return txt.encode() if name == wanted else None

    return lookup


@pytest.fixture
def mail_home(
    dhome: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, issued: Issued
) -> tuple[Path, str, str]:
    """A home with delivery configured and one transcript order imported; returns the home,
    the DKIM TXT record, and the transcript's student."""
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    txt = write_config(dhome, smtp_server)
    with Authority(dhome) as auth, Delivery(auth) as d:
        student = auth.registry.document(issued.diploma["transcript"]).student_id
        rep = d.import_orders(
            orders_csv(
                "ORDER-1",
                student,
                [
                    ("original", "registrar.office@uni.example.org"),
                    ("copy", "defer.me@example.com"),
                    ("institution", "refuse.me@example.net"),
                ],
                note="WES Reference No. 6123456",
                asuid="A1234567",
            ),
            now=NOW,
            actor=ACTOR,
            source="orders.csv",
        )
        assert rep.rejected == () and rep.added == 1
    return dhome, txt, student


def test_accepted_deferred_and_bounced_each_recorded(
    mail_home: tuple[Path, str, str], smtp_server: SmtpServer, issued: Issued
) -> None:
    home, txt, _ = mail_home
    with Authority(home) as auth, Delivery(auth) as d:
        report = d.run(now=T, actor=ACTOR)
        views = {v.address: v for v in d.outbox.deliveries()}
        documents = {doc.doc_id: doc for doc in auth.registry.documents()}
    # Active diplomas go to the school and personal mailboxes; superseded and revoked ones
    # are not delivered at all.
    delivered_docs = {v.doc_id for v in views.values()}
    assert issued.diploma["superseded"] not in delivered_docs
    assert issued.diploma["revoked"] not in delivered_docs
    assert {issued.diploma["genuine"], issued.diploma["successor"]} <= delivered_docs
    assert views["defer.me@example.com"].state == "deferred"
    assert views["defer.me@example.com"].code == 451
    assert views["defer.me@example.com"].retry_at is not None
    bounced = views["refuse.me@example.net"]
    assert bounced.state == "bounced" and bounced.code == 550
    assert "no such mailbox" in (bounced.answer or "")
    sent = [v for v in views.values() if v.state == "sent"]
    assert report.count("sent") == len(sent) == len(smtp_server.received)
    assert report.count("bounced") == 1 and report.count("deferred") == 1
    # A 4xx or a 5xx is the message's answer, not a failed server: every e-mail was tried.
    assert report.mail_stopped is None and "queued" not in {v.state for v in views.values()}
    by_rcpt = {r.rcpt: r for r in smtp_server.received}
    assert set(by_rcpt) == {v.address for v in sent}
    for v in sent:
        data = by_rcpt[v.address].data
        # DKIM: verified by dkimpy with the test's public key, as a receiver would.
        assert dkim.verify(data, dnsfunc=_dns(txt)), v.address
        msg = message_from_bytes(data, policy=policy.default)
        assert msg["Message-ID"] == v.message_id
        files = attachments(data)
        assert len(files) == 1
        name, pdf = files[0]
        doc = documents[v.doc_id]
        assert name == f"{doc.doc_id}.pdf"
        # Byte for byte: the attachment's hash is the issued file's and the registry's.
        assert hashlib.sha256(pdf).hexdigest() == doc.sha256
        assert pdf == (home / doc.path).read_bytes()
        text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert "http://127.0.0.1:8080/" in text and "下載附件" in text
    order_mail = message_from_bytes(
        by_rcpt["registrar.office@uni.example.org"].data, policy=policy.default
    )
    text = order_mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "ORDER-1" in text and "WES Reference No. 6123456" in text and "A1234567" in text


def test_a_recipient_accepted_with_252_is_sent_its_message(
    dhome: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """252 ("cannot verify, will try") accepts the recipient: the message follows, and only
    the answer to the message itself makes a delivery sent (it was 'sent' with no DATA)."""
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    write_config(dhome, smtp_server)
    smtp_server.handler.unverified = True
    with Authority(dhome) as auth, Delivery(auth) as d:
        report = d.run(now=T, actor=ACTOR)
        views = d.outbox.deliveries()
    assert views and {(v.state, v.code) for v in views} == {("sent", 250)}
    assert report.count("sent") == len(views)
    assert sorted(r.rcpt for r in smtp_server.received) == sorted(v.address for v in views)


@pytest.mark.parametrize(("code", "outcome"), [(250, "sent"), (451, "deferred"),
                                               (554, "bounced"), (354, "deferred"),
                                               (-1, "deferred")])  # fmt: skip
def test_an_answer_no_server_should_give_is_tried_again_not_bounced(
    code: int, outcome: str
) -> None:
    assert Answer.of(code, b"x", "DATA").outcome == outcome


def test_a_second_run_sends_nobody_again_and_retries_after_the_backoff(
    mail_home: tuple[Path, str, str], smtp_server: SmtpServer
) -> None:
    home, _, _ = mail_home
    with Authority(home) as auth, Delivery(auth) as d:
        first = d.run(now=T, actor=ACTOR)
        count = len(smtp_server.received)
        again = d.run(now=T + dt.timedelta(minutes=1), actor=ACTOR)
        assert again.outcomes == () and again.planned == 0
        assert len(smtp_server.received) == count
        later = d.run(now=T + dt.timedelta(minutes=16), actor=ACTOR)
        assert [o.address for o in later.outcomes] == ["defer.me@example.com"]
        view = next(v for v in d.outbox.deliveries() if v.address == "defer.me@example.com")
        assert view.attempts == 2 and view.state == "deferred"
        # The second delay is twice the first (15, then 30 minutes).
        assert (
            view.retry_at is not None and view.retry_at > (T + dt.timedelta(minutes=45)).isoformat()
        )
    assert first.count("sent") == count


def test_too_many_4xx_answers_end_in_failed(
    mail_home: tuple[Path, str, str], smtp_server: SmtpServer
) -> None:
    home, _, _ = mail_home
    with (home / "delivery.toml").open("a") as f:
        f.write("\n[retry]\nfirst_delay_minutes = 1\nmax_attempts = 2\n")
    with Authority(home) as auth, Delivery(auth) as d:
        d.run(now=T, actor=ACTOR)
        d.run(now=T + dt.timedelta(hours=1), actor=ACTOR)
        view = next(v for v in d.outbox.deliveries() if v.address == "defer.me@example.com")
        problems = {v.address for v in d.outbox.deliveries(states=("bounced", "failed"))}
    assert view.state == "failed" and "gave up after 2 attempts" in (view.answer or "")
    assert problems == {"defer.me@example.com", "refuse.me@example.net"}


def test_an_untrusted_server_certificate_stops_before_anything_is_sent(
    dhome: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    write_config(dhome, smtp_server, ca=False)
    with Authority(dhome) as auth, Delivery(auth) as d:
        with pytest.raises(MailServerError, match="certificate is not trusted"):
            d.run(now=T, actor=ACTOR)
        states = {v.state for v in d.outbox.deliveries()}
    assert states == {"queued"} and smtp_server.received == []


def test_a_wrong_password_is_named_and_nothing_is_sent(
    dhome: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    write_config(dhome, smtp_server)
    with (
        Authority(dhome) as auth,
        Delivery(auth) as d,
        pytest.raises(MailServerError, match="login as 'certseal' refused"),
    ):
        d.run(now=T, actor=ACTOR)
    assert smtp_server.received == []


def test_a_password_file_in_the_home_works(dhome: Path, smtp_server: SmtpServer) -> None:
    write_config(dhome, smtp_server, password_file=True)
    with Authority(dhome) as auth, Delivery(auth) as d:
        report = d.run(now=T, actor=ACTOR)
    assert report.count("sent") == len(smtp_server.received) > 0


def test_a_file_changed_after_issuing_is_not_sent(
    dhome: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, issued: Issued
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    write_config(dhome, smtp_server)
    with Authority(dhome) as auth:
        path = dhome / auth.registry.document(issued.diploma["genuine"]).path
    path.write_bytes(path.read_bytes() + b"\n% changed\n")
    with Authority(dhome) as auth, Delivery(auth) as d:
        d.run(now=T, actor=ACTOR)
        failed = d.outbox.deliveries(states=("failed",))
    assert {v.doc_id for v in failed} == {issued.diploma["genuine"]}
    assert all("SHA-256 differs" in (v.answer or "") for v in failed)
    assert all(r.rcpt not in {v.address for v in failed} for r in smtp_server.received)


def test_a_resend_is_a_new_delivery_with_a_new_message_id(
    mail_home: tuple[Path, str, str], smtp_server: SmtpServer, issued: Issued
) -> None:
    home, _, _ = mail_home
    doc_id = issued.diploma["genuine"]
    with Authority(home) as auth, Delivery(auth) as d:
        d.run(now=T, actor=ACTOR)
        before = d.outbox.deliveries(doc_id=doc_id)
        new = d.resend(doc_id, now=T + dt.timedelta(days=3), actor=ACTOR)
        d.run(now=T + dt.timedelta(days=3), actor=ACTOR)
        after = d.outbox.deliveries(doc_id=doc_id)
    assert len(new) == len(before) and len(after) == 2 * len(before)
    assert {v.resend_of for v in after if v.delivery_id in new} == {v.delivery_id for v in before}
    ids = [r.data.split(b"Message-ID: ")[1].split(b"\r\n")[0] for r in smtp_server.received]
    assert len(ids) == len(set(ids))
