"""The authority's transparency log: every registry event is a leaf, each publish a checkpoint.

On publish the registry's events not yet logged are appended in ``seq`` order (so an event's
leaf index is its rank among all events), the tiles and entry bundles they complete are
written, and a checkpoint of the new tree is signed with the status-list key. Nothing already
published is ever rewritten: tiles and bundles are immutable, and a publish without new events
signs no new checkpoint (the status list keeps pointing to the last one).

Home layout (under the authority's home)::

    log/state.json   the commit point: origin, size, root, last logged seq, time, every size
    log/public/      the published ``log/`` tree, exactly as it is copied out on each publish

The format is :mod:`certseal.eventlog`'s and the folder is written by
:class:`certseal.logfolder.LogFolder`, as the trust list's log is: appending ``k`` events costs
``O(k + log n)`` hashes and reads at most one partial tile per level, whatever the size of the
log. What is the authority's own: its leaves come from the registry, and ``state.json`` also
records the last registry event logged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from authority.registry import Registry
from certseal.errors import ConfigurationError, DeserializationError
from certseal.eventlog import LOG_DIR, LogEvent, LogRef
from certseal.files import write_file
from certseal.logfolder import LogFolder, LogHead, numbered_leaves


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
class LogState(LogHead):
    """What the log holds as of its last checkpoint, and the last registry event logged."""

    through_seq: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if type(self.through_seq) is not int or self.through_seq < 0:
            raise DeserializationError("the last registry event logged must be a number")

    def to_dict(self) -> dict[str, Any]:
        # The reference first, then the registry's mark, then the head's time and sizes: the
        # order state.json has always had (the reference's keys are not repeated).
        return {**self.ref.to_dict(), "through_seq": self.through_seq, **super().to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LogState:
        head = LogHead.from_dict(d)
        return cls(head.checkpoint, head.sizes, d["through_seq"])


class TransparencyLog:
    """The log in the authority's home. One writer at a time: the authority holds its lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.public = root / "public"
        self.folder = LogFolder(self.public)

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
        leaves = numbered_leaves(events, state.size if state else 0)
        if state is not None and not leaves:
            return state.ref
        return self._extend(state, leaves, through_seq, origin, now, key)

    def _extend(
        self,
        state: LogState | None,
        leaves: Sequence[bytes],
        through_seq: int,
        origin: str,
        now: dt.datetime,
        key: ec.EllipticCurvePrivateKey,
    ) -> LogRef:
        head = self.folder.extend(state, leaves, origin=origin, now=now, key=key)
        # The commit point moves last: files above it are replaced by the next append.
        committed = LogState(head.checkpoint, head.sizes, through_seq)
        write_file(self.root / "state.json", json.dumps(committed.to_dict()).encode())
        return committed.ref

    def publish(self, out_dir: Path) -> int:
        """Copy the log into ``out_dir/log``: files it lacks, then the mutable ones, the latest
        checkpoint last. Returns how many files were written."""
        return self.folder.publish(out_dir / LOG_DIR)
