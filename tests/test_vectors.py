"""The Python reader against the shared conformance vectors (tests/vectors/): every case gives
exactly the manifest's outcome. The browser's reader runs the same cases
(tests/site/test_vectors_js.py)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from certseal.errors import (
    BelowPinError,
    CertsealError,
    DeserializationError,
    ExpiredError,
    HashMismatchError,
    RollbackError,
    SignatureVerificationError,
    VersionMismatchError,
)
from certseal.fetch import published_fetcher
from certseal.pki import key_id
from certseal.statuslist import Pin, Seen, build_publication, build_shards, load_trusted, lookup
from certseal.timeutil import format_time, parse_time
from tests.vectors import generate

VECTORS = Path(__file__).resolve().parent / "vectors" / "statuslist"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text("utf-8"))
CASES = {c["name"]: c for c in MANIFEST["cases"]}

# Most specific first: the manifest's error kinds as the Python reader raises them.
KINDS: tuple[tuple[type[CertsealError], str], ...] = (
    (HashMismatchError, "pin"),
    (SignatureVerificationError, "signature"),
    (BelowPinError, "below_pin"),
    (RollbackError, "rollback"),
    (ExpiredError, "expired"),
    (VersionMismatchError, "version_mismatch"),
    (DeserializationError, "format"),
)


def kind(error: CertsealError) -> str:
    return next((k for cls, k in KINDS if isinstance(error, cls)), type(error).__name__)


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else parse_time(value)


def _keys() -> dict[str, ec.EllipticCurvePublicKey]:
    out = {}
    for k in MANIFEST["trusted_keys"]:
        key = load_der_public_key(base64.b64decode(k["spki"]))
        assert isinstance(key, ec.EllipticCurvePublicKey) and key_id(key) == k["keyid"]
        out[k["keyid"]] = key
    return out


def run(case: dict[str, Any]) -> dict[str, Any]:
    """The outcome of one case, in the manifest's shape."""
    fetch = published_fetcher(str(VECTORS), case["name"])
    when = parse_time(case["reference_time"])
    try:
        state = load_trusted(
            fetch,
            _keys().get,
            reference_time=when,
            seen=Seen(case["seen"]["version"], _time(case["seen"]["issued_at"])),
            pin=Pin(case["pin"]["min_version"], _time(case["pin"]["not_before"])),
            allow_expired=case["allow_expired"],
        )
    except CertsealError as e:
        return {"ok": False, "error": kind(e)}
    lookups: list[dict[str, Any]] = []
    for item in case["expect"].get("lookups", []):
        try:
            entry = lookup(state, item["sha256"], fetch)
        except CertsealError as e:
            lookups.append({"sha256": item["sha256"], "error": kind(e)})
        else:
            lookups.append({"sha256": item["sha256"], "entry": entry and entry.to_dict()})
    return {
        "ok": True,
        "version": state.version,
        "timestamp_issued_at": format_time(state.timestamp.issued_at),
        "expired": state.is_expired(when),
        "lookups": lookups,
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_python_reader_agrees_with_the_manifest(name: str) -> None:
    case = CASES[name]
    assert run(case) == case["expect"], case["why"]


def test_committed_vectors_are_what_the_script_generates() -> None:
    assert generate.main(["--check"]) == 0


def test_vectors_cover_every_error_kind_and_state() -> None:
    expected = [c["expect"] for c in CASES.values()]
    kinds = {e["error"] for e in expected if not e["ok"]}
    kinds |= {i["error"] for e in expected for i in e.get("lookups", []) if "error" in i}
    assert kinds == set(MANIFEST["error_kinds"])
    states = {i["entry"]["state"] for i in CASES["good"]["expect"]["lookups"] if i["entry"]}
    assert states == {"active", "superseded", "revoked"}


def test_good_vector_holds_the_files_the_authority_would_write() -> None:
    """The generator bends real publications: unbent, its shards and buckets are byte for byte
    what ``build_publication`` writes."""
    built = build_publication(
        build_shards(generate.ENTRIES, generate.SHARD_LEN),
        issuer=generate.ISSUER,
        version=generate.VERSION,
        issued_at=generate.ISSUED,
        expires=generate.SNAPSHOT_EXPIRES,
        key=generate.KEY,
        bucket_prefix_len=generate.BUCKET_LEN,
        shard_prefix_len=generate.SHARD_LEN,
    )
    pinned = {p: d for p, d in built.files.items() if p.startswith(("buckets/", "shards/"))}
    good = VECTORS / "good"
    assert {p: (good / p).read_bytes() for p in pinned} == pinned
