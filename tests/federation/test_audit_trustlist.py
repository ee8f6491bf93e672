"""The trust-list auditor (auditor/trustlist.py) on a real federation's published folder: clean
when nothing was touched; then each attack names itself: a list signed by fewer keys than the
threshold, a removed school, a silently replaced school key, a rolled-back list, a rewritten
historical version, a rewritten log. Also ``certseal audit --trust-list`` end to end."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec
from tuf.api.metadata import Metadata

from auditor.trustlist import TrustAuditState, audit_trust_list
from certseal import pki, trustlist
from certseal.trustlist import KeyRecord, metadata_path
from cli import main
from tests.conftest import NOW
from tests.federation.conftest import T0, Federation
from tests.federation.test_federation_operator import rotate
from tests.federation.test_federation_reader import (
    current_role,
    current_targets,
    forge,
    publish,
    without_school,
)

LATER = T0 + dt.timedelta(days=1)


def root_of(fed: Federation) -> bytes:
    return (fed.home / "repo" / metadata_path("root", 1)).read_bytes()


def first_audit(fed: Federation, folder: Path) -> TrustAuditState:
    report = audit_trust_list(str(folder), root_of(fed), reference_time=LATER)
    assert report.ok, report.to_text()
    assert [c.status for c in report.checks] == ["passed"] * 4 + ["skipped"]
    assert report.new_state is not None
    return report.new_state


def codes(
    fed: Federation, folder: Path, state: TrustAuditState | None, at: dt.datetime
) -> set[str]:
    report = audit_trust_list(str(folder), root_of(fed), reference_time=at, state=state)
    assert report.new_state is None or report.ok
    return set(report.codes)


def test_a_clean_list_and_its_growth_pass(federation: Federation, tmp_path: Path) -> None:
    folder = publish(federation, tmp_path / "site")
    state = first_audit(federation, folder)
    assert state.schools == ("NKUST", "NTCU", "NTHU") and state.log_size > 0
    rotate(federation, "NTHU", LATER + dt.timedelta(hours=1))
    publish(federation, tmp_path / "site")
    report = audit_trust_list(
        str(folder), root_of(federation), reference_time=LATER + dt.timedelta(hours=2), state=state
    )
    assert report.ok, report.to_text()
    assert report.new_state is not None and report.new_state.log_size > state.log_size
    assert "CLEAN" in report.to_text()


def test_a_list_signed_by_fewer_than_the_threshold(federation: Federation, tmp_path: Path) -> None:
    folder = publish(federation, tmp_path / "site")
    targets = current_targets(folder)
    targets.signed.version += 1
    targets.signatures.clear()
    trustlist.sign(targets, federation.roots[0])  # one of the two needed
    forge(folder, federation.online, LATER, {"targets": targets})
    report = audit_trust_list(str(folder), root_of(federation), reference_time=LATER)
    assert report.codes == ("below_threshold",)
    assert "signed by 1/2 keys" in report.violations[0].detail
    assert report.new_state is None


def test_a_group_of_schools_signed_by_fewer_than_the_threshold(
    federation: Federation, tmp_path: Path
) -> None:
    """A school's state lives in its group: the group needs the same offline threshold."""
    folder = publish(federation, tmp_path / "site")
    name = trustlist.group_of("NTHU")
    group = current_role(folder, name)
    group.signed.version += 1
    group.signatures.clear()
    trustlist.sign(group, federation.roots[0])  # one of the two needed
    forge(folder, federation.online, LATER, {name: group})
    report = audit_trust_list(str(folder), root_of(federation), reference_time=LATER)
    assert report.codes == ("below_threshold",)
    assert f"group {name}" in report.violations[0].detail


def test_a_removed_school(federation: Federation, tmp_path: Path) -> None:
    """Even re-signed with the threshold of offline keys: the log and the memory disagree."""
    folder = publish(federation, tmp_path / "site")
    state = first_audit(federation, folder)
    forge(folder, federation.online, LATER, without_school(folder, "NTCU", federation.roots[:2]))
    report = audit_trust_list(str(folder), root_of(federation), reference_time=LATER, state=state)
    assert set(report.codes) == {"school_removed"}
    assert {v.check for v in report.violations} == {"list_vs_log", "remembered"}
    assert codes(federation, folder, None, LATER) == {"school_removed"}


def test_a_silently_replaced_school_key(federation: Federation, tmp_path: Path) -> None:
    folder = publish(federation, tmp_path / "site")
    with federation.operator() as op:
        before = op.trust_list(LATER).schools["NTHU"]
    signing = next(k for k in before.keys if k.role == "signing")
    impostor = ec.generate_private_key(ec.SECP256R1()).public_key()
    swapped = KeyRecord(
        hashlib.sha256(b"another certificate").hexdigest(), 500, "signing",
        pki.spki_der(impostor), signing.valid_from, signing.valid_to,
    )  # fmt: skip
    keys = [swapped if k is signing else k for k in before.keys]
    role = trustlist.school_role(
        "NTHU", keys, before.role_version + 1, LATER + dt.timedelta(days=9)
    )
    trustlist.sign(role, federation.status_key("NTHU"))
    forge(folder, federation.online, LATER, {"NTHU": role})
    report = audit_trust_list(str(folder), root_of(federation), reference_time=LATER)
    assert set(report.codes) == {"key_not_logged", "key_removed"}
    assert any("added or replaced silently" in v.detail for v in report.violations)


def test_a_rolled_back_list(federation: Federation, tmp_path: Path) -> None:
    folder = publish(federation, tmp_path / "site")
    old_timestamp = (folder / "metadata" / "timestamp.json").read_bytes()
    rotate(federation, "NTHU", LATER + dt.timedelta(hours=1))
    publish(federation, tmp_path / "site")
    state = audit_trust_list(
        str(folder), root_of(federation), reference_time=LATER + dt.timedelta(hours=2)
    ).new_state
    assert state is not None
    (folder / "metadata" / "timestamp.json").write_bytes(old_timestamp)
    # Each file on its own still verifies; only the memory of a newer list tells.
    assert codes(federation, folder, None, LATER + dt.timedelta(hours=2)) == set()
    assert codes(federation, folder, state, LATER + dt.timedelta(hours=2)) == {"rollback"}


def test_a_rewritten_version_and_a_rewritten_log(federation: Federation, tmp_path: Path) -> None:
    folder = publish(federation, tmp_path / "site")
    state = first_audit(federation, folder)
    # Version 2 of the list of schools, re-signed with the threshold after a name changed.
    path = folder / metadata_path("targets", 2)
    md = Metadata.from_bytes(path.read_bytes())
    md.signed.unrecognized_fields["x-note"] = "rewritten"
    md.signatures.clear()
    for key in federation.roots[:2]:
        trustlist.sign(md, key)
    path.write_bytes(trustlist.to_bytes(md))
    assert codes(federation, folder, state, LATER) == {"metadata_rewritten"}
    # The log's checkpoint, re-signed with the online key over other leaves' root.
    with federation.operator() as op:
        events = op.events()
    fake = dict(state.to_dict(), log_root="A" * 43 + "=")
    other = TrustAuditState.from_dict(fake)
    assert "log_rewritten" in codes(federation, folder, other, LATER)
    assert len(events) == state.log_size


def test_a_deleted_version_is_named(federation: Federation, tmp_path: Path) -> None:
    folder = publish(federation, tmp_path / "site")
    state = first_audit(federation, folder)
    (folder / metadata_path("snapshot", 2)).unlink()
    assert codes(federation, folder, state, LATER) == {"metadata_deleted"}


def test_the_command(federation: Federation, tmp_path: Path) -> None:
    with federation.operator() as op:  # the command judges freshness by the clock
        op.refresh(now=NOW, online=federation.online)
    folder = publish(federation, tmp_path / "site")
    root = tmp_path / "1.root.json"
    root.write_bytes(root_of(federation))
    state = tmp_path / "trust-audit.json"
    runner = CliRunner()
    args = ["audit", "--trust-list", str(root), "--state", str(state), str(folder)]
    ok = runner.invoke(main, args)
    assert ok.exit_code == 0, ok.output
    assert "result: CLEAN" in ok.output and state.exists()
    (folder / metadata_path("snapshot", 2)).unlink()
    bad = runner.invoke(main, [*args[:-1], "--json", str(folder)])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["violation_codes"] == ["metadata_deleted"]
