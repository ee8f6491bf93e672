"""The verifier's transparency-log check: the document's events are proven in the checkpoint
the signed status list names, the checkpoint is shown, and a host's tampering fails the check."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certseal import tlog
from certseal.eventlog import LOG_DIR, LogClient, LogRef, PublishedLog, tile_path
from certseal.fetch import published_fetcher
from certseal.pki import ec_public_key, load_certificates
from certseal.statuslist import Entry
from tests.audit.conftest import School, at
from tests.conftest import Issued
from verifier.counter import Counter
from verifier.engine import Limits, Verifier, build_verifier
from verifier.status import IssuerTrust


@pytest.fixture
def verifier(history: School, tmp_path: Path) -> Verifier:
    keys = history.home / "keys"
    trust = IssuerTrust.from_files(
        "demo", [keys / "root.pem"], [keys / "statuslist.pem"], str(history.site)
    )
    return build_verifier([trust], Counter(tmp_path / "counts.sqlite"), Limits(), 0)


def _check(verifier: Verifier, pdf: bytes) -> tuple[dict[str, str], dict[str, object]]:
    result = verifier.verify(pdf, at(7)).to_dict("en")
    checks = {c["name"]: c["status"] for c in result["checks"]}
    return checks, result


def test_genuine_document_is_proven_in_the_named_checkpoint(
    verifier: Verifier, history: School, issued: Issued
) -> None:
    checks, result = _check(verifier, issued.pdf("genuine"))
    assert result["result"] == "success"
    names = [c["name"] for c in result["checks"]]  # type: ignore[attr-defined]
    assert names.index("transparency_log") == names.index("status_list") + 1
    assert checks["transparency_log"] == "passed"
    latest = history.latest()
    assert result["status_list"]["checkpoint"] == {  # type: ignore[index]
        "origin": latest.origin,
        "size": latest.size,
        "root": base64.b64encode(latest.root_hash).decode(),
    }
    detail = next(c for c in result["checks"] if c["name"] == "transparency_log")["detail"]  # type: ignore[attr-defined]
    assert f"checkpoint {latest.size}" in detail and "1 event(s)" in detail


def test_revoked_and_superseded_documents_prove_every_event(
    verifier: Verifier, issued: Issued
) -> None:
    for role, events in (("revoked", "2 event(s)"), ("superseded", "2 event(s)")):
        checks, result = _check(verifier, issued.pdf(role))
        assert checks["transparency_log"] == "passed"
        assert result["result"] != "success"
        assert "status_unavailable" not in [r["code"] for r in result["reasons"]]  # type: ignore[attr-defined]
        assert events in str(result["checks"])


def test_a_tampered_tile_fails_the_check_until_it_is_repaired(
    verifier: Verifier, history: School, issued: Issued
) -> None:
    tile = history.site / "log" / tile_path(0, 0)
    good = tile.read_bytes()
    tile.write_bytes(bytes(8192))
    checks, result = _check(verifier, issued.pdf("genuine"))
    assert checks["transparency_log"] == "failed"
    assert result["result"] == "failure"
    assert "status_unavailable" in [r["code"] for r in result["reasons"]]  # type: ignore[attr-defined]
    assert checks["verification_count"] in ("passed", "skipped")
    tile.write_bytes(good)
    checks, result = _check(verifier, issued.pdf("genuine"))
    assert checks["transparency_log"] == "passed" and result["result"] == "success"


def test_a_checkpoint_by_another_key_fails_the_check(
    verifier: Verifier, history: School, issued: Issued
) -> None:
    latest = history.latest()
    other = tlog.sign_checkpoint(latest, latest.origin, ec.generate_private_key(ec.SECP256R1()))
    (history.site / "log" / f"checkpoints/{latest.size}").write_text(other)
    checks, result = _check(verifier, issued.pdf("genuine"))
    assert checks["transparency_log"] == "failed"
    assert "not signed by" in str(result["checks"])


def test_without_a_published_log_the_check_is_skipped(
    verifier: Verifier, history: School, issued: Issued
) -> None:
    history.forge_status(history.entries(), None, at(6.8))
    checks, result = _check(verifier, issued.pdf("genuine"))
    assert checks["transparency_log"] == "skipped"
    assert result["result"] == "success"
    assert "checkpoint" not in result["status_list"]  # type: ignore[operator]


def test_a_cached_proof_costs_well_under_a_millisecond(history: School, issued: Issued) -> None:
    import hashlib

    sha = hashlib.sha256(issued.pdf("revoked")).hexdigest()
    entry = next(e for e in history.entries() if e.sha256 == sha)
    assert isinstance(entry, Entry)
    latest = history.latest()
    ref = LogRef.for_checkpoint(latest)
    key = ec_public_key(load_certificates((history.site / "certs/statuslist.pem").read_bytes())[0])
    client = LogClient(PublishedLog(published_fetcher(str(history.site), LOG_DIR)))
    client.check_entry(ref, entry, [key])  # fetches the checkpoint and the tiles once
    reads = client.log.tiles.reads
    start = time.perf_counter()
    for _ in range(200):
        client.check_entry(ref, entry, [key])
    per_check = (time.perf_counter() - start) / 200
    assert client.log.tiles.reads == reads  # nothing fetched again
    assert per_check < 0.002, per_check  # two events proven; typically about 0.1 ms
