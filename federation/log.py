"""The trust list's transparency log: every change the operator publishes is a leaf.

The tree, proofs and checkpoints are :mod:`certseal.tlog`'s and the published layout is
:mod:`certseal.eventlog`'s (C2SP tlog-tiles), so auditors read it with the same
:class:`certseal.eventlog.PublishedLog`; only the leaves differ (:class:`TrustEvent`). The log
holds a few events per school, so each append rebuilds the tiles from all leaves and writes
those not yet there; tiles already published must come out identical.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from certseal import tlog
from certseal.canonical import canonical_bytes
from certseal.errors import ConfigurationError
from certseal.eventlog import (
    LISTING_PATH,
    TILE_BYTES,
    TILE_WIDTH,
    TIME_PREFIX,
    bundle_path,
    checkpoint_path,
    consistency_path,
    encode_bundle,
    listing_bytes,
    parse_listing,
    subtree_roots,
    tile_path,
)
from certseal.files import write_file, write_once
from certseal.timeutil import format_time
from certseal.trustlist import TrustEvent

LEAVES = "leaves.jsonl"


class TrustLog:
    """The log kept in ``home`` (its leaves) and laid out for publication in ``public``."""

    def __init__(self, home: Path, public: Path) -> None:
        self.home = home
        self.public = public

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
        """Append ``events`` (numbered from ``size`` on) and sign a checkpoint of the new tree."""
        if not events:
            raise ValueError("a checkpoint is signed only over new events")
        old = self.leaves(size)
        for i, ev in enumerate(events):
            if ev.index != size + i:
                raise ValueError(f"event {i} is numbered {ev.index}, not {size + i}")
        leaves = old + [ev.to_bytes() for ev in events]
        write_file(self.home / LEAVES, b"".join(leaf + b"\n" for leaf in leaves))
        hashes = b"".join(tlog.leaf_hash(leaf) for leaf in leaves)
        for at in range(0, len(leaves), TILE_WIDTH):
            chunk = leaves[at : at + TILE_WIDTH]
            write_once(
                self.public / bundle_path(at // TILE_WIDTH, len(chunk)), encode_bundle(chunk)
            )
        level, level_hashes = 0, hashes
        while level_hashes:
            for at in range(0, len(level_hashes), TILE_BYTES):
                tile = level_hashes[at : at + TILE_BYTES]
                rel = tile_path(level, at // TILE_BYTES, len(tile) // tlog.HASH_SIZE)
                write_once(self.public / rel, tile)
            level, level_hashes = level + 1, subtree_roots(level_hashes)
        tree = tlog.MerkleTree(hashes)
        new = tree.size
        if 0 < size < new:
            proof = tree.consistency_proof(size)
            write_once(self.public / consistency_path(size, new), canonical_bytes(proof.to_dict()))
        cp = tlog.Checkpoint(origin, new, tree.root(), (TIME_PREFIX + format_time(now),))
        note = tlog.sign_checkpoint(cp, origin, key).encode()
        listing = self.public / LISTING_PATH
        sizes = parse_listing(listing.read_bytes()) if listing.exists() else []
        sizes = [s for s in sizes if s < new] + [new]
        write_file(self.public / checkpoint_path(new), note)
        write_file(listing, listing_bytes(origin, sizes))
        write_file(self.public / checkpoint_path(), note)
        return cp
