"""The verification engine without the service: for ``certseal verify`` on an evaluator's machine.

The same :class:`verifier.engine.Verifier` answers, against a published folder, the site's URL,
or a snapshot stored by :func:`fetch_snapshot` (then no network is needed). Two things differ
from the service, and the answers say so: verifications are not counted (only the service holds
the shared counts), and the status is as of the status list's time, which a snapshot freezes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from certseal.errors import ConfigurationError, SignatureVerificationError
from certseal.eventlog import (
    LOG_DIR,
    LogRef,
    PublishedLog,
    TileCache,
    TiledTree,
    fetched_tiles,
    tile_path,
    tile_width,
)
from certseal.fetch import Fetch, published_fetcher
from certseal.keyhistory import KeyHistory, ref_from_snapshot
from certseal.pki import ec_public_key
from certseal.statuslist import (
    Bucket,
    Seen,
    TrustedState,
    bucket_path,
    fetch_pinned,
    load_trusted,
    shard_path,
)
from certseal.timeutil import format_time
from verifier.engine import Limits, Verifier, build_verifier
from verifier.result import Check, Verification
from verifier.status import IssuerTrust
from verifier.store import NOTHING_SEEN, MemoryIndex, Store

INFO_FILE = "snapshot.json"


class MemoryStore(MemoryIndex, Store):
    """A store for one offline run: the trusted versions and the signature index in memory,
    and no counting at all."""

    def __init__(self) -> None:
        self._seen: dict[str, Seen] = {}

    def try_use(self, sha256: str, limit: int, used: int | None = None) -> tuple[bool, int]:
        return True, 0  # never recorded: :func:`not_counted` rewrites the check

    def used(self, sha256: str) -> int:
        return 0

    def seen(self, issuer: str) -> Seen:
        return self._seen.get(issuer, NOTHING_SEEN)

    def record_seen(self, issuer: str, version: int, issued_at: dt.datetime | None = None) -> Seen:
        old = self._seen.get(issuer, NOTHING_SEEN)
        if version > old.version:
            self._seen[issuer] = Seen(version, issued_at)
        return self._seen.get(issuer, old)


def offline_verifier(trust: IssuerTrust, limits: Limits | None = None) -> Verifier:
    """The service's engine over one issuer's published list, counting nothing."""
    return build_verifier([trust], MemoryStore(), limits or Limits(), refresh_seconds=1e9)


def not_counted(v: Verification) -> Verification:
    """The answer with its count check saying what happened: nothing was counted."""
    if v.verifications is None:
        return v
    checks = tuple(
        Check("verification_count", "skipped", "count_offline")
        if c.name == "verification_count"
        else c
        for c in v.checks
    )
    return dataclasses.replace(v, checks=checks, verifications=None)


@dataclass(frozen=True)
class SnapshotInfo:
    """What a stored snapshot holds (``snapshot.json``, for people; the files prove it)."""

    source: str
    fetched_at: str
    issuer: str
    version: int
    issued_at: str
    expires: str
    files: int
    log_size: int | None


def fetch_snapshot(source: str, trust: IssuerTrust, out: Path, now: dt.datetime) -> SnapshotInfo:
    """Copy an issuer's current status list, and the log tiles that prove it, into ``out``.

    Every file is checked as the verifier checks it before anything is written: the timestamp
    and snapshot signatures by the pinned status-list keys, every bucket and shard against the
    hash the signed snapshot pins, the log checkpoint's signature and the tiles against its
    root. The folder is then a published folder of its own: ``certseal verify --source`` reads
    it without a network, and re-checks everything again.

    Raises:
        ConfigurationError: ``out`` already holds files (nothing is overwritten).
        CertsealError: the published list or log does not verify, or cannot be fetched.
    """
    if out.exists() and any(out.iterdir()):
        raise ConfigurationError(
            f"{out} is not empty: a snapshot goes into a new folder",
            f"{out} 不是空的資料夾：快照須存入新的資料夾",
        )
    files: dict[str, bytes] = {}
    status = _recording(published_fetcher(source, "status"), files, "status/")
    state = load_trusted(status, trust.status_key, reference_time=now)
    for ref in state.snapshot.buckets.values():
        bucket = Bucket.from_bytes(fetch_pinned(status, bucket_path(ref), ref, "bucket"))
        for sref in bucket.shards.values():
            fetch_pinned(status, shard_path(sref), sref, "shard")
    pinned = ref_from_snapshot(state.snapshot.extra)
    if pinned is not None:  # the school's key history, which the verifier reads with the list
        KeyHistory.open(fetch_pinned(status, *pinned, "key history"), trust.status_key)
    log_size = _copy_log(source, state, trust, files)
    tmp = Path(
        tempfile.mkdtemp(prefix=".snapshot-", dir=out.parent if out.parent.exists() else None)
    )
    try:
        for path, data in files.items():
            target = tmp / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        info = SnapshotInfo(
            source=source,
            fetched_at=format_time(now),
            issuer=state.snapshot.issuer.code,
            version=state.version,
            issued_at=format_time(state.timestamp.issued_at),
            expires=format_time(state.expires),
            files=len(files),
            log_size=log_size,
        )
        (tmp / INFO_FILE).write_text(json.dumps(dataclasses.asdict(info), indent=2) + "\n")
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _recording(fetch: Fetch, into: dict[str, bytes], prefix: str) -> Fetch:
    def record(path: str, limit: int) -> bytes:
        data = fetch(path, limit)
        into[prefix + path] = data
        return data

    return record


def _copy_log(
    source: str, state: TrustedState, trust: IssuerTrust, files: dict[str, bytes]
) -> int | None:
    """The checkpoint the snapshot names and every tile of its tree, checked against its root."""
    ref = LogRef.from_snapshot(state.snapshot)
    if ref is None:
        return None
    fetch = _recording(published_fetcher(source, LOG_DIR), files, f"{LOG_DIR}/")
    keys = [ec_public_key(c) for c in trust.status_certs]
    cp = PublishedLog(fetch).open(ref.origin, keys, ref.size)
    if not ref.matches(cp):
        raise SignatureVerificationError(
            f"checkpoint {ref.size} is not the one the status list names",
            f"檢查點 {ref.size} 與狀態清單所指不同",
        )
    read = fetched_tiles(fetch)
    level = 0
    while ref.size >> (8 * level):
        count = ref.size >> (8 * level)
        for index in range((count + 255) // 256):
            width = tile_width(level, index, ref.size)
            data = read(level, index, width)
            files[f"{LOG_DIR}/{tile_path(level, index, width)}"] = data
        level += 1
    stored = {p.removeprefix(f"{LOG_DIR}/"): d for p, d in files.items() if p.startswith(LOG_DIR)}
    tree = TiledTree(ref.size, TileCache(fetched_tiles(lambda p, n: stored.get(p, b"")[:n])))
    if ref.size and tree.root() != ref.root:
        raise SignatureVerificationError(
            "the log's tiles do not add up to the root the status list names",
            "透明紀錄的雜湊區塊與狀態清單所指的根雜湊不符",
        )
    return ref.size


def read_snapshot_info(folder: Path) -> SnapshotInfo | None:
    """The description a snapshot folder carries, if it is one."""
    try:
        d = json.loads((folder / INFO_FILE).read_text("utf-8"))
        return SnapshotInfo(**d)
    except (OSError, ValueError, TypeError):
        return None
