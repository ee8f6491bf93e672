"""Reissue (補發) takes a reason, and the registrar chooses what becomes of the old version:
superseded (a warning, as dcert) or void (a failure, as NTNU: "once reissued the previous one is
invalid"). The verifier's answer follows, through the real published status list."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from authority.production import Producer
from authority.registry import Reissue
from authority.service import Authority, IssueRequest
from certseal.errors import InputError
from cli import main
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE
from verifier.counter import Counter
from verifier.engine import Limits, build_verifier
from verifier.status import IssuerTrust


def _issue_two(home: Path) -> tuple[str, str]:
    with Authority(home) as auth:
        students = auth.registry.student_ids()[:2]
        for sid in students:
            auth.record_collection(sid, COLLECTED, doc_type="diploma_zh", now=NOW, actor=ACTOR)
        report = auth.issue(
            [IssueRequest("diploma_zh", s) for s in students],
            now=NOW,
            actor=ACTOR,
            produce=Producer(auth.keys_dir, PASSPHRASE),
        )
        assert not report.failed, report.failed
        first, second = (d.doc_id for d in report.issued)
    return first, second


def test_superseded_warns_and_void_fails(home: Path, tmp_path: Path) -> None:
    kept, voided = _issue_two(home)
    later = NOW + dt.timedelta(hours=1)
    with Authority(home) as auth:
        produce = Producer(auth.keys_dir, PASSPHRASE)
        auth.reissue(kept, now=later, actor=ACTOR, produce=produce, why=Reissue("lost"))
        auth.reissue(
            voided,
            now=later,
            actor=ACTOR,
            produce=produce,
            why=Reissue("data_corrected", "birth date corrected", void=True),
        )
        kept_state, void_state = auth.registry.state(kept), auth.registry.state(voided)
        events = {e.doc_id: e for e in auth.registry.events() if e.kind == "superseded"}
        logged = [e for e in auth.registry.log_events() if e.kind == "superseded"]
        out = tmp_path / "site"
        auth.publish(out, PASSPHRASE, now=later + dt.timedelta(minutes=1), actor=ACTOR)
        files = {d: (home / auth.registry.document(d).path).read_bytes() for d in (kept, voided)}
    assert kept_state.state == "superseded"
    assert void_state.state == "revoked" and void_state.reason_code == "replaced"
    assert void_state.successor is not None  # the void version still names its successor
    # The registry keeps why; the public log never says it.
    assert (events[kept].reason_code, events[voided].reason) == ("lost", "birth date corrected")
    assert [e.reason_code for e in logged] == [None, None]

    trust = IssuerTrust.from_files(
        "demo", [home / "keys" / "root.pem"], [home / "keys" / "statuslist.pem"], str(out)
    )
    engine = build_verifier([trust], Counter(tmp_path / "counts.sqlite"), Limits())
    at = later + dt.timedelta(minutes=2)
    superseded = engine.verify(files[kept], at)
    void = engine.verify(files[voided], at)
    assert superseded.result == "warning"
    assert [r.code for r in superseded.reasons] == ["superseded"]
    assert void.result == "failure"
    assert [r.code for r in void.reasons] == ["revoked"]
    assert "no longer valid" in void.to_dict("en")["reasons"][0]["message"]


def test_a_reissue_reason_is_one_of_the_known_ones() -> None:
    with pytest.raises(InputError, match="unknown reissue reason 'misplaced'"):
        Reissue("misplaced")
    with pytest.raises(InputError, match="say why"):
        Reissue("other", "  ")


def test_cli_asks_for_the_reason_and_says_what_became_of_the_old_version(home: Path) -> None:
    kept, voided = _issue_two(home)
    runner = CliRunner(env={"CERTSEAL_HOME": str(home), "CERTSEAL_PASSPHRASE": PASSPHRASE})
    missing = runner.invoke(main, ["authority", "reissue", kept])
    assert missing.exit_code == 2 and "--reason" in missing.output
    res = runner.invoke(
        main, ["authority", "--json", "reissue", voided, "--reason", "damaged", "--void"]
    )
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert (body["replaces"], body["old_version"], body["reason"]) == (voided, "void", "damaged")
    res = runner.invoke(main, ["authority", "reissue", kept, "--reason", "name_changed"])
    assert res.exit_code == 0, res.output
    assert f"{kept} is now superseded" in res.output
