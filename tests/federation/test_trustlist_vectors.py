"""The Python trust-list reader against the shared conformance vectors (tests/vectors/trustlist):
every case gives exactly the manifest's outcome. The browser's reader runs the same cases
(tests/site/test_trustlist_vectors_js.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.formats import encode_canonical

from certseal.errors import (
    CertsealError,
    DeserializationError,
    ExpiredError,
    FetchError,
    RollbackError,
    SignatureVerificationError,
)
from certseal.fetch import published_fetcher
from certseal.timeutil import parse_time
from certseal.trustlist import TrustListClient, metadata_path
from tests.vectors import generate_trustlist

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "trustlist"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text("utf-8"))
CASES = {c["name"]: c for c in MANIFEST["cases"]}

KINDS: tuple[tuple[type[CertsealError], str], ...] = (
    (SignatureVerificationError, "signature"),
    (RollbackError, "rollback"),
    (ExpiredError, "expired"),
    (DeserializationError, "format"),
    (FetchError, "fetch"),
)


def kind(error: CertsealError) -> str:
    return next((k for cls, k in KINDS if isinstance(error, cls)), type(error).__name__)


def run(case: dict[str, Any]) -> dict[str, Any]:
    """The outcome of one case, in the manifest's shape; a 'seen' case is read first."""
    folder = {"name": case["seen"] or case["name"]}

    def fetch(path: str, limit: int) -> bytes:
        return published_fetcher(str(VECTORS), folder["name"])(path, limit)

    root = (VECTORS / case["name"] / metadata_path("root", 1)).read_bytes()
    when = parse_time(case["reference_time"])
    try:
        client = TrustListClient(fetch, root)
        if case["seen"]:
            client.refresh(when)
            folder["name"] = case["name"]
        tl = client.refresh(when)
    except CertsealError as e:
        return {"ok": False, "error": kind(e)}
    return {
        "ok": True,
        "timestamp_version": tl.timestamp_version,
        "snapshot_version": tl.snapshot_version,
        "targets_version": tl.targets_version,
        "schools": {
            sid: {
                "state": s.profile.current.state,
                "role_version": s.role_version,
                "keys": sorted(k.cert_sha256 for k in s.keys),
            }
            for sid, s in sorted(tl.schools.items())
        },
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_python_reader_agrees_with_the_manifest(name: str) -> None:
    case = CASES[name]
    assert run(case) == case["expect"], case["why"]


def test_committed_vectors_are_what_the_script_generates() -> None:
    assert generate_trustlist.main(["--check"]) == 0


def test_vectors_cover_every_error_kind_but_fetch() -> None:
    kinds = {c["expect"]["error"] for c in CASES.values() if not c["expect"]["ok"]}
    assert kinds == set(MANIFEST["error_kinds"]) - {"fetch"}


def test_tuf_canonical_json_differs_from_ours_on_control_characters() -> None:
    """Why the browser needs TUF's own encoder: the vectors hold values where the two differ."""
    from certseal.canonical import canonical_bytes

    differ = 0
    for sample in MANIFEST["canonical"]:
        tuf = base64.b64decode(sample["tuf"])
        assert tuf == encode_canonical(sample["value"]).encode()  # type: ignore[union-attr]
        differ += tuf != canonical_bytes(sample["value"])
    assert differ >= 2
