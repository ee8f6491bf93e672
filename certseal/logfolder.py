"""Writing a published transparency log folder: one writer for every log we keep.

The authority's log of document events and the trust list's log of federation changes differ
only in their leaves; both are laid out as :mod:`certseal.eventlog` describes (C2SP tlog-tiles)
and written here. An append writes the entry bundles and tiles its leaves complete, reading at
most the one partial tile per level they extend (``O(k + log n)`` hashes for ``k`` leaves onto
``n``), checks that the tiles still give the last checkpoint's root, writes the consistency
proof from it, then signs the new checkpoint and writes ``checkpoints/<size>``, the listing and
``checkpoint``, in that order, so a reader following the newest pointer finds what it names.

Crash safety: tiles and bundles are written once and never change (the same bytes again are a
no-op, other bytes stop the append). Which :class:`LogHead` is current is the caller's commit
point (the authority's ``log/state.json``, the operator's ``state.json``), moved only after
:meth:`LogFolder.extend` returns: a checkpoint, proof or listing an interrupted append left above
it is replaced by the next append.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from certseal import tlog
from certseal.canonical import canonical_bytes
from certseal.errors import CertsealError, ConfigurationError, DeserializationError, InputError
from certseal.eventlog import (
    LISTING_PATH,
    TILE_BYTES,
    TILE_HEIGHT,
    TILE_WIDTH,
    TIME_PREFIX,
    LogRef,
    ReadTile,
    TileCache,
    TiledTree,
    bundle_path,
    checkpoint_path,
    checkpoint_time,
    consistency_path,
    decode_bundle,
    encode_bundle,
    fetched_tiles,
    listing_bytes,
    parse_listing,
    subtree_roots,
    tile_path,
)
from certseal.fetch import published_fetcher
from certseal.files import publish_tree, write_file, write_once
from certseal.timeutil import format_time, parse_time

MUTABLE = (LISTING_PATH, checkpoint_path())
"""The only files of a log folder that change, in the order a copy writes them: the latest
checkpoint last, after the listing that names it."""


@dataclass(frozen=True)
class LogHead:
    """Where a log stands: its last signed checkpoint and the size of every checkpoint signed."""

    checkpoint: tlog.Checkpoint
    sizes: tuple[int, ...]  # ascending, the checkpoint's own last

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes)
        object.__setattr__(self, "sizes", sizes)
        if (
            not sizes
            or not all(type(s) is int and s >= 0 for s in sizes)
            or any(b <= a for a, b in itertools.pairwise(sizes))
            or sizes[-1] != self.checkpoint.size
        ):
            raise DeserializationError(
                f"a log's checkpoint sizes must ascend to its last checkpoint's "
                f"({self.checkpoint.size}), not {list(sizes)}"
            )
        if checkpoint_time(self.checkpoint) is None:
            raise DeserializationError("a log's checkpoint must carry the time it was signed")

    @property
    def ref(self) -> LogRef:
        return LogRef.for_checkpoint(self.checkpoint)

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root_hash

    @property
    def time(self) -> str:
        """When the last checkpoint was signed (RFC 3339 UTC); the next may not be earlier."""
        return checkpoint_time(self.checkpoint) or ""  # never empty: checked on construction

    def to_dict(self) -> dict[str, Any]:
        return {**self.ref.to_dict(), "time": self.time, "sizes": list(self.sizes)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LogHead:
        """Parse the form of :meth:`to_dict` (other keys are the caller's and left alone).

        Raises:
            DeserializationError: malformed.
        """
        ref = LogRef.from_dict(d)
        time, sizes = d.get("time"), d.get("sizes")
        if not isinstance(time, str) or not isinstance(sizes, list):
            raise DeserializationError("a log head needs its time and the sizes signed")
        cp = tlog.Checkpoint(ref.origin, ref.size, ref.root, (TIME_PREFIX + time,))
        return cls(cp, tuple(sizes))


def numbered_leaves(events: Iterable[Any], size: int) -> list[bytes]:
    """The leaves of ``events`` (each with ``index`` and ``to_bytes()``), which must be numbered
    on from ``size``: a leaf's index is its position in the log.

    Raises:
        ValueError: an event carries another index (a caller's bug, not bad input).
    """
    leaves = []
    for i, ev in enumerate(events):
        if ev.index != size + i:
            raise ValueError(f"event {i} is numbered {ev.index}, not {size + i}")
        leaves.append(ev.to_bytes())
    return leaves


class LogFolder:
    """A log's published folder as its one writer keeps it (the caller holds the lock).

    ``what`` names the log in messages, in English and Traditional Chinese.
    """

    def __init__(
        self, public: Path, what: tuple[str, str] = ("the transparency log", "透明紀錄")
    ) -> None:
        self.public = public
        self.what = what

    def head(self, size: int) -> LogHead:
        """The head committed at ``size``, read back from the folder: its ``checkpoints/<size>``
        and the listed sizes up to it, for a caller whose commit point keeps only the size.

        Raises:
            ConfigurationError: that checkpoint or the listing is missing or damaged.
        """
        en, zh = self.what
        try:
            note = (self.public / checkpoint_path(size)).read_bytes().decode("utf-8")
            cp = tlog.Checkpoint.from_text(note[: note.rindex("\n\n") + 1])
            listed = parse_listing((self.public / LISTING_PATH).read_bytes())
            return LogHead(cp, tuple(s for s in listed if s <= size))
        except (OSError, ValueError, CertsealError) as e:
            raise ConfigurationError(
                f"{en}'s checkpoint {size} or its listing in {self.public} is missing or "
                f"damaged: {e}",
                f"{zh}的檢查點 {size} 或其清單遺失或損壞",
            ) from None

    def extend(
        self,
        head: LogHead | None,
        leaves: Sequence[bytes],
        *,
        origin: str,
        now: dt.datetime,
        key: ec.EllipticCurvePrivateKey,
    ) -> LogHead:
        """Append ``leaves`` to the tree of ``head`` (None: an empty log never signed) and sign
        a checkpoint of the new tree, dated ``now``; returns the new head for the caller to
        commit. ``origin`` names a new log; an existing one keeps its own.

        Raises:
            InputError: ``now`` is before the last checkpoint's time.
            ConfigurationError: the folder's tiles no longer give ``head``'s root, or a tile or
                bundle to write is already there with other bytes.
        """
        en, zh = self.what
        old = head.size if head else 0
        origin = head.origin if head else origin
        if head is not None and now < parse_time(head.time):
            raise InputError(
                f"cannot sign a checkpoint dated {format_time(now)}, before the last one "
                f"({head.time}): check the clock",
                f"檢查點時間 {format_time(now)} 早於前一個（{head.time}），請檢查時鐘",
            )
        read = fetched_tiles(published_fetcher(str(self.public), "."))
        for rel, data in self._new_files(old, leaves, read).items():
            write_once(self.public / rel, data)
        new = old + len(leaves)
        tree = TiledTree(new, TileCache(read))
        root = tree.root()
        if head is not None:
            # A damaged home copy must stop the append, not reach the public.
            if tree.root(old) != head.root:
                raise ConfigurationError(
                    f"{en}'s tiles no longer match its last checkpoint",
                    f"{zh}的雜湊圖塊與上一個檢查點不符",
                )
            if old and new > old:
                proof = tree.consistency_proof(old)
                tlog.verify_consistency(proof, head.root, root)
                write_file(
                    self.public / consistency_path(old, new), canonical_bytes(proof.to_dict())
                )
        cp = tlog.Checkpoint(origin, new, root, (TIME_PREFIX + format_time(now),))
        note = tlog.sign_checkpoint(cp, origin, key).encode()
        sizes = (*(head.sizes if head else ()), new)
        write_file(self.public / checkpoint_path(new), note)
        write_file(self.public / LISTING_PATH, listing_bytes(origin, sizes))
        write_file(self.public / checkpoint_path(), note)
        return LogHead(cp, sizes)

    def _new_files(self, old: int, leaves: Sequence[bytes], read: ReadTile) -> dict[str, bytes]:
        """The bundles and tiles that appending ``leaves`` to a tree of ``old`` creates."""
        files: dict[str, bytes] = {}
        if not leaves:
            return files
        first, kept = divmod(old, TILE_WIDTH)
        run = list(leaves)
        if kept:
            run = decode_bundle((self.public / bundle_path(first, kept)).read_bytes()) + run
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

    def publish(self, target: Path) -> int:
        """Copy the folder into ``target``: files it lacks, then the mutable ones, the latest
        checkpoint last. Returns how many files were written."""
        return publish_tree(self.public, target, MUTABLE)
