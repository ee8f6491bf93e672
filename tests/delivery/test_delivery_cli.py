"""The registrar's delivery commands end to end: import orders, hold and release, issue the
orders, deliver to the demo's local SMTP sink and SFTP folder, see the outbox and what is due."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from authority.service import Authority
from cli import main
from delivery.message import attachments
from tests.conftest import NOW, PASSPHRASE, Issued

HEAD = (
    "order_id,student_id,doc_type,language,ordered_on,note,wes_ref,asuid,"
    "recipient_kind,recipient_email,recipient_name\n"
)


@pytest.fixture
def runner(dhome: Path) -> CliRunner:
    return CliRunner(env={"CERTSEAL_HOME": str(dhome), "CERTSEAL_PASSPHRASE": PASSPHRASE})


def _run(runner: CliRunner, *args: str, code: int = 0) -> str:
    res = runner.invoke(main, ["authority", "--now", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), *args])
    assert res.exit_code == code, res.output
    return res.output


@pytest.mark.slow
def test_orders_to_mailboxes_and_wes(
    runner: CliRunner, dhome: Path, tmp_path: Path, issued: Issued
) -> None:
    with Authority(dhome) as auth:
        transcript = auth.registry.document(issued.diploma["transcript"])
        other = next(s for s in auth.registry.student_ids() if s != transcript.student_id)
    day = NOW.date().isoformat()
    rows = (
        f"ORDER-1,{transcript.student_id},transcript,en,{day},for WES,6123456,,"
        "original,me@example.com,Me\n"
        f"ORDER-2,{other},degree_certificate_en,zh-TW,{day},,,,original,uni@example.org,\n"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(HEAD + rows + f"ORDER-3,{other},transcript,,,,12,,original,x@y.org,\n")
    out = _run(runner, "--json", "import", "orders", str(bad), code=2)
    assert json.loads(out)["rejected"][0]["field"] == "wes_ref"
    assert json.loads(_run(runner, "--json", "orders")) == []  # nothing partial

    good = tmp_path / "orders.csv"
    good.write_text(HEAD + rows)
    assert json.loads(_run(runner, "--json", "import", "orders", str(good)))["imported"] == 2
    _run(runner, "hold", "ORDER-2", "--reason", "waiting for the ID copy")
    listed = {o["order_id"]: o for o in json.loads(_run(runner, "--json", "orders"))}
    assert listed["ORDER-2"]["held"] and listed["ORDER-1"]["doc_id"] == transcript.doc_id
    due = json.loads(_run(runner, "--json", "due"))
    assert {(d["kind"], d["ref"], d["state"]) for d in due} >= {("order", "ORDER-2", "held")}

    out = _run(runner, "--json", "issue-orders", "--workers", "1")
    assert json.loads(out)["issued"] == []  # ORDER-1 already issued, ORDER-2 held
    _run(runner, "release", "ORDER-2", "--reason", "ID copy received")
    issued_now = json.loads(_run(runner, "--json", "issue-orders", "--workers", "1"))["issued"]
    assert [i["order_id"] for i in issued_now] == ["ORDER-2"]

    mail, wes = tmp_path / "mail", tmp_path / "wes"
    out = _run(runner, "--json", "deliver", "--smtp-sink", str(mail), "--sftp-sink", str(wes))
    report = json.loads(out)
    assert report["bounced"] == report["failed"] == 0 and report["sent"] > 0
    emls = sorted(mail.glob("*.eml"))
    assert len(emls) == report["sent"] - 1  # one of the sent is the WES upload
    uploads = list(wes.iterdir())
    assert [p.name for p in uploads] == [f"6123456_{transcript.doc_id}.pdf"]
    assert hashlib.sha256(uploads[0].read_bytes()).hexdigest() == transcript.sha256
    hashes = {
        hashlib.sha256(pdf).hexdigest() for e in emls for _, pdf in attachments(e.read_bytes())
    }
    with Authority(dhome) as auth:
        registered = {d.sha256 for d in auth.registry.documents()}
    assert hashes <= registered and transcript.sha256 in hashes

    outbox = json.loads(_run(runner, "--json", "deliveries"))
    assert {d["state"] for d in outbox} == {"sent"}
    assert _run(runner, "deliveries", "--problems").strip() == "No deliveries."
    first = outbox[0]["delivery_id"]
    history = json.loads(_run(runner, "--json", "deliveries", "--history", first))
    assert [e["state"] for e in history["events"]] == ["queued", "sending", "sent"]

    queued = json.loads(_run(runner, "--json", "resend", transcript.doc_id, "--to", "new@x.org"))
    assert len(queued) == 1
    due = json.loads(_run(runner, "--json", "due"))
    assert [d["state"] for d in due if d["kind"] == "delivery"] == ["queued"]
    _run(runner, "resend", transcript.doc_id, "--to", "not an address", code=2)


def test_deliver_without_a_server_says_what_to_configure(runner: CliRunner) -> None:
    res = runner.invoke(main, ["authority", "deliver"])
    assert res.exit_code == 3
    assert "delivery.toml has no [smtp] server" in res.output
