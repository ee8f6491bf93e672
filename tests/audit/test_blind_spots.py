"""Blind spots an attacker found in the auditor, each now a named violation.

A real authority publishes a real history; then one published file is deleted, emptied,
flipped or replaced, or the whole site is rewritten consistently under another key. Each test
is named after its defect. The last test sweeps every file the audit relies on.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auditor import VIOLATIONS, AuditReport, audit
from certseal.eventlog import LISTING_PATH, LogEvent, LogRef, consistency_path, listing_bytes
from certseal.pki import cert_pem, key_id
from certseal.statuslist import Bucket, FileRef, bucket_path, shard_path, snapshot_path
from cli import main
from tests.audit.conftest import School, at, entries_from, make_history
from tests.conftest import Issued


def _codes(report: AuditReport) -> set[str]:
    assert not report.ok and report.new_state is None, report.to_text()
    status = {c.name: c.status for c in report.checks}
    for v in report.violations:
        assert v.code in VIOLATIONS and v.detail
        assert status[v.check] == "failed", (v, status)  # no check passes over a finding
    return set(report.codes)


def _current(school: School) -> tuple[int, dict[str, FileRef]]:
    """The current version and its shard pins (prefix -> pin), read as a client would."""
    status = school.site / "status"
    ts = json.loads((status / "timestamp.json").read_bytes())["signed"]
    snap = json.loads((status / ts["snapshot"]["path"]).read_bytes())["signed"]
    shards: dict[str, FileRef] = {}
    for sha in snap["buckets"].values():
        bucket = Bucket.from_bytes((status / bucket_path(FileRef(sha, 0))).read_bytes())
        shards.update(bucket.shards)
    return ts["version"], shards


def _a_current_shard(school: School) -> Path:
    _, shards = _current(school)
    return school.site / "status" / shard_path(shards[sorted(shards)[0]])


# --- the status list's files ------------------------------------------------------------------


def test_a_current_shard_flipped_is_named(history: School) -> None:
    shard = _a_current_shard(history)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    report = history.audit(at(7))
    assert _codes(report) == {"shard_tampered"}
    assert shard.name in report.violations[0].detail


def test_a_current_shard_emptied_is_named(history: School) -> None:
    _a_current_shard(history).write_bytes(b"")
    assert _codes(history.audit(at(7))) == {"shard_tampered"}


def test_a_current_shard_deleted_is_named(history: School) -> None:
    _a_current_shard(history).unlink()
    report = history.audit(at(7))
    assert _codes(report) == {"shard_tampered"}
    assert "cannot read" in report.violations[0].detail


def test_a_shard_only_an_older_snapshot_pins_deleted_is_named(history: School) -> None:
    _, current = _current(history)
    pinned_now = {ref.sha256 for ref in current.values()}
    older = [p for p in (history.site / "status" / "shards").iterdir() if p.stem not in pinned_now]
    assert older
    older[0].unlink()
    report = history.audit(at(7))
    assert _codes(report) == {"shard_tampered"}
    assert "of snapshot" in report.violations[0].detail


def test_an_older_snapshot_deleted_is_named(history: School) -> None:
    """A middle one: versions before and after it are published, so even a first audit sees
    the gap."""
    version, _ = _current(history)
    (history.site / "status" / snapshot_path(version - 1)).unlink()
    assert _codes(history.audit(at(7), remember=False)) == {"snapshot_missing"}


def test_the_oldest_snapshot_deleted_is_named(history: School) -> None:
    """No gap is left: only the auditor's memory knows it was there."""
    snapshots = history.site / "status" / "snapshot"
    oldest = min(int(p.stem) for p in snapshots.iterdir())
    (snapshots / f"{oldest}.json").unlink()
    report = history.audit(at(7))
    assert _codes(report) == {"snapshot_missing"}
    assert "was seen before" in report.violations[0].detail


def test_an_older_snapshot_replaced_by_another_signed_one_is_named(history: School) -> None:
    """The school re-signs an earlier version with other content (it holds the key)."""
    version, _ = _current(history)
    timestamp = history.site / "status" / "timestamp.json"
    kept = timestamp.read_bytes()
    history.forge_status(history.entries()[:1], None, at(7), version=version - 1)
    timestamp.write_bytes(kept)  # the current publication stays as it was
    codes = _codes(history.audit(at(8)))
    assert "snapshot_changed" in codes


def test_one_version_signed_twice_with_two_contents_is_named(history: School) -> None:
    """The current version re-signed with one revocation left out: a visitor who saw the first
    and one who sees the second were shown two lists under one version."""
    version, _ = _current(history)
    entries = [e for e in history.entries() if e.state != "revoked"]
    history.forge_status(entries, LogRef.for_checkpoint(history.latest()), at(7), version=version)
    codes = _codes(history.audit(at(8)))
    assert {"snapshot_changed", "status_mismatch"} <= codes


# --- the log's files --------------------------------------------------------------------------


def test_the_oldest_consistency_proof_deleted_is_named(history: School) -> None:
    sizes = history.log.sizes()
    proof = history.site / "log" / consistency_path(sizes[0], sizes[1])
    proof.unlink()
    report = history.audit(at(7))
    assert _codes(report) == {"proof_missing"}
    assert consistency_path(sizes[0], sizes[1]) in report.violations[0].detail


def test_a_listing_that_lost_its_last_size_is_named(history: School) -> None:
    sizes = history.log.sizes()
    listing = history.site / "log" / LISTING_PATH
    listing.write_bytes(listing_bytes(history.latest().origin, sizes[:-1]))
    report = history.audit(at(7), remember=False)
    assert _codes(report) == {"listing_incomplete"}
    assert f"does not list checkpoint {sizes[-1]}" in report.violations[0].detail


def test_a_listing_that_lost_an_older_size_is_named_by_memory(history: School) -> None:
    sizes = history.log.sizes()
    listing = history.site / "log" / LISTING_PATH
    listing.write_bytes(listing_bytes(history.latest().origin, sizes[1:]))
    report = history.audit(at(7))
    assert "listing_incomplete" in _codes(report)
    assert any("seen before" in v.detail for v in report.violations)


def test_a_truncated_listing_is_named(history: School) -> None:
    listing = history.site / "log" / LISTING_PATH
    listing.write_bytes(listing.read_bytes()[:20])
    assert "listing_incomplete" in _codes(history.audit(at(7)))


def test_an_earlier_partial_bundle_flipped_is_named(history: School) -> None:
    """Kept for verifiers that prove against an older checkpoint: it must be the log's too."""
    sizes = history.log.sizes()
    partial = history.site / "log" / "tile" / "entries" / "000.p" / str(sizes[0])
    leaves = history.leaves()
    forged = replace(LogEvent.from_bytes(leaves[0]), doc_type="diploma_en").to_bytes()
    data = partial.read_bytes()
    partial.write_bytes(data.replace(leaves[0], forged))
    report = history.audit(at(7))
    assert _codes(report) == {"tile_mismatch"}
    assert f"000.p/{sizes[0]}" in report.violations[0].detail


def test_an_earlier_partial_bundle_may_be_dropped(history: School) -> None:
    """tlog-tiles lets a log drop a partial tile once the full one is out: not a finding."""
    sizes = history.log.sizes()
    (history.site / "log" / "tile" / "entries" / "000.p" / str(sizes[0])).unlink()
    (history.site / "log" / "tile" / "0" / "000.p" / str(sizes[0])).unlink()
    assert history.audit(at(7)).ok


# --- the key -----------------------------------------------------------------------------------


def _self_signed(key: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Impostor status list")])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert_pem(cert)


@pytest.fixture
def rewritten(history: School) -> School:
    """The whole site rewritten consistently under another key: the revocation is gone from
    the log and the list, every checkpoint and the list re-signed, the earlier snapshots
    (signed with the true key) deleted, and certs/statuslist.pem replaced."""
    impostor = ec.generate_private_key(ec.SECP256R1())
    leaves = [leaf for leaf in history.leaves() if b'"event":"revoked"' not in leaf]
    forged = [replace(LogEvent.from_bytes(x), index=i).to_bytes() for i, x in enumerate(leaves)]
    ref = history.forge_log(forged, [len(forged)], at(7), wipe=True, key=impostor)
    history.forge_status(entries_from(forged), ref, at(7), key=impostor)
    version, _ = _current(history)
    for snapshot in (history.site / "status" / "snapshot").iterdir():
        if snapshot.stem != str(version):
            snapshot.unlink()
    (history.site / "certs" / "statuslist.pem").write_bytes(_self_signed(impostor))
    return history


def test_a_consistent_rewrite_under_another_key_is_said_to_be_trusted_as_found(
    rewritten: School,
) -> None:
    """Without anything pinning the key, the rewrite is consistent in itself: the library's
    report says plainly that it trusted the key it found."""
    report = audit(str(rewritten.site), reference_time=at(8))
    assert report.ok
    assert "pinned by nothing" in report.facts["key"]
    assert any("re-signed with another key would pass" in w for w in report.warnings)
    assert "re-signed with another key would pass" in report.to_text()


def test_cli_fails_a_consistent_rewrite_under_an_unpinned_key(rewritten: School) -> None:
    result = CliRunner().invoke(main, ["audit", str(rewritten.site)])
    assert result.exit_code == 1, result.output
    assert "key_unpinned" in result.output
    assert "taken from the site's own certs/statuslist.pem" in result.output


def test_cli_accepts_the_published_key_only_when_told_and_says_so(rewritten: School) -> None:
    result = CliRunner().invoke(main, ["audit", str(rewritten.site), "--accept-published-key"])
    assert result.exit_code == 0, result.output
    assert "pinned by nothing" in result.output


def test_cli_names_a_rewrite_under_another_key_against_the_pinned_certificate(
    rewritten: School,
) -> None:
    pem = rewritten.home / "keys" / "statuslist.pem"
    result = CliRunner().invoke(main, ["audit", str(rewritten.site), "--key", str(pem)])
    assert result.exit_code == 1
    assert "key_mismatch" in result.output and "status_list_invalid" in result.output


def test_cli_names_a_rewrite_under_another_key_against_a_pinned_fingerprint(
    rewritten: School,
) -> None:
    true_id = key_id(rewritten.key.public_key())
    result = CliRunner().invoke(main, ["audit", str(rewritten.site), "--pin", true_id, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert "key_mismatch" in report["violation_codes"]
    assert true_id in next(v["detail"] for v in report["violations"] if v["code"] == "key_mismatch")


def test_cli_names_a_rewrite_under_another_key_against_its_memory(rewritten: School) -> None:
    result = CliRunner().invoke(
        main, ["audit", str(rewritten.site), "--state", str(rewritten.state_file)]
    )
    assert result.exit_code == 1
    assert "key_changed" in result.output


def test_cli_pins_the_true_key_by_its_certificate_fingerprint(history: School) -> None:
    pem = (history.site / "certs" / "statuslist.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    pin = ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))
    result = CliRunner().invoke(main, ["audit", str(history.site), "--pin", pin])
    assert result.exit_code == 0, result.output
    assert "pinned by fingerprint" in result.output


def test_cli_refuses_a_pin_that_is_not_a_fingerprint(history: School) -> None:
    result = CliRunner().invoke(main, ["audit", str(history.site), "--pin", "12:34"])
    assert result.exit_code == 2
    assert "a pin is the SHA-256 fingerprint" in result.output


# --- every file the audit relies on -------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(issued: Issued, tmp_path_factory: pytest.TempPathFactory) -> School:
    """One honest history for the sweep below, copied before each tampering."""
    base = tmp_path_factory.mktemp("pristine")
    home = base / "home"
    shutil.copytree(issued.home, home, ignore=shutil.ignore_patterns("lock", "documents"))
    return make_history(School(home, base / "site", base / "auditor-state.json"))


def _relied_on(school: School) -> list[str]:
    """Every file of the log and of the status list's signed chain, one bucket and shard of
    the current snapshot and one of an earlier one, and the status-list certificate."""
    site = school.site
    files = [
        str(p.relative_to(site))
        for folder in ("log", "status/snapshot")
        for p in sorted((site / folder).rglob("*"))
        if p.is_file()
    ]
    _, current = _current(school)
    pinned_now = {r.sha256 for r in current.values()}
    first = sorted(current)[0]
    files += ["status/timestamp.json", f"status/{shard_path(current[first])}"]
    files += [
        f"status/shards/{p.name}"
        for p in sorted((site / "status" / "shards").iterdir())
        if p.stem not in pinned_now
    ][:1]
    files += [f"status/buckets/{p.name}" for p in sorted((site / "status" / "buckets").iterdir())][
        :2
    ]
    return [*files, "certs/statuslist.pem"]


def _droppable(rel: str, school: School) -> bool:
    """A partial tile or bundle of an earlier checkpoint: tlog-tiles lets a log drop it."""
    if ".p/" not in rel:
        return False
    return int(rel.rsplit("/", 1)[1]) != school.latest().size % 256


def test_every_file_the_audit_relies_on_deleted_truncated_or_flipped_is_named(
    pristine: School, tmp_path: Path
) -> None:
    missed = []
    files = _relied_on(pristine)
    assert len(files) > 20
    for rel in files:
        for how in ("deleted", "truncated", "flipped"):
            if how == "deleted" and _droppable(rel, pristine):
                continue
            if how == "flipped" and rel.startswith("certs/"):
                continue  # a flipped byte may leave the same key: the key is what is pinned
            case = tmp_path / f"{len(missed)}-{how}"
            shutil.copytree(pristine.site, case / "site")
            shutil.copy(pristine.state_file, case / "state.json")
            target = case / "site" / rel
            data = target.read_bytes()
            if how == "deleted":
                target.unlink()
            elif how == "truncated":
                target.write_bytes(data[: len(data) // 2])
            else:
                flipped = bytearray(data)
                flipped[len(data) // 2] ^= 0x01
                target.write_bytes(bytes(flipped))
            school = School(pristine.home, case / "site", case / "state.json")
            report = school.audit(at(7))
            if report.ok:
                missed.append(f"{rel} {how}")
            else:
                _codes(report)
            shutil.rmtree(case)
    assert not missed
