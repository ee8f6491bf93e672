"""The authority's transparency log: every registry event is a leaf, each publish a checkpoint.

On publish the registry's events not yet logged are appended in ``seq`` order (so an event's
leaf index is its rank among all events), the tiles and entry bundles they complete are
written, and a checkpoint of the new tree is signed with the status-list key. Nothing already
published is ever rewritten: tiles and bundles are immutable, and a publish without new events
signs no new checkpoint (the status list keeps pointing to the last one).

Home layout (under the authority's home)::

    log/state.json   the commit point: origin, size, root, last logged seq, time, every size
    log/public/      the published ``log/`` tree, exactly as it is copied out on each publish

The format is :mod:`certseal.eventlog`'s; appending ``k`` events costs ``O(k + log n)``
hashes and reads at most one partial tile per level, whatever the size of the log.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from authority.registry import Registry
from certseal import tlog
from certseal.canonical import canonical_bytes
from certseal.errors import ConfigurationError, DeserializationError, InputError
from certseal.eventlog import (
    LISTING_PATH,
    TILE_BYTES,
    TILE_HEIGHT,
    TILE_WIDTH,
    TIME_PREFIX,
    LogEvent,
    LogRef,
    TileCache,
    TiledTree,
    bundle_path,
    checkpoint_path,
    consistency_path,
    decode_bundle,
    encode_bundle,
    fetched_tiles,
    listing_bytes,
    subtree_roots,
    tile_path,
)
from certseal.fetch import published_fetcher
from certseal.files import publish_tree, write_file, write_once
from certseal.timeutil import format_time, parse_time


def log_origin(verify_url: str) -> str:
    """The log's origin line: the site's address without scheme, plus ``/log`` (tlog-tiles)."""
    parts = urlsplit(verify_url)
    origin = f"{parts.netloc}{parts.path.rstrip('/')}/log"
    if not parts.netloc or "+" in origin or any(c.isspace() for c in origin):
        raise ConfigurationError(
            f"cannot name the transparency log after {verify_url!r}",
            f"無法以 {verify_url!r} 命名透明紀錄",
        )
    return origin


@dataclass(frozen=True)
class LogState:
    """What the log holds as of its last checkpoint."""

    ref: LogRef  # origin, size and root
    through_seq: int  # the last registry event logged
    time: str
    sizes: tuple[int, ...]  # every checkpoint signed, ascending

    @property
    def origin(self) -> str:
        return self.ref.origin

    @property
    def size(self) -> int:
        return self.ref.size

    @property
    def root(self) -> bytes:
        return self.ref.root

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.ref.to_dict(),
            "through_seq": self.through_seq,
            "time": self.time,
            "sizes": list(self.sizes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogState:
        return cls(LogRef.from_dict(d), d["through_seq"], d["time"], tuple(d["sizes"]))


class TransparencyLog:
    """The log in the authority's home. One writer at a time: the authority holds its lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.public = root / "public"

    def state(self) -> LogState | None:
        path = self.root / "state.json"
        if not path.exists():
            return None
        try:
            return LogState.from_dict(json.loads(path.read_text("utf-8")))
        except (ValueError, KeyError, TypeError, DeserializationError) as e:
            raise ConfigurationError(
                f"the transparency log's state {path} is damaged: {e}",
                f"透明紀錄狀態檔 {path} 已損壞",
            ) from None

    def update(
        self, registry: Registry, *, origin: str, now: dt.datetime, key: ec.EllipticCurvePrivateKey
    ) -> LogRef:
        """Log the registry's new events and sign a checkpoint if there were any."""
        state = self.state()
        size, through = (state.size, state.through_seq) if state else (0, 0)
        if registry.count_events(through) != size:
            raise ConfigurationError(
                f"the transparency log holds {size} events but the registry has "
                f"{registry.count_events(through)} up to event {through}: they must agree",
                "透明紀錄與登錄資料的事件數不一致",
            )
        rows = registry.log_events(after=through)
        events = [
            LogEvent(
                size + i,
                r.kind,
                r.sha256,
                r.doc_type,
                r.at,
                limit=r.limit if r.kind == "issued" else None,
                successor=r.successor_sha256,
                reason=r.reason_code,
            )
            for i, r in enumerate(rows)
        ]
        return self.append(
            events, through_seq=rows[-1].seq if rows else through, origin=origin, now=now, key=key
        )

    def append(
        self,
        events: Sequence[LogEvent],
        *,
        through_seq: int,
        origin: str,
        now: dt.datetime,
        key: ec.EllipticCurvePrivateKey,
    ) -> LogRef:
        """Append events (numbered from the current size on) and sign the new checkpoint.

        Without events, the last checkpoint stands and is returned; the first call signs one
        even for an empty log.
        """
        state = self.state()
        size = state.size if state else 0
        for i, ev in enumerate(events):
            if ev.index != size + i:
                raise ValueError(f"event {i} is numbered {ev.index}, not {size + i}")
        if state is not None and not events:
            return state.ref
        return self._extend(state, [ev.to_bytes() for ev in events], through_seq, origin, now, key)

    def _extend(
        self,
        state: LogState | None,
        leaves: Sequence[bytes],
        through_seq: int,
        origin: str,
        now: dt.datetime,
        key: ec.EllipticCurvePrivateKey,
    ) -> LogRef:
        old = state.size if state else 0
        origin = state.origin if state else origin
        if state is not None and now < parse_time(state.time):
            raise InputError(
                f"cannot sign a checkpoint dated {format_time(now)}, before the last one "
                f"({state.time}): check the clock",
                f"檢查點時間 {format_time(now)} 早於前一個（{state.time}），請檢查時鐘",
            )
        for rel, data in self._new_tiles(old, leaves).items():
            self._write(rel, data, replace=False)
        new = old + len(leaves)
        tree = TiledTree(new, TileCache(fetched_tiles(published_fetcher(str(self.root), "public"))))
        root = tree.root()
        if state is not None:
            # A damaged home copy must stop the publish, not reach the public.
            if tree.root(old) != state.root:
                raise ConfigurationError(
                    "the transparency log's tiles no longer match its last checkpoint",
                    "透明紀錄的雜湊圖塊與上一個檢查點不符",
                )
            if old and new > old:
                proof = tree.consistency_proof(old)
                tlog.verify_consistency(proof, state.root, root)
                self._write(consistency_path(old, new), canonical_bytes(proof.to_dict()))
        time = format_time(now)
        cp = tlog.Checkpoint(origin, new, root, (TIME_PREFIX + time,))
        note = tlog.sign_checkpoint(cp, origin, key).encode()
        sizes = (*(state.sizes if state else ()), new)
        # Files above the committed size may be left by an interrupted publish: replaced here.
        self._write(checkpoint_path(new), note)
        self._write(LISTING_PATH, listing_bytes(origin, sizes))
        self._write(checkpoint_path(), note)
        committed = LogState(LogRef.for_checkpoint(cp), through_seq, time, sizes)
        write_file(self.root / "state.json", json.dumps(committed.to_dict()).encode())
        return committed.ref

    def _new_tiles(self, old: int, leaves: Sequence[bytes]) -> dict[str, bytes]:
        """The bundles and tiles that appending ``leaves`` to a tree of ``old`` creates."""
        read = fetched_tiles(published_fetcher(str(self.root), "public"))
        files: dict[str, bytes] = {}
        if not leaves:
            return files
        first = old // TILE_WIDTH
        kept = old % TILE_WIDTH
        run = list(leaves)
        if kept:
            previous = decode_bundle((self.public / bundle_path(first, kept)).read_bytes())
            run = previous + run
        for at in range(0, len(run), TILE_WIDTH):
            chunk = run[at : at + TILE_WIDTH]
            files[bundle_path(first + at // TILE_WIDTH, len(chunk))] = encode_bundle(chunk)
        fresh = b"".join(tlog.leaf_hash(leaf) for leaf in leaves)
        level, count = 0, old
        while fresh:
            first, kept = divmod(count, TILE_WIDTH)
            hashes = (read(level, first, kept) if kept else b"") + fresh
            for at in range(0, len(hashes), TILE_BYTES):
                tile = hashes[at : at + TILE_BYTES]
                files[tile_path(level, first + at // TILE_BYTES, len(tile) // 32)] = tile
            fresh = subtree_roots(hashes)  # the tiles this run completed, one level up
            level, count = level + 1, count >> TILE_HEIGHT
        return files

    def _write(self, rel: str, data: bytes, *, replace: bool = True) -> None:
        (write_file if replace else write_once)(self.public / rel, data)

    def publish(self, out_dir: Path) -> int:
        """Copy the log into ``out_dir/log``: files it lacks, then the mutable ones, the latest
        checkpoint last. Returns how many files were written."""
        return publish_tree(self.public, out_dir / "log", (LISTING_PATH, checkpoint_path()))
