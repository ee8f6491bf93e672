"""The status-list format: round trip, signatures, pinning, rollback, expiry, mix-and-match."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certseal.errors import (
    BelowPinError,
    DeserializationError,
    ExpiredError,
    HashMismatchError,
    RollbackError,
    SignatureVerificationError,
    VersionMismatchError,
)
from certseal.pki import key_id
from certseal.statuslist import (
    BuiltList,
    Entry,
    FileRef,
    Issuer,
    Pin,
    Seen,
    Timestamp,
    TrustedSet,
    build_publication,
    build_shards,
    load_trusted,
    lookup,
    renew_timestamp,
    sha256_hex,
    sign_envelope,
    update_publication,
)

T0 = dt.datetime(2026, 6, 22, tzinfo=dt.UTC)
ISSUER = Issuer("DEMO", "國立示範大學", "National Demonstration University")


def h(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def entries(n: int) -> list[Entry]:
    out = []
    for i in range(n):
        if i % 10 == 1:
            out.append(
                Entry(
                    h(i),
                    "diploma_zh",
                    "2026-06-20T00:00:00Z",
                    None,
                    "superseded",
                    successor=h(i + 1000),
                    superseded_at="2026-06-21T00:00:00Z",
                )
            )
        elif i % 10 == 2:
            out.append(
                Entry(
                    h(i),
                    "transcript",
                    "2026-06-20T00:00:00Z",
                    3,
                    "revoked",
                    reason_code="degree_revoked",
                    revoked_at="2026-06-21T00:00:00Z",
                )
            )
        else:
            out.append(Entry(h(i), "diploma_zh", "2026-06-20T00:00:00Z", None, "active"))
    return out


def publish(key: ec.EllipticCurvePrivateKey, version: int, n: int = 500, **kw: object) -> BuiltList:
    return build_publication(
        build_shards(entries(n), 4),
        issuer=ISSUER,
        version=version,
        issued_at=T0 + dt.timedelta(days=version),
        expires=T0 + dt.timedelta(days=version + 7),
        key=key,
        **kw,  # type: ignore[arg-type]
    )


def fetcher(files: dict[str, bytes]) -> Callable[[str, int], bytes]:
    def fetch(path: str, limit: int) -> bytes:
        return files[path][:limit]

    return fetch


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def keys_of(key: ec.EllipticCurvePrivateKey) -> Callable[[str], ec.EllipticCurvePublicKey | None]:
    pub = key.public_key()
    return lambda kid: pub if kid == key_id(pub) else None


def test_round_trip_every_entry(key: ec.EllipticCurvePrivateKey) -> None:
    built = publish(key, 1)
    state = load_trusted(
        fetcher(dict(built.files)), keys_of(key), reference_time=T0 + dt.timedelta(days=2)
    )
    assert state.version == 1
    assert state.snapshot.counts == {"active": 400, "superseded": 50, "revoked": 50}
    for e in entries(500):
        assert lookup(state, e.sha256, fetcher(dict(built.files))) == e
    assert lookup(state, h(10_000), fetcher(dict(built.files))) is None


def test_published_entry_round_trips_as_json() -> None:
    e = entries(3)[2]
    assert Entry.from_dict(json.loads(json.dumps(e.to_dict()))) == e


def test_wrong_key_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    built = publish(other, 1)
    with pytest.raises(SignatureVerificationError, match="not signed by a trusted"):
        load_trusted(fetcher(dict(built.files)), keys_of(key), reference_time=T0)


def test_tampered_snapshot_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    built = publish(key, 1)
    files = dict(built.files)
    files["snapshot/1.json"] = files["snapshot/1.json"].replace(b'"revoked":50', b'"revoked":0')
    with pytest.raises(SignatureVerificationError):
        load_trusted(fetcher(files), keys_of(key), reference_time=T0 + dt.timedelta(days=2))


def test_tampered_timestamp_signature_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    built = publish(key, 1)
    files = dict(built.files)
    doc = json.loads(files["timestamp.json"])
    doc["signed"]["expires"] = "2099-01-01T00:00:00Z"
    files["timestamp.json"] = json.dumps(doc).encode()
    with pytest.raises(SignatureVerificationError, match="does not match"):
        load_trusted(fetcher(files), keys_of(key), reference_time=T0)


def test_shard_swapped_for_another_versions_shard_is_refused(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    """Mix-and-match: an old shard served under a new snapshot does not match its pinned hash."""
    old = publish(key, 1, n=500)
    changed_entries = entries(500)
    revoked = Entry(
        h(3),
        "diploma_zh",
        "2026-06-20T00:00:00Z",
        None,
        "revoked",
        reason_code="other",
        revoked_at="2026-06-23T00:00:00Z",
    )
    changed_entries[3] = revoked
    new = build_publication(
        build_shards(changed_entries, 4),
        issuer=ISSUER,
        version=2,
        issued_at=T0 + dt.timedelta(days=2),
        expires=T0 + dt.timedelta(days=9),
        key=key,
    )
    added = [p for p in new.files if p.startswith("shards/") and p not in old.files]
    dropped = [p for p in old.files if p.startswith("shards/") and p not in new.files]
    assert len(added) == len(dropped) == 1
    files = dict(new.files)
    files[added[0]] = old.files[dropped[0]]  # the host serves the old shard (document active)
    state = load_trusted(fetcher(files), keys_of(key), reference_time=T0 + dt.timedelta(days=3))
    with pytest.raises(SignatureVerificationError, match="does not match the hash"):
        lookup(state, h(3), fetcher(files))
    assert lookup(state, h(3), fetcher(dict(new.files))) == revoked


def test_rollback_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    old = publish(key, 3)
    with pytest.raises(RollbackError, match="older than version 4"):
        load_trusted(fetcher(dict(old.files)), keys_of(key), reference_time=T0, last_seen_version=4)


def test_expired_list_is_refused_unless_allowed(key: ec.EllipticCurvePrivateKey) -> None:
    built = publish(key, 1)
    late = T0 + dt.timedelta(days=9)
    with pytest.raises(ExpiredError, match="expired"):
        load_trusted(fetcher(dict(built.files)), keys_of(key), reference_time=late)
    state = load_trusted(
        fetcher(dict(built.files)), keys_of(key), reference_time=late, allow_expired=True
    )
    assert state.timestamp.is_expired(late)


def test_oversized_file_is_cut_and_refused(key: ec.EllipticCurvePrivateKey) -> None:
    built = publish(key, 1)
    files = dict(built.files)
    files["timestamp.json"] = b"{" + b" " * (1 << 20)
    with pytest.raises(DeserializationError):
        load_trusted(fetcher(files), keys_of(key), reference_time=T0)


@pytest.mark.parametrize(
    "bad",
    [
        {
            "sha256": "xyz",
            "type": "diploma_zh",
            "issued_at": "2026-06-20T00:00:00Z",
            "limit": None,
            "state": "active",
        },
        {
            "sha256": h(1),
            "type": "diploma_zh",
            "issued_at": "2026-06-20",
            "limit": None,
            "state": "active",
        },
        {
            "sha256": h(1),
            "type": "diploma_zh",
            "issued_at": "2026-06-20T00:00:00Z",
            "limit": 0,
            "state": "active",
        },
        {
            "sha256": h(1),
            "type": "diploma_zh",
            "issued_at": "2026-06-20T00:00:00Z",
            "limit": None,
            "state": "gone",
        },
        {
            "sha256": h(1),
            "type": "diploma_zh",
            "issued_at": "2026-06-20T00:00:00Z",
            "limit": None,
            "state": "superseded",
        },
        {
            "sha256": h(1),
            "type": "diploma_zh",
            "issued_at": "2026-06-20T00:00:00Z",
            "limit": None,
            "state": "revoked",
        },
        {
            "sha256": h(1),
            "type": "diploma_zh",
            "issued_at": "2026-06-20T00:00:00Z",
            "limit": None,
            "state": "active",
            "reason": "other",
        },
    ],
    ids=[
        "bad-hash",
        "bad-time",
        "zero-limit",
        "bad-state",
        "superseded-without-successor",
        "revoked-without-reason",
        "active-with-reason",
    ],
)
def test_malformed_entries_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(DeserializationError):
        Entry.from_dict(bad)


def test_unchanged_shards_are_reused_across_versions(key: ec.EllipticCurvePrivateKey) -> None:
    a = publish(key, 1, n=2000)
    b = publish(key, 2, n=2001)
    new_shards = [p for p in b.files if p.startswith("shards/") and p not in a.files]
    assert len(new_shards) == 1


def test_published_files_stay_small_for_one_lookup(
    key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    built = publish(key, 1, n=5000)
    biggest = max(len(v) for p, v in built.files.items() if p.startswith(("shards/", "buckets/")))
    assert biggest < 64 * 1024


def test_update_publication_equals_a_full_rebuild(key: ec.EllipticCurvePrivateKey) -> None:
    """Rebuilding only the touched shards gives exactly the files a full rebuild gives."""
    old_entries = entries(3000)
    first = build_publication(
        build_shards(old_entries, 4),
        issuer=ISSUER,
        version=1,
        issued_at=T0,
        expires=T0 + dt.timedelta(days=7),
        key=key,
    )
    changed = [
        Entry(
            h(5),
            "diploma_zh",
            "2026-06-20T00:00:00Z",
            None,
            "revoked",
            reason_code="other",
            revoked_at="2026-06-23T00:00:00Z",
        ),
        Entry(h(99_999), "transcript", "2026-06-23T00:00:00Z", 3, "active"),
    ]
    after = {e.sha256: e for e in old_entries} | {e.sha256: e for e in changed}
    when: dict[str, Any] = {
        "issued_at": T0 + dt.timedelta(days=1),
        "expires": T0 + dt.timedelta(days=8),
    }
    full = build_publication(
        build_shards(after.values(), 4), issuer=ISSUER, version=2, key=key, **when
    )
    inc = update_publication(
        first.snapshot, fetcher(dict(first.files)), changed, version=2, key=key, **when
    )
    assert inc.snapshot.buckets == full.snapshot.buckets
    assert (
        inc.snapshot.counts
        == full.snapshot.counts
        == {"active": 2400, "superseded": 300, "revoked": 301}
    )
    assert set(inc.files) - {"timestamp.json", "snapshot/2.json"} <= set(full.files)
    assert len([p for p in inc.files if p.startswith("shards/")]) == 2


# -- the trust object ----------------------------------------------------------------------
def _trust(key: ec.EllipticCurvePrivateKey, when: dt.datetime, **kw: object) -> TrustedSet:
    return TrustedSet(keys_of(key), reference_time=when, **kw)  # type: ignore[arg-type]


def test_trusted_set_checks_each_file_against_what_it_trusts(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    built = publish(key, 2)
    trust = _trust(key, T0 + dt.timedelta(days=3))
    with pytest.raises(RuntimeError, match="timestamp before the snapshot"):
        trust.update_snapshot(built.files["snapshot/2.json"])
    ts = trust.update_timestamp(built.files["timestamp.json"])
    with pytest.raises(HashMismatchError, match="does not match the hash"):
        trust.update_snapshot(built.files["snapshot/2.json"] + b" ")
    trust.update_snapshot(built.files["snapshot/2.json"])
    assert trust.state.version == ts.version == 2


def test_snapshot_of_another_version_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    """A timestamp (signed) that pins a snapshot whose own version differs: mix and match."""
    v2, v3 = publish(key, 2), publish(key, 3)
    snap3 = v3.files["snapshot/3.json"]
    ts = Timestamp(
        2, T0, T0 + dt.timedelta(days=9), "snapshot/2.json", FileRef(sha256_hex(snap3), len(snap3))
    )
    files = dict(v2.files) | {
        "timestamp.json": sign_envelope(ts.to_signed(), key),
        "snapshot/2.json": snap3,
    }
    with pytest.raises(VersionMismatchError, match="snapshot is version 3"):
        load_trusted(fetcher(files), keys_of(key), reference_time=T0 + dt.timedelta(days=3))


def test_operator_pin_holds_on_first_use(key: ec.EllipticCurvePrivateKey) -> None:
    built = publish(key, 2)  # issued T0 + 2 days
    when = T0 + dt.timedelta(days=3)
    with pytest.raises(BelowPinError, match="below the minimum version 3"):
        load_trusted(fetcher(dict(built.files)), keys_of(key), reference_time=when, pin=Pin(3))
    late = Pin(not_before=T0 + dt.timedelta(days=2, seconds=1))
    with pytest.raises(BelowPinError, match="before 2026-06-24T00:00:01Z"):
        load_trusted(fetcher(dict(built.files)), keys_of(key), reference_time=when, pin=late)
    ok = Pin(2, T0 + dt.timedelta(days=2))
    assert load_trusted(fetcher(dict(built.files)), keys_of(key), reference_time=when, pin=ok)
    assert Pin.from_dict(ok.to_dict()) == ok


def test_short_timestamp_expires_before_the_snapshot(key: ec.EllipticCurvePrivateKey) -> None:
    built = publish(key, 1, timestamp_expires=T0 + dt.timedelta(days=1, hours=6))
    assert built.snapshot.expires == T0 + dt.timedelta(days=8)
    files = fetcher(dict(built.files))
    late = T0 + dt.timedelta(days=1, hours=7)
    with pytest.raises(ExpiredError, match="timestamp expired at 2026-06-23T06:00:00Z"):
        load_trusted(files, keys_of(key), reference_time=late)
    state = load_trusted(files, keys_of(key), reference_time=late, allow_expired=True)
    assert state.is_expired(late) and state.expires == T0 + dt.timedelta(days=1, hours=6)


def test_renewed_timestamp_keeps_version_and_orders_by_time(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    """TUF gives the timestamp its own version; here (version, issued_at) orders timestamps,
    and the authority only renews with a later issue time."""
    built = publish(key, 1, timestamp_expires=T0 + dt.timedelta(days=1, hours=6))
    later = T0 + dt.timedelta(days=1, hours=5)
    renewed, data = renew_timestamp(
        built.timestamp,
        built.snapshot,
        issued_at=later,
        expires=later + dt.timedelta(hours=6),
        key=key,
    )
    assert (renewed.version, renewed.snapshot) == (1, built.timestamp.snapshot)
    new_files = dict(built.files) | {"timestamp.json": data}
    when = T0 + dt.timedelta(days=1, hours=7)  # the first timestamp has expired, not this one
    state = load_trusted(fetcher(new_files), keys_of(key), reference_time=when)
    assert state.timestamp.issued_at == later and not state.is_expired(when)
    # Once the renewed one is trusted, the first one (same version, earlier) is a rollback.
    with pytest.raises(RollbackError, match="before the one already seen"):
        load_trusted(
            fetcher(dict(built.files)),
            keys_of(key),
            reference_time=T0 + dt.timedelta(days=1),
            seen=Seen.of(state),
        )
    with pytest.raises(RollbackError, match="must be issued after"):
        renew_timestamp(renewed, built.snapshot, issued_at=later, expires=when, key=key)
    with pytest.raises(ExpiredError, match="publish in full"):
        renew_timestamp(
            renewed, built.snapshot, issued_at=T0 + dt.timedelta(days=9), expires=when, key=key
        )
    capped, _ = renew_timestamp(
        renewed,
        built.snapshot,
        issued_at=T0 + dt.timedelta(days=7, hours=20),
        expires=T0 + dt.timedelta(days=8, hours=2),
        key=key,
    )
    assert capped.expires == built.snapshot.expires


def test_previous_snapshot_is_kept_while_the_timestamp_pins_it(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    """A verifier polling a renewed timestamp does not download the same snapshot again."""
    built = publish(key, 1)
    first = load_trusted(fetcher(dict(built.files)), keys_of(key), reference_time=T0)
    later = T0 + dt.timedelta(days=1, hours=1)
    _, data = renew_timestamp(
        built.timestamp,
        built.snapshot,
        issued_at=later,
        expires=later + dt.timedelta(hours=6),
        key=key,
    )
    asked: list[str] = []

    def only_timestamp(path: str, limit: int) -> bytes:
        asked.append(path)
        return data

    state = load_trusted(only_timestamp, keys_of(key), reference_time=later, previous=first)
    assert asked == ["timestamp.json"] and state.snapshot is first.snapshot
    assert state.timestamp.issued_at == later


def test_integers_beyond_what_a_browser_holds_are_refused(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    built = publish(key, 1)
    doc = json.loads(built.files["timestamp.json"])
    doc["signed"]["extra"] = 2**53 + 1
    files = dict(built.files) | {"timestamp.json": json.dumps(doc).encode()}
    with pytest.raises(DeserializationError, match="beyond"):
        load_trusted(fetcher(files), keys_of(key), reference_time=T0)
