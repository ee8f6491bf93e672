"""The replay: every leaf of the log read once, in order, in bounded memory.

Two passes over compact data, never an object per leaf or per document for the whole log:

1. :meth:`Replay.add_bundle` takes the leaves bundle by bundle, as they are read. It checks
   what needs log order alone (each leaf canonical and numbered by its position, no event dated
   before the checkpoint published without it or before an earlier event, none after its own
   checkpoint), feeds the leaf hashes to :class:`StreamedTree`, and appends one fixed-width
   record per leaf (hash, position, event, type, time, detail) to one of 256 byte arrays,
   chosen by the document hash's first byte.
2. :meth:`Replay.fold` then takes those arrays one at a time: each holds every event of its
   documents, in log order, so the rules between events of one document (issued once, a
   revoked document never changes again, ...) are checked there, and the documents come out
   sorted by hash, shard by shard, as the status-list entries the log implies.

At 3,000,000 events the records take about 80 bytes each; the tree keeps a 256th of the hashes.
"""

from __future__ import annotations

import hashlib
import struct
from binascii import unhexlify
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from auditor.report import LeafFindings
from certseal.errors import DeserializationError, FormatError
from certseal.eventlog import (
    TILE_BYTES,
    TILE_WIDTH,
    TileCache,
    TiledTree,
    memory_tiles,
    scan_leaf,
    subtree_roots,
)
from certseal.statuslist import REASON_CODES, STATES, EntryRow
from certseal.tlog import HASH_SIZE

# sha256, leaf position, event, type code, time, detail, epoch. The detail is the limit (0 for
# none) of an issuance, the successor's slot of a supersession, the reason's code of a
# revocation; the epoch is how many of the counted sizes lie at or before the leaf.
_RECORD = struct.Struct("<32sQBI20sQI")
_EVENT_CODE = {"issued": 0, "superseded": 1, "revoked": 2}
_EVENTS = tuple(_EVENT_CODE)
_REASONS = tuple(REASON_CODES)
_REASON_CODE = {r.encode(): i for i, r in enumerate(_REASONS)}
_NEVER = 1 << 64  # beyond any leaf position
_ACTIVE, _SUPERSEDED, _REVOKED = 0, 1, 2
# A document during the fold: state, type code, issued at, limit, successor slot, superseded
# at, reason code, revoked at, leaf positions. A list, for the few thousand folded at a time.
_Doc = list[Any]


class StreamedTree:
    """The log's RFC 9162 tree, built tile by tile as the leaves stream past.

    Keeps the level above the leaves (one hash per 256) and the leaf hashes of only the tiles
    named in ``keep`` (where a checkpoint ends) and of a last partial tile: roots of every
    checkpoint and every upper tile come from those, through the same :class:`TiledTree` the
    verifiers use.
    """

    def __init__(self, keep: set[int]) -> None:
        self._keep = keep
        self._kept: dict[int, bytes] = {}
        self._level1 = bytearray()
        self.size = 0

    def add(self, index: int, hashes: bytes) -> None:
        """The leaf hashes of level-0 tile ``index``: in order, each tile full but the last."""
        width = len(hashes) // HASH_SIZE
        if index in self._keep or width < TILE_WIDTH:
            self._kept[index] = hashes
        if width == TILE_WIDTH:
            self._level1 += subtree_roots(hashes)
        self.size = index * TILE_WIDTH + width

    def levels(self) -> list[bytes]:
        """Every tile level from 1 up (index 0 is left empty: those tiles were compared as read)."""
        levels = [b"", bytes(self._level1)]
        while len(levels[-1]) >= TILE_BYTES:
            levels.append(subtree_roots(levels[-1]))
        return levels

    def tree(self) -> TiledTree:
        """The tree of every leaf added so far, for roots at any checkpoint size."""
        upper = memory_tiles(self.levels())

        def read(level: int, index: int, width: int) -> bytes:
            if level > 0:
                return upper(level, index, width)
            hashes = self._kept.get(index)
            if hashes is None or len(hashes) < width * HASH_SIZE:
                raise FormatError(f"the leaf hashes of tile {index} were not kept")
            return hashes[: width * HASH_SIZE]

        return TiledTree(self.size, TileCache(read))


class Replay:
    """The history rules and the status list the log implies, from one pass over its leaves.

    Args:
        bounds: (size, time) of every checkpoint, ascending: an event is dated no earlier than
            the checkpoint before it and no later than the first that holds it.
        counted: the sizes at which document counts are wanted (each snapshot's checkpoint).
        findings: where findings about leaves go, to be listed in log order.
    """

    def __init__(
        self, bounds: Sequence[tuple[int, str]], counted: Sequence[int], findings: LeafFindings
    ) -> None:
        self.findings = findings
        self.count = 0
        self._kinds = [0, 0, 0]
        self.documents = 0
        self.revoked: dict[str, int] = {}
        self.superseded: dict[str, int] = {}
        self._parts = [bytearray() for _ in range(256)]
        self._successors = bytearray()
        self._claims: list[list[tuple[bytes, int, bytes]]] = [[] for _ in range(256)]
        self._types: dict[bytes, int] = {}
        self._bounds = [(size, time.encode()) for size, time in bounds]
        self._next = 0  # the first checkpoint that holds the current leaf
        self._last = (b"", -1)  # time and position of the latest-dated leaf so far
        self._counted = sorted(set(counted))
        self._epoch = 0
        self._deltas = [[0, 0, 0] for _ in range(len(self._counted) + 1)]

    # -- pass 1: in log order ----------------------------------------------------------------
    def add_bundle(self, first: int, leaves: Sequence[bytes]) -> bytes:
        """Replay the leaves at positions ``first``, ``first + 1``, ...; return their hashes."""
        sha256 = hashlib.sha256
        hashes = b"".join([sha256(b"\x00" + leaf).digest() for leaf in leaves])
        add, parts, pack, types = self.findings.add, self._parts, _RECORD.pack, self._types
        kinds, bounds, counted = self._kinds, self._bounds, self._counted
        nxt, epoch, (last_at, last_i) = self._next, self._epoch, self._last
        # The checkpoints around the current leaf change rarely: kept in locals until they do.
        next_size, low, high = self._around(nxt)
        next_counted = counted[epoch] if epoch < len(counted) else _NEVER
        for i, leaf in enumerate(leaves, first):
            try:
                event, at, index, sha, doc_type, detail = scan_leaf(leaf)
            except DeserializationError as e:
                add(i, "log_entries", "malformed_leaf", f"leaf {i}: {e.en}")
                continue
            if int(index) != i:
                _numbering(add, i, int(index))
            kinds[event] += 1
            if i >= next_size:
                while nxt < len(bounds) and bounds[nxt][0] <= i:
                    nxt += 1
                next_size, low, high = self._around(nxt)
            if at < low or at > high or at < last_at:
                self._dates(i, event, sha, at, nxt, last_at, last_i)
            if at >= last_at:
                last_at, last_i = at, i
            if i >= next_counted:
                while epoch < len(counted) and counted[epoch] <= i:
                    epoch += 1
                next_counted = counted[epoch] if epoch < len(counted) else _NEVER
            raw = unhexlify(sha)
            code = types.get(doc_type)
            if code is None:
                code = types[doc_type] = len(types)
            if event == 0:
                number = 0 if detail == b"null" else int(detail)
            elif event == 1:
                number = len(self._successors) // HASH_SIZE
                slot = unhexlify(detail)
                self._successors += slot
                self._claims[slot[0]].append((slot, i, raw))
            else:
                number = _REASON_CODE[detail]
            parts[raw[0]] += pack(raw, i, event, code, at, number, epoch)
        self.count += len(leaves)
        self._next, self._epoch, self._last = nxt, epoch, (last_at, last_i)
        return hashes

    def _around(self, nxt: int) -> tuple[int, bytes, bytes]:
        """The size of the first checkpoint holding the current leaf, the time of the one
        before (no event may be dated earlier) and its own (none later)."""
        bounds = self._bounds
        return (
            bounds[nxt][0] if nxt < len(bounds) else _NEVER,
            bounds[nxt - 1][1] if nxt > 0 else b"",
            bounds[nxt][1] if nxt < len(bounds) else b"\xff",
        )

    def _dates(
        self, i: int, event: int, sha: bytes, at: bytes, nxt: int, last_at: bytes, last_i: int
    ) -> None:
        """Name a leaf dated out of order (the rare case, worded here)."""
        add, bounds = self.findings.add, self._bounds
        what = f"leaf {i} ({_EVENTS[event]} {sha.decode()}) is dated {at.decode()}"
        if nxt > 0 and at < bounds[nxt - 1][1]:
            size, time = bounds[nxt - 1]
            add(
                i,
                "event_history",
                "backdated_event",
                f"{what}, before checkpoint {size} ({time.decode()}) that was published without it",
            )
        if nxt < len(bounds) and at > bounds[nxt][1]:
            size, time = bounds[nxt]
            add(
                i,
                "event_history",
                "postdated_event",
                f"{what}, after checkpoint {size} ({time.decode()}) that holds it",
            )
        if at < last_at:
            add(
                i,
                "event_history",
                "backdated_event",
                f"{what}, before leaf {last_i} ({last_at.decode()}) recorded earlier",
            )

    # -- pass 2: document by document ------------------------------------------------------------
    def fold(
        self,
        findings: LeafFindings,
        at_size: int | None,
        prefix_len: int,
        remembered_revoked: Mapping[str, int],
        remembered_superseded: Mapping[str, int],
    ) -> Iterator[tuple[str, list[EntryRow]]]:
        """Check the rules between events of each document (into ``findings``); yield, shard
        by shard in prefix order, the entries the log's first ``at_size`` leaves imply (nothing
        if None).

        Also checks that each revocation and supersession remembered from an earlier audit is
        still in the log at the same leaf, and gathers this run's (:attr:`revoked`,
        :attr:`superseded`) and the counts (:meth:`counts_at`). The records are freed as
        they are folded: fold once.
        """
        add = findings.add
        types = [t.decode() for t in self._types]
        successors, deltas, claims = self._successors, self._deltas, self._claims
        rem_revoked = _by_first_byte(remembered_revoked)
        rem_superseded = _by_first_byte(remembered_superseded)
        shard: list[EntryRow] = []
        shard_prefix = ""
        for part in range(256):
            records, self._parts[part] = self._parts[part], bytearray()
            # A document issued once and never changed stays its record (a tuple); one with
            # more events becomes a list (_Doc). Most documents are the first kind.
            docs: dict[bytes, Any] = {}
            before: dict[bytes, Any] = {}  # as of at_size, for documents changed after it
            for rec in _RECORD.iter_unpack(records):
                sha, i, event, _code, at, detail, epoch = rec
                doc = docs.get(sha)
                if at_size is not None and i >= at_size and sha not in before:
                    before[sha] = doc if type(doc) is not list else [*doc[:8], list(doc[8])]
                if doc is None:
                    if event == 0:
                        docs[sha] = rec
                        deltas[epoch][_ACTIVE] += 1
                    else:
                        add(
                            i,
                            "event_history",
                            "unknown_document",
                            f"leaf {i} ({_EVENTS[event]} {sha.hex()}): no earlier leaf issues it",
                        )
                    continue
                if type(doc) is tuple:
                    doc = docs[sha] = [
                        _ACTIVE,
                        doc[3],
                        doc[4],
                        doc[5],
                        None,
                        None,
                        None,
                        None,
                        [doc[1]],
                    ]
                if event == 0:
                    rule = {_REVOKED: "revocation_undone", _SUPERSEDED: "supersession_undone"}
                    add(
                        i,
                        "event_history",
                        rule.get(doc[0], "duplicate_event"),
                        f"leaf {i} issues {sha.hex()} again; it was {STATES[doc[0]]} at leaf "
                        f"{doc[8][-1]}",
                    )
                elif doc[0] == _REVOKED:
                    add(
                        i,
                        "event_history",
                        "revocation_undone",
                        f"leaf {i} ({_EVENTS[event]} {sha.hex()}): the document was revoked at "
                        f"leaf {doc[8][-1]}",
                    )
                elif event == 1 and doc[4] is not None:
                    add(
                        i,
                        "event_history",
                        "supersession_undone",
                        f"leaf {i} supersedes {sha.hex()} again: it was superseded by "
                        f"{_slot(successors, doc[4])} at leaf {doc[8][1]}",
                    )
                else:
                    deltas[epoch][doc[0]] -= 1
                    if event == 1:
                        doc[0], doc[4], doc[5] = _SUPERSEDED, detail, at
                    else:
                        doc[0], doc[6], doc[7] = _REVOKED, detail, at
                    deltas[epoch][doc[0]] += 1
                    doc[8].append(i)
            del records
            for successor, i, sha in claims[part]:
                issued = docs.get(successor)
                if issued is None or _first_leaf(issued) > i:
                    add(
                        i,
                        "event_history",
                        "missing_successor",
                        f"leaf {i} supersedes {sha.hex()} by {successor.hex()}, which no earlier "
                        "leaf issues",
                    )
            claims[part] = []
            self._remember(findings, docs, rem_revoked.get(part, ()), rem_superseded.get(part, ()))
            self.documents += len(docs)
            if at_size is None:
                continue
            for sha in sorted(docs):
                doc = before[sha] if sha in before else docs[sha]
                if doc is None:
                    continue
                hex_sha = sha.hex()
                if hex_sha[:prefix_len] != shard_prefix:
                    if shard:
                        yield shard_prefix, shard
                    shard, shard_prefix = [], hex_sha[:prefix_len]
                if type(doc) is tuple:
                    shard.append(
                        (
                            hex_sha,
                            types[doc[3]],
                            doc[4].decode(),
                            doc[5] or None,
                            "active",
                            None,
                            None,
                            None,
                            None,
                            (doc[1],),
                        )
                    )
                    continue
                shard.append(
                    (
                        hex_sha,
                        types[doc[1]],
                        doc[2].decode(),
                        doc[3] or None,
                        STATES[doc[0]],
                        None if doc[4] is None else _slot(successors, doc[4]),
                        None if doc[5] is None else doc[5].decode(),
                        None if doc[6] is None else _REASONS[doc[6]],
                        None if doc[7] is None else doc[7].decode(),
                        doc[8],
                    )
                )
        if shard:
            yield shard_prefix, shard

    def _remember(
        self,
        findings: LeafFindings,
        docs: dict[bytes, Any],
        revoked: Sequence[tuple[bytes, int]],
        superseded: Sequence[tuple[bytes, int]],
    ) -> None:
        for sha, index in revoked:
            doc = _as_list(docs.get(sha))
            if doc is None or doc[0] != _REVOKED or doc[8][-1] != index:
                findings.add(
                    index,
                    "remembered",
                    "revocation_undone",
                    f"document {sha.hex()} was revoked at leaf {index} when last audited; the "
                    f"log now shows it {'absent' if doc is None else STATES[doc[0]]}",
                )
        for sha, index in superseded:
            doc = _as_list(docs.get(sha))
            if doc is None or doc[4] is None or index not in doc[8]:
                findings.add(
                    index,
                    "remembered",
                    "supersession_undone",
                    f"document {sha.hex()} was superseded at leaf {index} when last audited; "
                    f"the log now shows it {'absent' if doc is None else STATES[doc[0]]}",
                )
        for sha, doc in docs.items():
            if type(doc) is not list:
                continue
            if doc[0] == _REVOKED:
                self.revoked[sha.hex()] = doc[8][-1]
            if doc[4] is not None:
                self.superseded[sha.hex()] = doc[8][1]

    @property
    def kinds(self) -> dict[str, int]:
        """How many leaves of each event were replayed."""
        return dict(zip(_EVENTS, self._kinds, strict=True))

    def counts_at(self, size: int) -> dict[str, int]:
        """How many documents were in each state after the log's first ``size`` leaves; ``size``
        must be one of the sizes counted (or beyond every leaf: the final counts)."""
        upto = len(self._deltas) - 1
        if size in self._counted:
            upto = self._counted.index(size)
        totals = [0, 0, 0]
        for row in self._deltas[: upto + 1]:
            for state in range(3):
                totals[state] += row[state]
        return dict(zip(STATES, totals, strict=True))


def _numbering(add: Callable[[int, str, str, str], None], i: int, index: int) -> None:
    add(
        i,
        "log_entries",
        "missing_leaf" if index > i else "malformed_leaf",
        f"the leaf at position {i} is numbered {index}"
        + (f": leaves {i} to {index - 1} were removed" if index > i else ""),
    )


def _as_list(doc: Any) -> _Doc | None:
    """A document as a list, whichever form the fold keeps it in."""
    if type(doc) is tuple:
        return [_ACTIVE, doc[3], doc[4], doc[5], None, None, None, None, [doc[1]]]
    return doc  # type: ignore[no-any-return]


def _first_leaf(doc: Any) -> int:
    return int(doc[1]) if type(doc) is tuple else int(doc[8][0])


def _slot(successors: bytearray, slot: int) -> str:
    return successors[slot * HASH_SIZE : (slot + 1) * HASH_SIZE].hex()


def _by_first_byte(seen: Mapping[str, int]) -> dict[int, list[tuple[bytes, int]]]:
    out: dict[int, list[tuple[bytes, int]]] = {}
    for sha, index in seen.items():
        raw = bytes.fromhex(sha)
        out.setdefault(raw[0], []).append((raw, index))
    return out
