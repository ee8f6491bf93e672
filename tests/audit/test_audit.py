"""The auditor (auditor/ and ``certseal audit``): an honest history passes; each way of
rewriting it is detected and named.

The dishonest school holds its own key, so most forgeries here are validly signed: what gives
them away is the history, the auditor's memory, or the status list's disagreement with the log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_httpserver import HTTPServer

from auditor import VIOLATIONS, AuditorState, audit
from certseal import tlog
from certseal.eventlog import (
    LogEvent,
    LogRef,
    bundle_path,
    checkpoint_path,
    consistency_path,
    listing_bytes,
    tile_path,
)
from certseal.statuslist import Entry
from certseal.timeutil import format_time
from cli import main
from tests.audit.conftest import School, at, entries_from
from tests.verifier.test_status_source import StaticHost


def _codes(school: School, hours: float, *, remember: bool = True) -> set[str]:
    report = school.audit(at(hours), remember=remember)
    assert not report.ok and report.new_state is None
    status = {c.name: c.status for c in report.checks}
    for v in report.violations:
        assert v.code in VIOLATIONS and v.detail
        assert status[v.check] == "failed", (v, status)  # no check passes over a finding
    return set(report.codes)


# --- an honest history --------------------------------------------------------------------------


def test_honest_history_over_several_publishes_passes(history: School) -> None:
    report = history.audit(at(7))
    assert report.ok and bool(report)
    assert {c.name: c.status for c in report.checks} == {
        "status_list_key": "passed",
        "status_list": "passed",
        "checkpoints": "passed",
        "log_entries": "passed",
        "consistency": "passed",
        "tiles": "passed",
        "event_history": "passed",
        "status_vs_log": "passed",
        "remembered": "passed",
    }
    state = AuditorState.load(history.state_file)
    assert state is not None and len(state.revoked) == 2 and len(state.superseded) == 2
    assert [c.size for c in state.checkpoints] == sorted(c.size for c in state.checkpoints)
    assert "result: CLEAN" in report.to_text()
    assert report.to_dict()["ok"] is True


def test_a_first_audit_with_no_memory_also_passes(history: School) -> None:
    report = history.audit(at(7), remember=False)
    assert report.ok
    assert {c.name: c.status for c in report.checks}["remembered"] == "skipped"


def test_the_auditor_reads_a_site_over_http(history: School, httpserver: HTTPServer) -> None:
    host = StaticHost(httpserver)
    host.serve(history.site)
    report = audit(host.url, reference_time=at(7))
    assert report.ok, report.to_text()


def test_cli_prints_a_clean_report_and_remembers(history: School, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    runner = CliRunner()
    result = runner.invoke(main, ["audit", str(history.site), "--state", str(state)])
    assert result.exit_code == 0, result.output
    assert "result: CLEAN: no violation" in result.output
    assert "[passed] consistency" in result.output
    assert AuditorState.load(state) is not None
    as_json = runner.invoke(main, ["audit", str(history.site), "--state", str(state), "--json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["checks"][-1] == {
        "name": "remembered",
        "status": "passed",
        "detail": "revocations seen before: 2, supersessions: 2; all still in the log",
    }


def test_cli_names_the_violation_and_exits_non_zero(history: School, tmp_path: Path) -> None:
    history.revoke(history.add(1, at(7))[0], at(6))  # dated before the last publish
    history.publish(at(8))
    runner = CliRunner()
    result = runner.invoke(main, ["audit", str(history.site)])
    assert result.exit_code == 1
    assert "backdated_event" in result.output and "result: VIOLATIONS" in result.output
    as_json = json.loads(runner.invoke(main, ["audit", str(history.site), "--json"]).output)
    assert as_json["ok"] is False and "backdated_event" in as_json["violation_codes"]


def test_cli_key_option_pins_the_status_list_key(history: School, tmp_path: Path) -> None:
    pem = history.home / "keys" / "statuslist.pem"
    result = CliRunner().invoke(main, ["audit", str(history.site), "--key", str(pem)])
    assert result.exit_code == 0 and "given with --key" in result.output


# --- each tampering, detected and named ------------------------------------------------------


def test_a_leaf_removed_from_history_is_named(history: School) -> None:
    """The school drops one leaf, keeps the other leaves' numbers and signs the shorter log."""
    leaves = history.leaves()
    forged = leaves[:4] + leaves[5:]
    history.forge_log(forged, [len(forged)], at(7), wipe=False)
    codes = _codes(history, 8)
    assert {"missing_leaf", "inconsistent_history", "truncated_log"} <= codes


def test_a_leaf_removed_and_history_renumbered_is_named(history: School) -> None:
    """Renumbered, grown by new events and re-signed: the new checkpoint is validly signed,
    but the old checkpoints still published are not prefixes of it. No memory needed."""
    leaves = history.leaves()
    kept = leaves[:4] + leaves[5:]
    forged = [replace(LogEvent.from_bytes(leaf), index=i).to_bytes() for i, leaf in enumerate(kept)]
    newcomer = replace(LogEvent.from_bytes(forged[-1]), sha256="e" * 64, at=format_time(at(6.9)))
    for _ in range(2):
        forged.append(replace(newcomer, index=len(forged), sha256=f"{len(forged):064x}").to_bytes())
    old_sizes = history.log.sizes()
    history.forge_log(forged, [len(forged)], at(7), wipe=False)
    listing = history.site / "log" / "checkpoints.json"
    listing.write_bytes(listing_bytes(history.latest().origin, [*old_sizes, len(forged)]))
    codes = _codes(history, 8, remember=False)
    assert "inconsistent_history" in codes


def test_a_revocation_rewritten_as_active_is_named(history: School) -> None:
    """History rewritten from scratch without the revocation, every checkpoint re-signed, and
    a status list showing the document active again: the auditor remembers."""
    state = AuditorState.load(history.state_file)
    assert state is not None
    index = next(iter(state.revoked.values()))
    leaves = history.leaves()
    kept = leaves[:index] + leaves[index + 1 :]
    forged = [replace(LogEvent.from_bytes(leaf), index=i).to_bytes() for i, leaf in enumerate(kept)]
    sizes = sorted({min(c.size, len(forged)) for c in state.checkpoints} | {len(forged)})
    ref = history.forge_log(forged, sizes, at(7), wipe=True)
    entries = entries_from(forged)
    history.forge_status(entries, ref, at(7))
    codes = _codes(history, 8)
    assert "revocation_undone" in codes
    assert "fork" in codes or "inconsistent_history" in codes


def test_a_revoked_document_issued_again_is_named(history: School) -> None:
    """An append-only log, but a revoked document comes back as issued."""
    state = AuditorState.load(history.state_file)
    assert state is not None
    revoked_sha = next(iter(state.revoked))
    leaves = history.leaves()
    original = next(
        LogEvent.from_bytes(leaf)
        for leaf in leaves
        if LogEvent.from_bytes(leaf).sha256 == revoked_sha
    )
    again = replace(original, index=len(leaves), at="2099-01-01T00:00:00Z")
    history.forge_log([*leaves, again.to_bytes()], [len(leaves) + 1], at(7), wipe=False)
    codes = _codes(history, 8)
    assert "revocation_undone" in codes


def test_an_event_back_dated_is_named(history: School) -> None:
    """A revocation recorded now but dated before the last publication."""
    doc = history.add(1, at(6.5))[0]
    history.publish(at(7))
    history.revoke(doc, at(5))
    history.publish(at(8))
    report = history.audit(at(9))
    assert report.codes == ("backdated_event",)
    assert all(doc.sha256 in v.detail for v in report.violations)
    assert "before checkpoint" in report.violations[0].detail


def test_a_checkpoint_signed_by_a_wrong_key_is_named(history: School) -> None:
    latest = history.latest()
    impostor = ec.generate_private_key(ec.SECP256R1())
    note = tlog.sign_checkpoint(latest, latest.origin, impostor).encode()
    (history.site / "log" / "checkpoint").write_bytes(note)
    (history.site / "log" / checkpoint_path(latest.size)).write_bytes(note)
    report = history.audit(at(7))
    assert "checkpoint_signature" in report.codes
    assert any("is not signed by" in v.detail for v in report.violations)


def test_a_fork_is_named(history: School) -> None:
    """Another checkpoint of the same size, validly signed, with another root: what one
    visitor was shown is not what the auditor sees."""
    latest = history.latest()
    other = tlog.Checkpoint(latest.origin, latest.size, b"\x07" * 32, latest.extensions)
    (history.site / "log" / "checkpoint").write_bytes(
        tlog.sign_checkpoint(other, other.origin, history.key).encode()
    )
    codes = _codes(history, 7)
    assert "fork" in codes


def test_a_fork_against_what_was_seen_before_is_named(history: School) -> None:
    """The whole log replaced by another of the same size, every file consistent, re-signed."""
    leaves = history.leaves()
    twin = [
        replace(ev, at="2099-01-01T00:00:00Z").to_bytes()
        if (ev := LogEvent.from_bytes(leaf)).index == len(leaves) - 1
        else leaf
        for leaf in leaves
    ]
    history.forge_log(twin, [len(twin)], at(7), wipe=True)
    codes = _codes(history, 8)
    assert "fork" in codes


def test_a_status_list_that_disagrees_with_the_log_is_named(history: School) -> None:
    """Validly signed, bound to the true checkpoint, but one revoked document shown active."""
    entries = history.entries()
    victim = next(e for e in entries if e.state == "revoked" and e.successor is None)
    shown = Entry(
        victim.sha256,
        victim.doc_type,
        victim.issued_at,
        victim.limit,
        "active",
        log_indexes=victim.log_indexes[:1] if victim.log_indexes else None,
    )
    latest = history.latest()
    history.forge_status(
        [shown if e is victim else e for e in entries], LogRef.for_checkpoint(latest), at(7)
    )
    report = history.audit(at(8))
    assert report.codes == ("status_mismatch",)
    assert victim.sha256 in report.violations[0].detail
    assert "says active, the log says revoked" in report.violations[0].detail


def test_a_truncated_log_is_named(history: School) -> None:
    size = history.latest().size
    last = bundle_path(size // 256, size % 256)
    (history.site / "log" / last).unlink()
    report = history.audit(at(7))
    assert "truncated_log" in report.codes
    assert any("is missing" in v.detail for v in report.violations)


def test_a_log_rolled_back_to_an_older_checkpoint_is_named(history: School) -> None:
    state = AuditorState.load(history.state_file)
    assert state is not None
    older = min(c.size for c in state.checkpoints)
    log = history.site / "log"
    (log / "checkpoint").write_bytes((log / checkpoint_path(older)).read_bytes())
    assert "truncated_log" in _codes(history, 7)


# --- more findings, each named ---------------------------------------------------------------


def test_rewritten_entries_without_a_new_signature(history: School) -> None:
    """The host changes a revocation's reason in the entry bundle and recomputes the tiles; it
    cannot sign, so the honest checkpoint stays."""
    leaves = history.leaves()
    log = history.site / "log"
    honest = {p: (log / p).read_bytes() for p in ("checkpoint", checkpoint_path(len(leaves)))}
    victim = next(i for i, leaf in enumerate(leaves) if b'"revoked"' in leaf)
    leaves[victim] = replace(LogEvent.from_bytes(leaves[victim]), reason="other").to_bytes()
    history.forge_log(leaves, [len(leaves)], at(7), wipe=False)
    for path, note in honest.items():
        (log / path).write_bytes(note)
    codes = _codes(history, 8)
    assert {"entries_mismatch", "status_mismatch"} <= codes


def test_a_superseded_document_without_successor_and_a_postdated_event(history: School) -> None:
    leaves = history.leaves()
    first = LogEvent.from_bytes(leaves[0])
    ghost = LogEvent(
        len(leaves), "superseded", first.sha256, first.doc_type, "2099-01-01T00:00:00Z",
        successor="f" * 64,
    )  # fmt: skip
    history.forge_log([*leaves, ghost.to_bytes()], [len(leaves) + 1], at(7), wipe=False)
    assert {"missing_successor", "postdated_event"} <= _codes(history, 8)


def test_a_tampered_tile_and_consistency_proof(history: School) -> None:
    log = history.site / "log"
    (log / tile_path(0, 0)).write_bytes(b"\x00" * 8192)
    proof = next((log / "consistency").iterdir())
    proof.write_text(proof.read_text().replace('"hashes":["', '"hashes":["AAAA'))
    codes = _codes(history, 7)
    assert {"tile_mismatch", "bad_proof"} <= codes


def test_a_status_list_rolled_back_or_signed_by_another_key(history: School) -> None:
    state = AuditorState.load(history.state_file)
    assert state is not None
    state = replace(state, status_version=state.status_version + 5, key_id="0" * 64)
    state.save(history.state_file)
    assert {"rollback", "key_changed"} <= _codes(history, 7)


def test_a_status_list_without_a_log_or_without_leaf_indexes(history: School) -> None:
    entries = history.entries()
    bare = [replace(e, log_indexes=None) for e in entries]
    history.forge_status(bare, LogRef.for_checkpoint(history.latest()), at(7))
    assert "status_mismatch" in _codes(history, 8)
    history.forge_status(bare, None, at(9))
    assert "log_missing" in _codes(history, 10)


def test_a_missing_site_is_reported_not_crashed(tmp_path: Path) -> None:
    report = audit(str(tmp_path), reference_time=at(0))
    assert report.codes == ("unavailable",)
    assert "result: VIOLATIONS: unavailable" in report.to_text()


def test_violation_codes_have_titles() -> None:
    for code, (en, zh) in VIOLATIONS.items():
        assert en and zh and code == code.lower()
    assert consistency_path(3, 9) == "consistency/3-9.json"


def test_the_standalone_program_in_the_docs_checks_the_log(history: School) -> None:
    """docs/transparency.md's program, run as an outsider would, on an honest and a bad log."""
    doc = (Path(__file__).parents[2] / "docs" / "transparency.md").read_text("utf-8")
    program = doc.split("```python\n", 1)[1].split("```", 1)[0]
    script = history.site.parent / "check_log.py"
    script.write_text(program, "utf-8")
    run = subprocess.run(
        [sys.executable, str(script), str(history.site)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert f"checkpoint {history.latest().size} of" in run.stdout
    leaves = history.leaves()
    leaves[3] = replace(LogEvent.from_bytes(leaves[3]), doc_type="diploma_en").to_bytes()
    note = (history.site / "log" / "checkpoint").read_bytes()
    history.forge_log(leaves, [len(leaves)], at(7), wipe=False)
    (history.site / "log" / "checkpoint").write_bytes(note)
    run = subprocess.run(
        [sys.executable, str(script), str(history.site)], capture_output=True, text=True
    )
    assert run.returncode == 1 and "do not hash to the signed root" in run.stderr


def test_cli_reports_an_unusable_state_file(history: School, tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text('{"_type": "something else"}')
    result = CliRunner().invoke(main, ["audit", str(history.site), "--state", str(bad)])
    assert result.exit_code == 2 and "not one this program wrote" in result.output
    unwritable = tmp_path / "no-such-folder" / "state.json"
    result = CliRunner().invoke(main, ["audit", str(history.site), "--state", str(unwritable)])
    assert result.exit_code == 2 and "cannot save the auditor state" in result.output
