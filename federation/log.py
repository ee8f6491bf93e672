"""The trust list's transparency log: every change the operator publishes is a leaf.

The tree, proofs and checkpoints are :mod:`certseal.tlog`'s, the published layout is
:mod:`certseal.eventlog`'s (C2SP tlog-tiles) and the folder is written by
:class:`certseal.logfolder.LogFolder`, exactly as a school's log is, so auditors read it with the
same :class:`certseal.eventlog.PublishedLog`; only the leaves differ (:class:`TrustEvent`).

The operator's ``state.json`` is the commit point and keeps only the log's size; the home keeps
every leaf (``leaves.jsonl``, one canonical JSON line each) for the operator to replay, and the
last committed checkpoint is read back from the published folder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from certseal import tlog
from certseal.errors import ConfigurationError
from certseal.files import write_file
from certseal.logfolder import LogFolder, numbered_leaves
from certseal.trustlist import TrustEvent

LEAVES = "leaves.jsonl"


class TrustLog:
    """The log kept in ``home`` (its leaves) and laid out for publication in ``public``."""

    def __init__(self, home: Path, public: Path) -> None:
        self.home = home
        self.public = public
        self.folder = LogFolder(public, ("the trust-list log", "信任清單紀錄"))

    def leaves(self, size: int) -> list[bytes]:
        """The first ``size`` leaves (the committed ones; later lines were never published)."""
        path = self.home / LEAVES
        lines = path.read_bytes().splitlines() if path.exists() else []
        if len(lines) < size:
            raise ConfigurationError(
                f"the trust-list log holds {len(lines)} leaves, fewer than the {size} published",
                "信任清單紀錄的筆數少於已公布的筆數",
            )
        return lines[:size]

    def events(self, size: int) -> list[TrustEvent]:
        return [TrustEvent.from_bytes(leaf) for leaf in self.leaves(size)]

    def append(
        self,
        size: int,
        events: Sequence[TrustEvent],
        *,
        origin: str,
        now: dt.datetime,
        key: ec.EllipticCurvePrivateKey,
    ) -> tlog.Checkpoint:
        """Append ``events`` (numbered from ``size`` on) and sign a checkpoint of the new tree.

        Raises:
            ConfigurationError: the home's leaves or the published tiles are not those the
                last checkpoint signed.
            InputError: ``now`` is before the last checkpoint's time.
        """
        if not events:
            raise ValueError("a checkpoint is signed only over new events")
        old = self.leaves(size)
        new = numbered_leaves(events, size)
        head = self.folder.head(size) if size else None
        # The leaves are replayed from this file, not from the tiles: it must be what was signed.
        if head is not None and tlog.merkle_root(b"".join(map(tlog.leaf_hash, old))) != head.root:
            raise ConfigurationError(
                f"the trust-list log's leaves in {self.home / LEAVES} are not those its last "
                "checkpoint signed",
                "信任清單紀錄的葉節點與上一個檢查點不符",
            )
        write_file(self.home / LEAVES, b"".join(leaf + b"\n" for leaf in old + new))
        return self.folder.extend(head, new, origin=origin, now=now, key=key).checkpoint
