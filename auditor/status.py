"""The status-list side of an audit: the current publication, every earlier snapshot still
published, every file they pin, and the list against what the log implies.

Read with :mod:`certseal.statuslist`, the module the authority writes with and the verifier
reads with; shards are compared as bytes of its own serializer (:func:`shard_bytes`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from auditor.context import Context, prefetch
from certseal.errors import CertsealError, DeserializationError, FetchError, RollbackError
from certseal.eventlog import LogRef
from certseal.fetch import Fetch
from certseal.pki import key_id
from certseal.statuslist import (
    MAX_BYTES,
    Bucket,
    Entry,
    EntryRow,
    FileRef,
    Shard,
    Snapshot,
    TrustedState,
    bucket_path,
    fetch_pinned,
    load_trusted,
    open_envelope,
    sha256_hex,
    shard_bytes,
    shard_path,
    snapshot_path,
)
from certseal.timeutil import format_time

CHECK = "status_list"
COMPARE = "status_vs_log"
MAX_DIFFED_SHARDS = 64
"""Shards diffed document by document; beyond, a differing shard is named as a whole (a list
rewritten from end to end must not cost an Entry model per document)."""


@dataclass(frozen=True)
class OlderSnapshot:
    """An earlier snapshot still published: its version, file hash, and the checkpoint and
    counts it signed."""

    version: int
    sha256: str
    snapshot: Snapshot
    log: LogRef | None


@dataclass(frozen=True)
class StatusList:
    """The publication the audit trusts, and every earlier snapshot found beside it."""

    trusted: TrustedState
    log: LogRef | None
    older: tuple[OlderSnapshot, ...]

    @property
    def snapshot_hashes(self) -> dict[int, str]:
        """Every snapshot seen, by version: what the state file remembers."""
        out = {s.version: s.sha256 for s in self.older}
        out[self.trusted.version] = self.trusted.timestamp.snapshot.sha256
        return out


def status_list(ctx: Context, key: ec.EllipticCurvePublicKey) -> StatusList | None:
    """The current status list and the checkpoint it names, then every earlier snapshot."""
    record = ctx.record
    kid = key_id(key)
    seen = ctx.state.status_version if ctx.state else 0
    fetch = ctx.fetcher("status")
    try:
        trusted = load_trusted(
            fetch,
            lambda k: key if k == kid else None,
            reference_time=ctx.now,
            last_seen_version=seen,
            allow_expired=True,
        )
    except RollbackError as e:
        record.flag(CHECK, "rollback", e.en)
    except FetchError as e:
        record.flag(CHECK, "unavailable", e.en)
    except CertsealError as e:
        record.flag(CHECK, "status_list_invalid", e.en)
    else:
        ts = trusted.timestamp
        record.facts["status_list"] = (
            f"version {trusted.version}, issued {format_time(ts.issued_at)}, "
            f"expires {format_time(ts.expires)}"
        )
        if ts.is_expired(ctx.now):
            record.warn(
                f"the status list expired at {format_time(ts.expires)}: verifiers report "
                "states as of its issue date until the school publishes again"
            )
        remembered = ctx.state.snapshots.get(trusted.version) if ctx.state else None
        if remembered is not None and remembered != ts.snapshot.sha256:
            record.flag(
                CHECK,
                "snapshot_changed",
                f"snapshot {trusted.version} has hash {ts.snapshot.sha256} now and had "
                f"{remembered} when seen before: one version, two contents",
            )
        older = _older(ctx, fetch, key, trusted.version)
        found = StatusList(trusted, _log_ref(ctx, trusted.snapshot), older)
        record.done(
            CHECK,
            f"version {trusted.version}, signed by the status-list key; "
            f"{len(found.older)} earlier snapshot(s) still published",
        )
        return found
    record.done(CHECK, "")
    return None


def _log_ref(ctx: Context, snapshot: Snapshot) -> LogRef | None:
    try:
        ref = LogRef.from_snapshot(snapshot)
    except DeserializationError as e:
        ctx.record.flag(CHECK, "status_list_invalid", f"snapshot {snapshot.version}: {e.en}")
        return None
    if ref is None:
        ctx.record.flag(
            CHECK,
            "log_missing",
            f"snapshot version {snapshot.version} names no transparency-log checkpoint",
        )
    return ref


def _older(
    ctx: Context, fetch: Fetch, key: ec.EllipticCurvePublicKey, current: int
) -> tuple[OlderSnapshot, ...]:
    """Every earlier version still published. Nothing published is ever deleted, so from the
    earliest version found up, none may be missing; none remembered may be missing or changed.
    """
    record = ctx.record
    kid = key_id(key)
    remembered = dict(ctx.state.snapshots) if ctx.state else {}

    def read(version: int) -> bytes:
        return fetch(snapshot_path(version), MAX_BYTES["snapshot"] + 1)

    found: list[OlderSnapshot] = []
    missing: dict[int, str] = {}
    for version, data in prefetch(read, range(1, current), ctx.workers):
        path = f"status/{snapshot_path(version)}"
        if isinstance(data, CertsealError):
            missing[version] = data.en
            continue
        digest = sha256_hex(data)
        if version in remembered and remembered[version] != digest:
            record.flag(
                CHECK,
                "snapshot_changed",
                f"{path} has hash {digest} now and had {remembered[version]} when seen before",
            )
        try:
            snap = Snapshot.from_signed(
                open_envelope(data, "snapshot", lambda k: key if k == kid else None)
            )
            if snap.version != version:
                raise DeserializationError(f"it holds version {snap.version}")
            ref = LogRef.from_snapshot(snap)
        except CertsealError as e:
            record.flag(CHECK, "status_list_invalid", f"{path}: {e.en}")
            continue
        found.append(OlderSnapshot(version, digest, snap, ref))
    first = min((s.version for s in found), default=current)
    for version, why in sorted(missing.items()):
        if version in remembered:
            record.flag(
                CHECK,
                "snapshot_missing",
                f"status/{snapshot_path(version)} was seen before (hash {remembered[version]}) "
                f"and is gone: {why}",
            )
        elif version > first:
            record.flag(
                CHECK,
                "snapshot_missing",
                f"status/{snapshot_path(version)} is gone, though version {first} before it "
                f"and version {current} are published: {why}",
            )
    for a, b in itertools.pairwise(found):
        if b.snapshot.issued_at < a.snapshot.issued_at:
            record.flag(
                CHECK,
                "status_list_invalid",
                f"snapshot {b.version} is dated {format_time(b.snapshot.issued_at)}, before "
                f"snapshot {a.version} ({format_time(a.snapshot.issued_at)})",
            )
    return tuple(found)


# --- every pinned file, and the list against the log -------------------------------------------


def compare_with_log(
    ctx: Context,
    found: StatusList,
    implied: Iterator[tuple[str, list[EntryRow]]],
    counts: Callable[[], Mapping[str, int]],
) -> None:
    """Every bucket and shard the snapshots pin is published and is the pinned file; every shard
    of the current snapshot is, byte for byte, the one the log implies (``implied``: shard
    prefix and entries, in prefix order); the signed counts are the log's (``counts()``, called
    once ``implied`` is exhausted)."""
    record = ctx.record
    snap = found.trusted.snapshot
    fetch = ctx.fetcher("status")
    pins = dict(_bucket_pins(ctx, fetch, snap.buckets.items(), snap.shard_prefix_len))
    fetched = prefetch(
        lambda p: fetch_pinned(fetch, shard_path(pins[p]), pins[p], "shard"),
        sorted(pins),
        ctx.workers,
    )
    diffed = 0

    def compare(prefix: str, rows: list[EntryRow], data: bytes | CertsealError | None) -> None:
        nonlocal diffed
        sigs = listed_sigs(data) if isinstance(data, bytes) else None
        expected = shard_bytes(prefix, rows, sigs) if rows else None
        pin = pins.get(prefix)
        if isinstance(data, CertsealError):
            record.flag(
                COMPARE, "shard_tampered", f"shard {prefix} ({pin and shard_path(pin)}): {data.en}"
            )
            if pin is not None and (expected is None or sha256_hex(expected) != pin.sha256):
                record.flag(
                    COMPARE,
                    "status_mismatch",
                    f"shard {prefix}: the signed snapshot pins {pin.sha256}, the log implies "
                    f"{'no shard' if expected is None else sha256_hex(expected)}",
                )
            return
        if data == expected:
            return
        diffed += 1
        if diffed > MAX_DIFFED_SHARDS:
            record.flag(COMPARE, "status_mismatch", f"shard {prefix} is not what the log implies")
            return
        _diff(ctx, prefix, expected, data)

    pending = next(fetched, None)
    for prefix, rows in implied:
        while pending is not None and pending[0] < prefix:
            compare(pending[0], [], pending[1])
            pending = next(fetched, None)
        if pending is not None and pending[0] == prefix:
            compare(prefix, rows, pending[1])
            pending = next(fetched, None)
        else:
            compare(prefix, rows, None)
    while pending is not None:
        compare(pending[0], [], pending[1])
        pending = next(fetched, None)
    log_counts = dict(counts())
    if dict(snap.counts) != log_counts:
        record.flag(
            COMPARE,
            "status_mismatch",
            f"snapshot {snap.version} counts {dict(snap.counts)}; the log says {log_counts}",
        )
    _older_pins(ctx, fetch, found, set(pins.values()))


_LISTED_SIG = re.compile(rb'"sha256":"([0-9a-f]{64})","sig":"([0-9a-f]{64})"')


def listed_sigs(shard: bytes) -> dict[str, str]:
    """The signature digests a listed shard gives its entries (``Entry.sig``), by hash.

    The log records no signature digest, so the shard the log implies takes the listed one:
    everything else in the entry is still checked against the log, byte for byte. A digest
    that is not 64 lower-case hex digits is not taken, so the shard differs and is named.
    """
    if b'"sig":' not in shard:
        return {}
    return {sha.decode(): sig.decode() for sha, sig in _LISTED_SIG.findall(shard)}


def _diff(ctx: Context, prefix: str, expected: bytes | None, data: bytes | None) -> None:
    """Name every document on which a shard and the log disagree."""
    try:
        theirs = Shard.from_bytes(data) if data is not None else Shard(prefix, ())
    except CertsealError as e:
        ctx.record.flag(COMPARE, "status_list_invalid", f"shard {prefix}: {e.en}")
        return
    mine = {e.sha256: e for e in Shard.from_bytes(expected).entries} if expected else {}
    have = {e.sha256: e for e in theirs.entries}
    found = False
    for sha in sorted(set(mine) | set(have)):
        w, h = mine.get(sha), have.get(sha)
        if w == h:
            continue
        found = True
        ctx.record.flag(COMPARE, "status_mismatch", _difference(sha, w, h))
    if not found:
        ctx.record.flag(COMPARE, "status_mismatch", f"shard {prefix} is not in canonical form")


def _difference(sha: str, log: Entry | None, listed: Entry | None) -> str:
    if listed is None:
        return f"document {sha} is in the log but not in the status list"
    if log is None:
        return f"document {sha} is listed ({listed.state}) but the log never issued it"
    fields = [k for k, v in log.to_dict().items() if listed.to_dict().get(k) != v]
    return (
        f"document {sha}: the status list says {listed.state}, the log says {log.state} "
        f"(differs in {', '.join(fields)})"
    )


def _bucket_pins(
    ctx: Context, fetch: Fetch, buckets: Iterable[tuple[str, FileRef]], shard_prefix_len: int
) -> list[tuple[str, FileRef]]:
    """The shard pins of these buckets, each bucket read as the file its snapshot pins."""
    out: list[tuple[str, FileRef]] = []
    for (prefix, ref), data in prefetch(
        lambda item: fetch_pinned(fetch, bucket_path(item[1]), item[1], "bucket"),
        sorted(buckets),
        ctx.workers,
    ):
        where = f"bucket {prefix} ({bucket_path(ref)})"
        if isinstance(data, CertsealError):
            ctx.record.flag(COMPARE, "shard_tampered", f"{where}: {data.en}")
            continue
        try:
            bucket = Bucket.from_bytes(data)
        except CertsealError as e:
            ctx.record.flag(CHECK, "status_list_invalid", f"{where}: {e.en}")
            continue
        if bucket.prefix != prefix or bucket.to_bytes() != data:
            ctx.record.flag(
                CHECK, "status_list_invalid", f"{where} is not the canonical bucket {prefix}"
            )
        for shard, pin in sorted(bucket.shards.items()):
            if len(shard) != shard_prefix_len:
                ctx.record.flag(
                    CHECK, "status_list_invalid", f"{where} names shard {shard} of another length"
                )
            out.append((shard, pin))
    return out


def _older_pins(ctx: Context, fetch: Fetch, found: StatusList, checked: set[FileRef]) -> None:
    """The buckets and shards of earlier snapshots are still published, unchanged (each file
    once, however many snapshots pin it)."""
    seen = set(found.trusted.snapshot.buckets.values())
    shards: dict[FileRef, str] = {}
    for older in found.older:
        fresh = [(p, r) for p, r in older.snapshot.buckets.items() if r not in seen]
        seen.update(r for _, r in fresh)
        for prefix, ref in _bucket_pins(ctx, fetch, fresh, older.snapshot.shard_prefix_len):
            if ref not in checked:
                shards.setdefault(ref, f"shard {prefix} of snapshot {older.version}")
    for ref, data in prefetch(
        lambda r: fetch_pinned(fetch, shard_path(r), r, "shard"), list(shards), ctx.workers
    ):
        if isinstance(data, CertsealError):
            ctx.record.flag(COMPARE, "shard_tampered", f"{shards[ref]}: {data.en}")
