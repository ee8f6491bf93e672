"""Conformance vectors for status-list readers: ``python -m tests.vectors.generate``.

Each case is a published ``status/`` folder under ``tests/vectors/statuslist/<case>/``; the
manifest (``statuslist/manifest.json``) gives the trusted keys, each case's inputs (reference
time, what the reader already trusts, an operator's pin) and the expected outcome: the loaded
version and the entry found for given hashes, or the kind of error. The Python reader
(``tests/test_vectors.py``) and the browser's ``statuslist.js`` (``tests/site/test_vectors_js.py``)
must both give exactly that.

Reproducible: fixed far-future times, keys derived from fixed phrases, deterministic ECDSA
(RFC 6979). ``--check`` regenerates into a temporary folder and fails if the committed files
differ. THE KEYS ARE FOR TESTS ONLY: anyone can derive them from the phrases below.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import filecmp
import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from certseal.canonical import canonical_bytes
from certseal.pki import key_id, spki_der
from certseal.statuslist import Entry, FileRef, Issuer, Snapshot, Timestamp, snapshot_path
from certseal.timeutil import format_time, parse_time

HERE = Path(__file__).resolve().parent
OUT = HERE / "statuslist"


def _test_only_key(phrase: str) -> ec.EllipticCurvePrivateKey:
    """A key anyone can re-derive from its phrase: never trust it outside these tests."""
    scalar = int.from_bytes(hashlib.sha256(phrase.encode()).digest(), "big")
    return ec.derive_private_key(scalar, ec.SECP256R1())


KEY = _test_only_key("certseal conformance vectors: TEST-ONLY status-list key, not a secret")
WRONG_KEY = _test_only_key("certseal conformance vectors: TEST-ONLY untrusted key")

ISSUER = Issuer("VECTOR", "測試向量大學", "Conformance Vector University")
VERSION = 3
ISSUED = parse_time("2096-01-01T00:00:00Z")
SNAPSHOT_EXPIRES = ISSUED + dt.timedelta(days=7)
TIMESTAMP_EXPIRES = ISSUED + dt.timedelta(hours=6)
REFERENCE = ISSUED + dt.timedelta(hours=1)
BUCKET_LEN, SHARD_LEN = 1, 2


def _doc(n: int) -> str:
    return hashlib.sha256(f"certseal vector document {n}".encode()).hexdigest()


def _sig(n: int) -> str:
    """A signature digest (``Entry.sig``): the SHA-256 of a messageDigest value."""
    return hashlib.sha256(
        hashlib.sha256(f"certseal vector signed bytes {n}".encode()).digest()
    ).hexdigest()


def _entries() -> list[Entry]:
    """Every state and shape of entry, spread over a few buckets and shards; some with a
    signature digest (``sig``), some without, as a list published before it existed."""
    at = "2095-12-20T00:00:00Z"
    out = [
        Entry(_doc(0), "diploma_zh", at, None, "active", log_indexes=(0,), sig=_sig(0)),
        Entry(_doc(1), "transcript", at, 3, "active", log_indexes=(1,)),
        Entry(
            _doc(2),
            "diploma_en",
            at,
            None,
            "superseded",
            successor=_doc(3),
            superseded_at="2095-12-21T00:00:00Z",
            log_indexes=(2, 4),
            sig=_sig(2),
        ),
        Entry(_doc(3), "diploma_en", "2095-12-21T00:00:00Z", None, "active", log_indexes=(3,)),
        Entry(
            _doc(4),
            "rank_certificate",
            at,
            None,
            "revoked",
            reason_code="degree_revoked",
            revoked_at="2095-12-22T00:00:00Z",
            log_indexes=(5, 6),
            sig=_sig(4),
        ),
        Entry(
            _doc(5),
            "degree_certificate_en",
            at,
            None,
            "revoked",
            successor=_doc(6),
            superseded_at="2095-12-21T00:00:00Z",
            reason_code="issued_in_error",
            revoked_at="2095-12-23T00:00:00Z",
            log_indexes=(7, 8, 9),
        ),
    ]
    # Two more in the first document's shard (a shard of several, sorted) and one more in its
    # bucket (a bucket of several shards): found by counting, so still reproducible.
    first = _doc(0)
    same_shard = [n for n in range(6, 100_000) if _doc(n)[:SHARD_LEN] == first[:SHARD_LEN]][:2]
    same_bucket = next(
        n
        for n in range(6, 100_000)
        if _doc(n)[:BUCKET_LEN] == first[:BUCKET_LEN] and _doc(n)[:SHARD_LEN] != first[:SHARD_LEN]
    )
    out += [Entry(_doc(n), "transcript", at, None, "active") for n in [*same_shard, same_bucket]]
    return out


ENTRIES = _entries()


def _absent_hashes() -> dict[str, str]:
    """Hashes that are not listed, each missing at a different step of the lookup."""
    used = {e.sha256 for e in ENTRIES}
    buckets = {h[:BUCKET_LEN] for h in used}
    shards = {h[:SHARD_LEN] for h in used}
    no_bucket = next(d for d in "0123456789abcdef" if d not in buckets)
    bucket_no_shard = next(
        b + d for b in sorted(buckets) for d in "0123456789abcdef" if b + d not in shards
    )
    near = ENTRIES[0].sha256
    return {
        "no_bucket": no_bucket + "0" * 63,
        "no_shard": bucket_no_shard + "0" * 62,
        "not_in_shard": near[:-1] + ("0" if near[-1] != "0" else "1"),
    }


ABSENT = _absent_hashes()


# -- files ----------------------------------------------------------------------------------
def _sign(key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    der = key.sign(payload, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


def envelope(
    signed: dict[str, Any],
    keys: tuple[ec.EllipticCurvePrivateKey, ...] = (KEY,),
    payload: bytes | None = None,
) -> bytes:
    payload = canonical_bytes(signed) if payload is None else payload
    sigs = [{"keyid": key_id(k.public_key()), "sig": _sign(k, payload)} for k in keys]
    return canonical_bytes({"signed": signed, "signatures": sigs})


Mutate = Callable[[dict[str, Any]], None]


def _keep(_: dict[str, Any]) -> None:
    pass


@dataclass
class Publication:
    """One publication as plain JSON, to be bent before it is serialized and signed."""

    entries: list[dict[str, Any]] = field(default_factory=lambda: [e.to_dict() for e in ENTRIES])
    shard: Callable[[str, dict[str, Any]], None] = lambda prefix, d: None
    bucket: Callable[[str, dict[str, Any]], None] = lambda prefix, d: None
    snapshot: Mutate = _keep
    timestamp: Mutate = _keep
    snapshot_keys: tuple[ec.EllipticCurvePrivateKey, ...] = (KEY,)
    timestamp_keys: tuple[ec.EllipticCurvePrivateKey, ...] = (KEY,)
    version: int = VERSION
    timestamp_issued: dt.datetime = ISSUED
    timestamp_expires: dt.datetime = TIMESTAMP_EXPIRES

    def files(self) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        shards: dict[str, list[dict[str, Any]]] = {}
        for e in sorted(self.entries, key=lambda e: str(e["sha256"])):
            shards.setdefault(str(e["sha256"])[:SHARD_LEN], []).append(e)
        bucket_pins: dict[str, dict[str, str]] = {}
        for prefix, entries in sorted(shards.items()):
            d: dict[str, Any] = {"_type": "certseal/shard", "prefix": prefix, "entries": entries}
            self.shard(prefix, d)
            body = canonical_bytes(d)
            sha = hashlib.sha256(body).hexdigest()
            files[f"shards/{sha}.json"] = body
            bucket_pins.setdefault(prefix[:BUCKET_LEN], {})[prefix] = sha
        buckets: dict[str, str] = {}
        for prefix, pins in sorted(bucket_pins.items()):
            d = {"_type": "certseal/bucket", "prefix": prefix, "shards": pins}
            self.bucket(prefix, d)
            body = canonical_bytes(d)
            buckets[prefix] = hashlib.sha256(body).hexdigest()
            files[f"buckets/{buckets[prefix]}.json"] = body
        counts = {
            s: sum(e.state == s for e in ENTRIES) for s in ("active", "superseded", "revoked")
        }
        snap = Snapshot(
            issuer=ISSUER,
            version=self.version,
            issued_at=ISSUED,
            expires=SNAPSHOT_EXPIRES,
            bucket_prefix_len=BUCKET_LEN,
            shard_prefix_len=SHARD_LEN,
            counts=counts,
            buckets={},
        ).to_signed()
        snap["buckets"] = buckets
        self.snapshot(snap)
        snap_bytes = envelope(snap, self.snapshot_keys)
        path = snapshot_path(self.version)
        files[path] = snap_bytes
        ts = Timestamp(
            version=self.version,
            issued_at=self.timestamp_issued,
            expires=self.timestamp_expires,
            snapshot_path=path,
            snapshot=_ref(snap_bytes, len(ENTRIES)),
        ).to_signed()
        self.timestamp(ts)
        files["timestamp.json"] = envelope(ts, self.timestamp_keys)
        return files


def _ref(data: bytes, count: int) -> FileRef:
    return FileRef(hashlib.sha256(data).hexdigest(), len(data), count)


def _shard_of(n: int) -> str:
    return ENTRIES[n].sha256[:SHARD_LEN]


def _edit_entry(n: int, change: Callable[[dict[str, Any]], object]) -> Publication:
    """A publication whose entry ``n`` is bent (its shard, bucket and snapshot pin it)."""
    entries = [e.to_dict() for e in ENTRIES]
    change(entries[n])
    return Publication(entries=entries)


def _file_for(files: dict[str, bytes], kind: str, prefix: str) -> str:
    for path, data in files.items():
        if path.startswith(kind + "/") and json.loads(data).get("prefix") == prefix:
            return path
    raise KeyError(prefix)


# -- cases ----------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    why: str
    files: dict[str, bytes]
    expect: dict[str, Any]
    reference_time: dt.datetime = REFERENCE
    seen: tuple[int, dt.datetime | None] = (0, None)
    pin: tuple[int, dt.datetime | None] = (0, None)
    allow_expired: bool = False
    lookups: tuple[str, ...] = ()

    def manifest(self) -> dict[str, Any]:
        def t(v: dt.datetime | None) -> str | None:
            return None if v is None else format_time(v)

        return {
            "name": self.name,
            "why": self.why,
            "reference_time": format_time(self.reference_time),
            "seen": {"version": self.seen[0], "issued_at": t(self.seen[1])},
            "pin": {"min_version": self.pin[0], "not_before": t(self.pin[1])},
            "allow_expired": self.allow_expired,
            "expect": self.expect,
        }


def _found(hashes: tuple[str, ...]) -> list[dict[str, Any]]:
    by_hash = {e.sha256: e.to_dict() for e in ENTRIES}
    return [{"sha256": h, "entry": by_hash.get(h)} for h in hashes]


ALL_LOOKUPS = tuple(e.sha256 for e in ENTRIES[:6]) + tuple(ABSENT.values())


def _ok(
    hashes: tuple[str, ...] = ALL_LOOKUPS,
    *,
    expired: bool = False,
    issued_at: dt.datetime = ISSUED,
) -> dict[str, Any]:
    return {
        "ok": True,
        "version": VERSION,
        "timestamp_issued_at": format_time(issued_at),
        "expired": expired,
        "lookups": _found(hashes),
    }


def _lookup_error(n: int, kind: str) -> dict[str, Any]:
    """The list loads; looking up entry ``n`` fails with ``kind``."""
    return {
        "ok": True,
        "version": VERSION,
        "timestamp_issued_at": format_time(ISSUED),
        "expired": False,
        "lookups": [{"sha256": ENTRIES[n].sha256, "error": kind}],
    }


def _error(kind: str) -> dict[str, Any]:
    return {"ok": False, "error": kind}


def cases() -> Iterator[Case]:
    good = Publication().files()
    yield Case(
        "good", "a well-formed publication: every state, and every way to be absent", good, _ok()
    )

    renewed_at = ISSUED + dt.timedelta(days=2)
    yield Case(
        "good_renewed_timestamp",
        "the timestamp re-signed two days later (publish --timestamp-only): same version, "
        "later issue time, a new 6-hour expiry; the first timestamp would have expired",
        Publication(
            timestamp_issued=renewed_at, timestamp_expires=renewed_at + dt.timedelta(hours=6)
        ).files(),
        _ok(issued_at=renewed_at),
        reference_time=renewed_at + dt.timedelta(hours=1),
        seen=(VERSION, ISSUED),
    )
    yield Case(
        "good_unknown_key_signs_too",
        "a second signature by a key the reader does not trust is skipped, not an error",
        Publication(timestamp_keys=(WRONG_KEY, KEY), snapshot_keys=(WRONG_KEY, KEY)).files(),
        _ok(),
    )

    def future_field(d: dict[str, Any]) -> None:
        d["future_field"] = {"kept": ["and", "ignored"]}

    yield Case(
        "good_unknown_fields",
        "fields a later format version adds to the snapshot and timestamp are ignored",
        Publication(snapshot=future_field, timestamp=future_field).files(),
        _ok(),
    )
    pretty = json.dumps(json.loads(good["timestamp.json"]), indent=2, ensure_ascii=True).encode()
    yield Case(
        "good_timestamp_not_canonical",
        "the signature covers the canonical form of 'signed', not the file's bytes: a "
        "reformatted (even ASCII-escaped) timestamp still verifies",
        {**good, "timestamp.json": pretty},
        _ok(),
    )
    yield Case(
        "good_seen_and_pinned",
        "a reader that saw this very version and whose operator pinned it accepts it",
        good,
        _ok(),
        seen=(VERSION, ISSUED),
        pin=(VERSION, ISSUED),
    )

    # -- freshness
    after_ts = TIMESTAMP_EXPIRES + dt.timedelta(minutes=1)
    yield Case(
        "expired_timestamp",
        "the 6-hour timestamp expired (the snapshot has not)",
        good,
        _error("expired"),
        reference_time=after_ts,
    )
    yield Case(
        "expired_timestamp_allowed",
        "a reader that allows an expired list (the verifier: 'stale') gets it, flagged expired",
        good,
        _ok(expired=True),
        reference_time=after_ts,
        allow_expired=True,
    )
    yield Case(
        "expired_snapshot",
        "the timestamp is fresh but the snapshot it pins has expired",
        Publication(timestamp_expires=SNAPSHOT_EXPIRES + dt.timedelta(days=1)).files(),
        _error("expired"),
        reference_time=SNAPSHOT_EXPIRES + dt.timedelta(hours=1),
    )
    yield Case(
        "rolled_back",
        "older than the version the reader already trusts",
        good,
        _error("rollback"),
        seen=(VERSION + 1, ISSUED),
    )
    yield Case(
        "rolled_back_timestamp",
        "the same version, but a timestamp older than the renewed one the reader trusts",
        good,
        _error("rollback"),
        seen=(VERSION, ISSUED + dt.timedelta(hours=1)),
    )
    yield Case(
        "below_pinned_version",
        "below the operator's minimum version",
        good,
        _error("below_pin"),
        pin=(VERSION + 1, None),
    )
    yield Case(
        "below_pinned_time",
        "issued before the operator's not_before (a renewed timestamp does not help)",
        Publication(timestamp_issued=ISSUED + dt.timedelta(hours=3)).files(),
        _error("below_pin"),
        pin=(0, ISSUED + dt.timedelta(hours=2)),
        reference_time=ISSUED + dt.timedelta(hours=4),
    )

    # -- keys and signatures
    yield Case(
        "wrong_key",
        "signed by a key the reader does not trust",
        Publication(timestamp_keys=(WRONG_KEY,), snapshot_keys=(WRONG_KEY,)).files(),
        _error("signature"),
    )
    yield Case(
        "snapshot_wrong_key",
        "the timestamp is genuine; the snapshot it pins is signed by another key",
        Publication(snapshot_keys=(WRONG_KEY,)).files(),
        _error("signature"),
    )
    ts_text = good["timestamp.json"]
    yield Case(
        "tampered_timestamp",
        "one byte of the signed timestamp body changed (its expiry pushed a year on)",
        {**good, "timestamp.json": ts_text.replace(b'"expires":"2096', b'"expires":"2097')},
        _error("signature"),
    )
    snap_path = snapshot_path(VERSION)
    yield Case(
        "tampered_snapshot",
        "one byte of the snapshot changed: it no longer matches the hash the timestamp pins",
        {**good, snap_path: good[snap_path].replace(b'"revoked":2', b'"revoked":0')},
        _error("pin"),
    )

    def lie_about_counts(d: dict[str, Any]) -> None:
        d["counts"]["revoked"] = 0

    tampered = Publication()
    files = tampered.files()
    snap_doc = json.loads(files[snap_path])
    lie_about_counts(snap_doc["signed"])
    snap_bytes = canonical_bytes(snap_doc)  # the old signature kept over a changed body
    tampered.timestamp = lambda d: d["snapshot"].update(_ref(snap_bytes, len(ENTRIES)).to_dict())
    refiles = tampered.files() | {snap_path: snap_bytes}
    yield Case(
        "tampered_snapshot_repinned",
        "a changed snapshot that the (genuine) timestamp pins: its own signature fails",
        refiles,
        _error("signature"),
    )
    yield Case(
        "snapshot_longer_than_pinned",
        "the snapshot with one byte appended",
        {**good, snap_path: good[snap_path] + b"\n"},
        _error("pin"),
    )

    doc = json.loads(ts_text)
    doc["signatures"][0]["sig"] = "not base64!"
    yield Case(
        "signature_not_base64",
        "a signature that is not base64",
        {**good, "timestamp.json": canonical_bytes(doc)},
        _error("signature"),
    )
    doc["signatures"] = []
    yield Case(
        "no_signatures",
        "an envelope without signatures",
        {**good, "timestamp.json": canonical_bytes(doc)},
        _error("format"),
    )

    # -- pinned files
    bucket = _file_for(good, "buckets", ENTRIES[0].sha256[:BUCKET_LEN])
    other_bucket = next(p for p in good if p.startswith("buckets/") and p != bucket)
    yield Case(
        "bucket_not_matching_pin",
        "another bucket's file served under the name (hash) the snapshot pins",
        {**good, bucket: good[other_bucket]},
        _lookup_error(0, "pin"),
    )
    shard = _file_for(good, "shards", _shard_of(4))
    yield Case(
        "shard_not_matching_pin",
        "the shard with the revoked document replaced by one where it is active",
        {**good, shard: good[shard].replace(b'"state":"revoked"', b'"state":"active"')},
        _lookup_error(4, "pin"),
    )

    # -- version and format of the signed files
    yield Case(
        "snapshot_version_mismatch",
        "the timestamp (version 3) pins a snapshot whose signed version is 4",
        Publication(snapshot=lambda d: d.update(version=VERSION + 1)).files(),
        _error("version_mismatch"),
    )
    yield Case(
        "timestamp_points_elsewhere",
        "the timestamp names snapshot/2.json for version 3",
        Publication(timestamp=lambda d: d["snapshot"].update(path="snapshot/2.json")).files(),
        _error("format"),
    )
    yield Case(
        "unsupported_spec_version",
        "a major format version this reader does not know",
        Publication(timestamp=lambda d: d.update(spec_version="2.0")).files(),
        _error("format"),
    )
    yield Case(
        "snapshot_expires_before_issued",
        "a snapshot whose expiry is before its issue time",
        Publication(snapshot=lambda d: d.update(expires="2095-01-01T00:00:00Z")).files(),
        _error("format"),
    )
    yield Case(
        "snapshot_negative_count",
        "a count below zero",
        Publication(snapshot=lambda d: d["counts"].update(active=-1)).files(),
        _error("format"),
    )

    def long_bucket_key(d: dict[str, Any]) -> None:
        d["buckets"] = {k + "0": v for k, v in d["buckets"].items()}

    yield Case(
        "snapshot_bucket_prefix_length",
        "bucket keys longer than the snapshot's bucket_prefix_len",
        Publication(snapshot=long_bucket_key).files(),
        _error("format"),
    )
    yield Case(
        "snapshot_pin_upper_case",
        "a bucket pinned by upper-case hex",
        Publication(
            snapshot=lambda d: d.update(buckets={k: v.upper() for k, v in d["buckets"].items()})
        ).files(),
        _error("format"),
    )

    # -- bad JSON and canonical JSON
    float_ts = ts_text.replace(
        f'"version":{VERSION}}}'.encode(), f'"version":{VERSION}.0}}'.encode()
    )
    assert float_ts != ts_text
    yield Case(
        "float_in_signed",
        "'version': 3.0 in the file, signed as 3: canonical JSON has integers only, and a "
        "reader whose JSON turns 3.0 into 3 must still refuse it",
        {**good, "timestamp.json": float_ts},
        _error("format"),
    )
    yield Case(
        "unsafe_integer",
        "an integer beyond 2**53 - 1, which a browser cannot hold exactly (I-JSON)",
        Publication(timestamp=lambda d: d.update(note=2**53 + 1)).files(),
        _error("format"),
    )
    marker = "\ufffd"
    surrogate = Publication(timestamp=lambda d: d.update(note=marker)).files()
    yield Case(
        "lone_surrogate",
        "a string holding a lone surrogate (\\ud800), signed as a browser would encode it "
        "(U+FFFD): not Unicode text, refused",
        {
            **surrogate,
            "timestamp.json": surrogate["timestamp.json"].replace(marker.encode(), b"\\ud800"),
        },
        _error("format"),
    )
    yield Case(
        "byte_order_mark",
        "a UTF-8 byte order mark before the JSON",
        {**good, "timestamp.json": b"\xef\xbb\xbf" + ts_text},
        _error("format"),
    )
    yield Case(
        "not_utf8",
        "a byte that is not UTF-8 inside the JSON",
        {
            **good,
            "timestamp.json": ts_text.replace(b"certseal/timestamp", b"certseal/timest\xffmp"),
        },
        _error("format"),
    )
    yield Case(
        "truncated",
        "the timestamp cut short",
        {**good, "timestamp.json": ts_text[: len(ts_text) // 2]},
        _error("format"),
    )
    yield Case(
        "oversize_timestamp",
        "a genuine timestamp padded with spaces past 64 KiB: the reader stops reading",
        {**good, "timestamp.json": ts_text + b" " * (64 * 1024)},
        _error("format"),
    )

    # -- malformed entries, buckets and shards (all pinned, so signed in effect)
    def bad(n: int, name: str, why: str, change: Callable[[dict[str, Any]], object]) -> Case:
        return Case(name, why, _edit_entry(n, change).files(), _lookup_error(n, "format"))

    yield bad(
        0, "entry_unknown_state", "an entry whose state is 'gone'", lambda e: e.update(state="gone")
    )
    yield bad(
        2,
        "entry_superseded_without_successor",
        "a superseded entry naming no successor",
        lambda e: [e.pop(k) for k in ("successor", "superseded_at")],
    )
    yield bad(
        4,
        "entry_revoked_without_reason",
        "a revoked entry without a reason",
        lambda e: e.pop("reason"),
    )
    yield bad(
        0,
        "entry_active_with_reason",
        "an active entry carrying a revocation reason",
        lambda e: e.update(reason="other"),
    )
    yield bad(
        4,
        "entry_unknown_reason",
        "a reason code that is not one of the five",
        lambda e: e.update(reason="bored"),
    )
    yield bad(
        0,
        "entry_bad_time",
        "an issue date without a time",
        lambda e: e.update(issued_at="2095-12-20"),
    )
    yield bad(1, "entry_zero_limit", "a verification limit of 0", lambda e: e.update(limit=0))
    yield bad(
        0,
        "entry_bad_type",
        "a document type that is not a type code",
        lambda e: e.update(type="Diploma!"),
    )
    yield bad(
        2,
        "entry_log_count",
        "a superseded entry with one log leaf instead of two",
        lambda e: e.update(log=[2]),
    )
    yield bad(4, "entry_log_order", "log leaves out of order", lambda e: e.update(log=[6, 5]))
    yield bad(
        0,
        "entry_sig_not_hex",
        "a signature digest in upper-case hex",
        lambda e: e.update(sig=_sig(0).upper()),
    )
    yield bad(
        1,
        "entry_sig_not_string",
        "a signature digest given as a list of bytes",
        lambda e: e.update(sig=list(bytes.fromhex(_sig(1)))),
    )

    def unsorted(prefix: str, d: dict[str, Any]) -> None:
        if prefix == _shard_of(0):
            d["entries"] = d["entries"] * 2  # duplicated, so not strictly ascending

    yield Case(
        "shard_not_sorted",
        "a shard whose entries are not sorted and unique",
        Publication(shard=unsorted).files(),
        _lookup_error(0, "format"),
    )

    def stray(prefix: str, d: dict[str, Any]) -> None:
        if prefix == _shard_of(0):
            d["entries"] = d["entries"] + [{**ENTRIES[0].to_dict(), "sha256": "f" * 64}]

    yield Case(
        "shard_entry_elsewhere",
        "a shard holding an entry of another prefix",
        Publication(shard=stray).files(),
        _lookup_error(0, "format"),
    )

    def rename_bucket(prefix: str, d: dict[str, Any]) -> None:
        if prefix == ENTRIES[0].sha256[:BUCKET_LEN]:
            d["prefix"] = ABSENT["no_bucket"][:BUCKET_LEN]
            d["shards"] = {}

    yield Case(
        "bucket_for_another_prefix",
        "the pinned bucket is the one for another prefix",
        Publication(bucket=rename_bucket).files(),
        _lookup_error(0, "format"),
    )

    def shard_as_string(prefix: str, d: dict[str, Any]) -> None:
        if prefix == ENTRIES[0].sha256[:BUCKET_LEN]:
            d["shards"] = {k: 7 for k in d["shards"]}

    yield Case(
        "bucket_pin_not_hex",
        "a bucket pinning its shards by a number",
        Publication(bucket=shard_as_string).files(),
        _lookup_error(0, "format"),
    )


# -- writing and checking -------------------------------------------------------------------
def write(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest: dict[str, Any] = {
        "about": "Conformance vectors for status-list readers; see tests/vectors/generate.py. "
        "The keys are for tests only.",
        "trusted_keys": [
            {
                "keyid": key_id(KEY.public_key()),
                "spki": base64.b64encode(spki_der(KEY.public_key())).decode(),
            }
        ],
        "error_kinds": {
            "signature": "not signed by a trusted key, or the signature does not verify",
            "pin": "a file does not match the hash or length its signed parent pins",
            "rollback": "older than the publication the reader already trusts",
            "below_pin": "older than the operator's pinned minimum version or time",
            "expired": "the timestamp or the snapshot has expired",
            "version_mismatch": "the snapshot's version is not the timestamp's",
            "format": "not in the format (JSON, canonical JSON, fields, sizes)",
        },
        "cases": [],
    }
    names: set[str] = set()
    for case in cases():
        assert case.name not in names, case.name
        names.add(case.name)
        for rel, data in case.files.items():
            if not case.expect["ok"] and rel.startswith(("buckets/", "shards/")):
                continue  # refused before any lookup: a reader that goes on meets a 404
            path = out / case.name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        manifest["cases"].append(case.manifest())
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n", "utf-8"
    )


def differences(a: Path, b: Path) -> list[str]:
    """Paths that differ between two generated folders (empty when identical)."""
    out: list[str] = []
    cmp = filecmp.dircmp(a, b)
    stack = [(cmp, Path())]
    while stack:
        c, rel = stack.pop()
        out += [str(rel / n) for n in c.left_only + c.right_only + c.funny_files]
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        out += [str(rel / n) for n in mismatch + errors]
        stack += [(sub, rel / name) for name, sub in c.subdirs.items()]
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args(argv)
    if not args.check:
        write(OUT)
        print(f"wrote {OUT}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "statuslist"
        write(fresh)
        diff = differences(OUT, fresh)
    for path in diff:
        print(f"differs: {path}", file=sys.stderr)
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
