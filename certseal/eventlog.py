"""The published transparency log of document events: leaves, layout, tiles, proofs, reading.

The authority writes its log with this module; the verifier and the auditor read it with the
same code. ``docs/transparency.md`` describes the format for third parties; the Merkle tree,
proofs and checkpoints themselves are :mod:`certseal.tlog` (RFC 9162, C2SP tlog-checkpoint).

Every registry event -- a document issued, superseded or revoked -- is one leaf: the canonical
JSON of :class:`LogEvent`, with hashes, dates, types and reason codes, never a name. Under
``log/`` in the published folder (C2SP tlog-tiles, https://c2sp.org/tlog-tiles)::

    checkpoint                      the latest signed checkpoint (mutable)
    checkpoints/<size>              every checkpoint ever signed, never rewritten
    checkpoints.json                the sizes of those checkpoints, ascending (a listing)
    consistency/<old>-<new>.json    RFC 9162 consistency proof from each checkpoint to the next
    tile/<L>/<N>[.p/<W>]            hash tiles: 256 hashes of level-8L tree nodes each
    tile/entries/<N>[.p/<W>]        entry bundles: the leaves, uint16-length-prefixed

Tiles and bundles never change once written, so clients cache them by path. Any inclusion or
consistency proof is computed from a few tiles (:class:`TiledTree`): for 3,000,000 leaves a
proof needs three tiles on its path plus the right edge's partial tiles, never the whole log.

The signed snapshot of the status list binds the two: its ``log`` field (:class:`LogRef`) names
the checkpoint whose tree holds every event the list reflects, and each shard entry lists the
leaf indexes of its document's events (``Entry.log_indexes``), from which a client rebuilds
the leaves (:func:`entry_events`) and checks their inclusion against the signed root.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from certseal import tlog
from certseal.canonical import canonical_bytes, load_json_object
from certseal.errors import (
    CertsealError,
    DeserializationError,
    FetchError,
    FormatError,
    SignatureVerificationError,
)
from certseal.statuslist import REASON_CODES, Entry, Fetch, Snapshot
from certseal.timeutil import parse_time

LOG_DIR = "log"
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
TILE_BYTES = TILE_WIDTH * tlog.HASH_SIZE
EVENTS = ("issued", "superseded", "revoked")
MAX_LEAF_BYTES = 1024
TIME_PREFIX = "time "
"""The checkpoint extension line that carries its signing time: ``time <RFC 3339 UTC>``."""

# The most a client reads of each file, to bound what a hostile host can make it do.
MAX_BYTES = {
    "checkpoint": 16 * 1024,
    "listing": 8 << 20,
    "proof": 16 * 1024,
    "tile": TILE_BYTES,
    "bundle": TILE_WIDTH * (2 + MAX_LEAF_BYTES),
    "certificate": 64 * 1024,
}

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DOC_TYPE = re.compile(r"[a-z][a-z0-9_]{1,40}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
# The canonical bytes of a leaf, one pattern per event: keys sorted, no white space. Matching
# one both parses a leaf and proves it canonical, several times faster than json.loads and a
# re-dump. The event name always starts at byte 38, after the fixed-width time.
_LEAF_HEAD = rb'\{"at":"(?P<at>[^"]{20})","event":"'
_INDEX = rb'"index":(?P<index>0|[1-9][0-9]{0,19}),'
_TAIL = rb'"sha256":"(?P<sha256>[0-9a-f]{64})"'
_TYPE = rb',"type":"(?P<type>[a-z][a-z0-9_]{1,40})"\}'
_LEAF_PATTERNS = {
    ord("i"): re.compile(
        _LEAF_HEAD + b'issued",' + _INDEX + rb'"limit":(?P<limit>null|[1-9][0-9]{0,18}),'
        + _TAIL + _TYPE
    ),
    ord("s"): re.compile(
        _LEAF_HEAD + b'superseded",' + _INDEX + _TAIL
        + rb',"successor":"(?P<successor>[0-9a-f]{64})"' + _TYPE
    ),
    ord("r"): re.compile(
        _LEAF_HEAD + b'revoked",' + _INDEX + rb'"reason":"(?P<reason>[a-z_]{1,40})",'
        + _TAIL + _TYPE
    ),
}  # fmt: skip
_EVENT_AT = 38
_ISSUED, _SUPERSEDED = ord("i"), ord("s")
_KIND_KEY = {"issued": "limit", "superseded": "successor", "revoked": "reason"}


# --- leaves --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 16)
def _valid_time(text: str) -> bool:
    # Batches share their times, so the cache spares most of strptime's cost.
    if not _TIME.fullmatch(text):
        return False
    try:
        parse_time(text)
    except DeserializationError:
        return False
    return True


@dataclass(frozen=True)
class LogEvent:
    """One leaf: an event of one document, as the public may see it (no personal data).

    ``limit`` belongs to ``issued`` (the verification limit, or None for none), ``successor``
    (the new version's SHA-256) to ``superseded``, ``reason`` (a reason code) to ``revoked``.
    """

    index: int
    event: str
    sha256: str
    doc_type: str
    at: str
    limit: int | None = None
    successor: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if type(self.index) is not int or not 0 <= self.index <= tlog.MAX_TREE_SIZE:
            raise DeserializationError("leaf index must be an integer from 0 to 2**64-1")
        if self.event not in EVENTS:
            raise DeserializationError(f"leaf event {self.event!r} is not one of {EVENTS}")
        if not isinstance(self.sha256, str) or not _HEX64.fullmatch(self.sha256):
            raise DeserializationError("leaf sha256 must be 64 lower-case hex digits")
        if not isinstance(self.doc_type, str) or not _DOC_TYPE.fullmatch(self.doc_type):
            raise DeserializationError("leaf type is not a document type code")
        if not isinstance(self.at, str) or not _valid_time(self.at):
            raise DeserializationError(f"leaf time {self.at!r} is not an RFC 3339 UTC time")
        if self.event != "issued" and self.limit is not None:
            raise DeserializationError("only an issued leaf carries a limit")
        if self.limit is not None and (type(self.limit) is not int or self.limit < 1):
            raise DeserializationError("leaf limit must be a positive integer or null")
        if (self.event == "superseded") != (self.successor is not None):
            raise DeserializationError("a superseded leaf, and only it, names a successor")
        if self.successor is not None and (
            not isinstance(self.successor, str)
            or not _HEX64.fullmatch(self.successor)
            or self.successor == self.sha256
        ):
            raise DeserializationError("leaf successor must be another document's SHA-256")
        if (self.event == "revoked") != (self.reason is not None):
            raise DeserializationError("a revoked leaf, and only it, carries a reason code")
        if self.reason is not None and self.reason not in REASON_CODES:
            raise DeserializationError(f"unknown reason code {self.reason!r}")

    def to_dict(self) -> dict[str, Any]:
        extra = {"issued": self.limit, "superseded": self.successor, "revoked": self.reason}
        return {
            "index": self.index,
            "event": self.event,
            "sha256": self.sha256,
            "type": self.doc_type,
            "at": self.at,
            _KIND_KEY[self.event]: extra[self.event],
        }

    def to_bytes(self) -> bytes:
        """The leaf: canonical JSON, the bytes hashed into the tree."""
        return canonical_bytes(self.to_dict())

    @property
    def leaf_hash(self) -> bytes:
        return tlog.leaf_hash(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> LogEvent:
        """Parse a leaf; it must be exactly the canonical bytes of a valid event.

        Raises:
            DeserializationError: not JSON, another shape, or JSON that is not canonical.
        """
        return cls(*parse_leaf(data))


LeafFields = tuple[int, str, str, str, str, int | None, str | None, str | None]
"""A leaf's fields in :class:`LogEvent`'s order: index, event, sha256, type, at, limit,
successor, reason."""


def parse_leaf(data: bytes) -> LeafFields:
    """The fields of a leaf, validated exactly as :class:`LogEvent` validates them.

    For readers of millions of leaves (the auditor), which need the fields, not the object.

    Raises:
        DeserializationError: not the canonical bytes of a valid event.
    """
    pattern = _LEAF_PATTERNS.get(data[_EVENT_AT]) if len(data) > _EVENT_AT else None
    m = None if pattern is None else pattern.fullmatch(data)
    if m is None:
        raise DeserializationError(_leaf_problem(data))
    g = m.groupdict()
    limit, successor, reason = g.get("limit"), g.get("successor"), g.get("reason")
    fields: LeafFields = (
        int(g["index"]),
        "issued" if limit is not None else "superseded" if successor is not None else "revoked",
        g["sha256"].decode(),
        g["type"].decode(),
        g["at"].decode(),
        None if limit is None or limit == b"null" else int(limit),
        None if successor is None else successor.decode(),
        None if reason is None else reason.decode(),
    )
    # The pattern fixed every shape; what it cannot see, the model checks and words.
    if (
        not _valid_time(fields[4])
        or fields[0] > tlog.MAX_TREE_SIZE
        or fields[6] == fields[2]
        or (fields[7] is not None and fields[7] not in REASON_CODES)
    ):
        LogEvent(*fields)
    return fields


RawLeaf = tuple[int, bytes, bytes, bytes, bytes, bytes]
"""A leaf's fields as bytes, for a reader of millions (the auditor): event (an index into
:data:`EVENTS`), at, index, sha256 (hex), type, then the limit (``null`` or digits), the
successor (hex) or the reason, by event."""

_REASON_BYTES = frozenset(r.encode() for r in REASON_CODES)


@functools.lru_cache(maxsize=1 << 16)
def _valid_time_bytes(text: bytes) -> bool:
    return _valid_time(text.decode("ascii", "replace"))


def scan_leaf(data: bytes) -> RawLeaf:
    """The fields of a leaf as bytes, validated exactly as :func:`parse_leaf` validates them,
    without decoding or building anything a reader that packs them does not need.

    Raises:
        DeserializationError: not the canonical bytes of a valid event (the same error as
            :func:`parse_leaf`'s).
    """
    event = data[_EVENT_AT] if len(data) > _EVENT_AT else 0
    pattern = _LEAF_PATTERNS.get(event)
    m = None if pattern is None else pattern.fullmatch(data)
    if m is None:
        raise DeserializationError(_leaf_problem(data))
    if event == _ISSUED:
        at, index, detail, sha, doc_type = m.groups()
        kind = 0
    elif event == _SUPERSEDED:
        at, index, sha, detail, doc_type = m.groups()
        kind = 1
    else:
        at, index, detail, sha, doc_type = m.groups()
        kind = 2
    if (
        not _valid_time_bytes(at)
        or (len(index) == 20 and int(index) > tlog.MAX_TREE_SIZE)
        or (kind == 1 and detail == sha)
        or (kind == 2 and detail not in _REASON_BYTES)
    ):
        parse_leaf(data)  # raises the model's own words
    return kind, at, index, sha, doc_type, detail


def _leaf_problem(data: bytes) -> str:
    """Why a leaf does not match the canonical pattern, for the report."""
    if len(data) > MAX_LEAF_BYTES:
        return f"leaf is {len(data)} bytes, more than {MAX_LEAF_BYTES}"
    d = load_json_object(data, "leaf")
    event = d.get("event")
    if event not in EVENTS:
        return f"leaf event {event!r} is not one of {EVENTS}"
    keys = {"index", "event", "sha256", "type", "at", _KIND_KEY[str(event)]}
    if set(d) != keys:
        return f"a {event} leaf has exactly the keys {sorted(keys)}, not {sorted(d)}"
    try:
        LogEvent(
            d["index"], d["event"], d["sha256"], d["type"], d["at"], d.get("limit"),
            d.get("successor"), d.get("reason"),
        )  # fmt: skip
    except DeserializationError as e:
        return e.en
    return "leaf is not in canonical JSON form (sorted keys, no white space)"


def entry_events(entry: Entry) -> tuple[LogEvent, ...]:
    """The leaves a status-list entry says its document has in the log, rebuilt from the entry.

    A document's events are its issuance, then its supersession if any, then its revocation if
    any; ``entry.log_indexes`` gives their leaf indexes in that order.

    Raises:
        DeserializationError: the entry names no leaves.
    """
    indexes = entry.log_indexes
    if indexes is None:
        raise DeserializationError(
            f"the status-list entry of {entry.sha256} names no transparency-log leaves"
        )
    claims: list[tuple[str, str | None, dict[str, Any]]] = [
        ("issued", entry.issued_at, {"limit": entry.limit})
    ]
    if entry.successor is not None:
        claims.append(("superseded", entry.superseded_at, {"successor": entry.successor}))
    if entry.state == "revoked":
        claims.append(("revoked", entry.revoked_at, {"reason": entry.reason_code}))
    # The entry's own checks guarantee one index and one time per claim.
    return tuple(
        LogEvent(i, event, entry.sha256, entry.doc_type, at or "", **fields)
        for i, (event, at, fields) in zip(indexes, claims, strict=True)
    )


# --- published layout ----------------------------------------------------------------------


def _index_path(n: int) -> str:
    """A tile index as C2SP path elements: 1234067 -> ``x001/x234/067``."""
    groups = [f"{n % 1000:03d}"]
    while n >= 1000:
        n //= 1000
        groups.append(f"x{n % 1000:03d}")
    return "/".join(reversed(groups))


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``: a full tile, or a partial one of ``width`` hashes."""
    _check_width(width)
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{_index_path(index)}{suffix}"


def bundle_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``: the entry bundle beside level-0 tile ``index``."""
    _check_width(width)
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/entries/{_index_path(index)}{suffix}"


def checkpoint_path(size: int | None = None) -> str:
    """``checkpoint`` (the latest), or ``checkpoints/<size>``."""
    return "checkpoint" if size is None else f"checkpoints/{size}"


LISTING_PATH = "checkpoints.json"


def consistency_path(old_size: int, new_size: int) -> str:
    return f"consistency/{old_size}-{new_size}.json"


def tile_width(level: int, index: int, tree_size: int) -> int:
    """How many hashes tile ``index`` of ``level`` holds in a tree of ``tree_size`` (0: none)."""
    count = tree_size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, count - index * TILE_WIDTH))


def _check_width(width: int) -> None:
    if not 1 <= width <= TILE_WIDTH:
        raise FormatError(f"a tile holds 1 to {TILE_WIDTH} hashes, not {width}")


def encode_bundle(leaves: Iterable[bytes]) -> bytes:
    """An entry bundle: each leaf preceded by its length as a big-endian uint16."""
    out = bytearray()
    for leaf in leaves:
        if len(leaf) > MAX_LEAF_BYTES:
            raise FormatError(f"a leaf of {len(leaf)} bytes is over {MAX_LEAF_BYTES}")
        out += len(leaf).to_bytes(2, "big") + leaf
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The leaves of an entry bundle.

    Raises:
        DeserializationError: a length runs past the end of the bundle.
    """
    leaves = []
    at = 0
    while at < len(data):
        n = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + n > len(data):
            raise DeserializationError("entry bundle ends inside a leaf")
        leaves.append(data[at + 2 : at + 2 + n])
        at += 2 + n
    return leaves


# --- tiles and the tree they describe ------------------------------------------------------


def _pairs(level: bytes | bytearray) -> bytes:
    end = len(level) // (2 * tlog.HASH_SIZE) * (2 * tlog.HASH_SIZE)
    sha = hashlib.sha256
    return b"".join([sha(b"\x01" + level[i : i + 64]).digest() for i in range(0, end, 64)])


def subtree_roots(hashes: bytes | bytearray) -> bytes:
    """The next tile level: the Merkle root of each complete run of 256 hashes, in order.

    A trailing run of fewer than 256 is dropped: it is not yet a node of the level above.
    """
    level: bytes | bytearray = hashes[: len(hashes) // TILE_BYTES * TILE_BYTES]
    for _ in range(TILE_HEIGHT):
        level = _pairs(level)
    return bytes(level)


def tile_levels(hashes: bytes | bytearray) -> list[bytes]:
    """Every level of the tree built over one tile's hashes: level 0 is the tile itself."""
    levels = [bytes(hashes)]
    while len(levels) <= TILE_HEIGHT and len(levels[-1]) >= 2 * tlog.HASH_SIZE:
        levels.append(_pairs(levels[-1]))
    return levels


ReadTile = Callable[[int, int, int], bytes]
"""Read tile (level, index, width): exactly ``width`` 32-byte hashes, concatenated."""


def fetched_tiles(fetch: Fetch) -> ReadTile:
    """Tiles read through ``fetch`` (rooted at ``log/``); a partial tile the log has dropped
    since its full tile appeared (tlog-tiles allows it) is read as a prefix of the full one."""

    def read(level: int, index: int, width: int) -> bytes:
        try:
            data = fetch(tile_path(level, index, width), width * tlog.HASH_SIZE + 1)
        except FetchError:
            if width == TILE_WIDTH:
                raise
            full = fetch(tile_path(level, index), TILE_BYTES + 1)
            data = full[: width * tlog.HASH_SIZE] if len(full) == TILE_BYTES else full
        if len(data) != width * tlog.HASH_SIZE:
            raise DeserializationError(
                f"tile {tile_path(level, index, width)} is {len(data)} bytes, "
                f"not {width * tlog.HASH_SIZE}"
            )
        return data

    return read


def memory_tiles(levels: Sequence[bytes | bytearray]) -> ReadTile:
    """Tiles cut from whole levels held in memory (``levels[L]``: every hash of level L)."""

    def read(level: int, index: int, width: int) -> bytes:
        start = index * TILE_BYTES
        data = bytes(levels[level][start : start + width * tlog.HASH_SIZE])
        if len(data) != width * tlog.HASH_SIZE:
            raise FormatError(f"level {level} has no tile {index} of width {width}")
        return data

    return read


class TileCache:
    """Tiles with the tree levels inside each, read once and kept by (level, index, width).

    A tile's content never changes for a given path, so entries stay valid across checkpoints.
    Thread-safe; the least recently used tiles are dropped beyond ``size``.
    """

    def __init__(self, read: ReadTile, size: int = 4096) -> None:
        self._read = read
        self._size = size
        self._tiles: OrderedDict[tuple[int, int, int], list[bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0

    def levels(self, level: int, index: int, width: int) -> list[bytes]:
        key = (level, index, width)
        with self._lock:
            found = self._tiles.get(key)
            if found is not None:
                self._tiles.move_to_end(key)
                return found
        levels = tile_levels(self._read(level, index, width))
        with self._lock:
            self.reads += 1
            self._tiles[key] = levels
            if len(self._tiles) > self._size:
                self._tiles.popitem(last=False)
        return levels

    def clear(self) -> None:
        """Forget every tile, e.g. after a proof failed on one that a host may have altered."""
        with self._lock:
            self._tiles.clear()


class TiledTree(tlog.MerkleTree):
    """The RFC 9162 tree of ``size`` leaves as its tiles describe it, read lazily.

    Roots and proofs for any size up to ``size`` come from :class:`certseal.tlog.MerkleTree`'s
    own algorithms; only the nodes are read from tiles instead of memory. A tree of size ``n``
    holds every node of every smaller tree, so the tiles of one checkpoint serve them all.
    """

    def __init__(self, size: int, tiles: TileCache) -> None:
        if type(size) is not int or not 0 <= size <= tlog.MAX_TREE_SIZE:
            raise FormatError("tree size must be an integer from 0 to 2**64-1")
        self._size = size
        self._tiles = tiles

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise FormatError(f"leaf index {index} is outside a tree of {self._size} leaves")
        return self._node(0, index)

    def append(self, leaf_hashes: bytes | bytearray) -> int:
        raise TypeError("a tiled tree is read-only: the authority writes tiles, not leaves")

    def _node(self, height: int, index: int) -> bytes:
        level, sub = divmod(height, TILE_HEIGHT)
        first = index << sub  # the node's first hash at the tile level below it
        tile = first >> TILE_HEIGHT
        nodes = self._tiles.levels(level, tile, tile_width(level, tile, self._size))[sub]
        at = ((first % TILE_WIDTH) >> sub) * tlog.HASH_SIZE
        return nodes[at : at + tlog.HASH_SIZE]


# --- the binding in the status list --------------------------------------------------------


@dataclass(frozen=True)
class LogRef:
    """The checkpoint a status-list snapshot reflects: ``"log"`` in the signed snapshot."""

    origin: str
    size: int
    root: bytes
    checkpoint: str  # its path in the published folder: log/checkpoints/<size>

    def __post_init__(self) -> None:
        try:
            tlog.Checkpoint(self.origin, self.size, self.root)
        except FormatError as e:
            raise DeserializationError(f"snapshot log reference: {e}") from e
        if self.checkpoint != f"{LOG_DIR}/{checkpoint_path(self.size)}":
            raise DeserializationError(
                f"snapshot log reference must point to {LOG_DIR}/{checkpoint_path(self.size)}"
            )

    @classmethod
    def for_checkpoint(cls, cp: tlog.Checkpoint) -> LogRef:
        return cls(cp.origin, cp.size, cp.root_hash, f"{LOG_DIR}/{checkpoint_path(cp.size)}")

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> LogRef | None:
        """The snapshot's log reference, or None for a status list published without a log.

        Raises:
            DeserializationError: the reference is malformed.
        """
        d = snapshot.extra.get("log")
        return None if d is None else cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: object) -> LogRef:
        """Parse the JSON form; any malformation raises DeserializationError."""
        if not isinstance(d, Mapping) or not isinstance(d.get("root"), str):
            raise DeserializationError("snapshot log reference must be an object with a root")
        size = d.get("size")
        if type(size) is not int:
            raise DeserializationError("snapshot log size must be an integer")
        return cls(
            d.get("origin"),  # type: ignore[arg-type]
            size,
            _b64(d["root"], "snapshot log root"),
            d.get("checkpoint", f"{LOG_DIR}/{checkpoint_path(size)}"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "checkpoint": self.checkpoint,
        }

    def to_extra(self) -> dict[str, Any]:
        """What goes into the snapshot's signed body (its ``extra``)."""
        return {"log": self.to_dict()}

    def matches(self, cp: tlog.Checkpoint) -> bool:
        return (cp.origin, cp.size, cp.root_hash) == (self.origin, self.size, self.root)


def _b64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as e:
        raise DeserializationError(f"{what} is not base64") from e
    if base64.b64encode(data).decode() != text:
        raise DeserializationError(f"{what} is not canonical base64")
    return data


def checkpoint_time(cp: tlog.Checkpoint) -> str | None:
    """The checkpoint's ``time`` extension line, if it has exactly one valid one."""
    times = [x.removeprefix(TIME_PREFIX) for x in cp.extensions if x.startswith(TIME_PREFIX)]
    return times[0] if len(times) == 1 and _valid_time(times[0]) else None


def parse_listing(data: bytes) -> list[int]:
    """The checkpoint sizes of ``checkpoints.json``, strictly ascending.

    Raises:
        DeserializationError: malformed, or sizes not strictly ascending.
    """
    d = load_json_object(data, "checkpoint listing")
    sizes = d.get("sizes")
    if d.get("_type") != "certseal/log-checkpoints" or not isinstance(sizes, list):
        raise DeserializationError("checkpoint listing must be a certseal/log-checkpoints object")
    if not all(type(s) is int and 0 <= s <= tlog.MAX_TREE_SIZE for s in sizes):
        raise DeserializationError("checkpoint listing sizes must be integers")
    if any(b <= a for a, b in itertools.pairwise(sizes)):
        raise DeserializationError("checkpoint listing sizes must be strictly ascending")
    return sizes


def listing_bytes(origin: str, sizes: Sequence[int]) -> bytes:
    return canonical_bytes(
        {"_type": "certseal/log-checkpoints", "origin": origin, "sizes": list(sizes)}
    )


# --- reading a published log ---------------------------------------------------------------


class PublishedLog:
    """One published log as a client reads it: bounded reads, tiles cached by path."""

    def __init__(self, fetch: Fetch, *, cache_size: int = 4096) -> None:
        self.fetch = fetch
        self.tiles = TileCache(fetched_tiles(fetch), cache_size)

    def note(self, size: int | None = None) -> bytes:
        """The signed checkpoint note: the latest, or the one of ``size``."""
        return self.fetch(checkpoint_path(size), MAX_BYTES["checkpoint"])

    def open(
        self,
        key_name: str,
        keys: Sequence[ec.EllipticCurvePublicKey],
        size: int | None = None,
    ) -> tlog.Checkpoint:
        """The checkpoint (latest, or of ``size``), signed by one of ``keys`` under ``key_name``.

        Raises:
            SignatureVerificationError: signed by none of the keys.
            DeserializationError: malformed, or not the checkpoint of ``size``.
            FetchError: not available.
        """
        note = self.note(size)
        error: CertsealError | None = None
        for key in keys:
            try:
                cp = tlog.open_checkpoint(note, key_name, key)
            except CertsealError as e:
                error = e
                continue
            if size is not None and cp.size != size:
                raise DeserializationError(
                    f"{checkpoint_path(size)} holds a checkpoint of size {cp.size}"
                )
            return cp
        raise error or DeserializationError("no key to check the checkpoint with")

    def sizes(self) -> list[int]:
        """The sizes of every published checkpoint (``checkpoints.json``)."""
        return parse_listing(self.fetch(LISTING_PATH, MAX_BYTES["listing"]))

    def consistency(self, old_size: int, new_size: int) -> tlog.ConsistencyProof:
        data = self.fetch(consistency_path(old_size, new_size), MAX_BYTES["proof"])
        proof = tlog.ConsistencyProof.from_dict(load_json_object(data, "consistency proof"))
        if (proof.old_size, proof.new_size) != (old_size, new_size):
            raise DeserializationError(
                f"{consistency_path(old_size, new_size)} is a proof for other sizes"
            )
        return proof

    def tree(self, size: int) -> TiledTree:
        return TiledTree(size, self.tiles)

    def bundle(self, index: int, tree_size: int) -> list[bytes]:
        """The leaves of entry bundle ``index`` as published for the tree of ``tree_size``.

        The caller checks that it holds :func:`tile_width` leaves: fewer means a truncated log.

        Raises:
            DeserializationError: malformed.
            FetchError: missing.
        """
        width = tile_width(0, index, tree_size)
        try:
            return decode_bundle(self.fetch(bundle_path(index, width), MAX_BYTES["bundle"]))
        except FetchError:
            if width == TILE_WIDTH:
                raise
            return decode_bundle(self.fetch(bundle_path(index), MAX_BYTES["bundle"]))[:width]


def prove_entry(tree: tlog.MerkleTree, root: bytes, entry: Entry) -> tuple[LogEvent, ...]:
    """Check that every event the entry claims is a leaf of the tree whose root is ``root``.

    Returns the events proven.

    Raises:
        DeserializationError: the entry names no leaves, or one beyond the tree.
        SignatureVerificationError: a leaf is not in the tree: the list and the log disagree.
        FetchError: a tile is unavailable.
    """
    events = entry_events(entry)
    for ev in events:
        if ev.index >= tree.size:
            raise DeserializationError(
                f"the entry names leaf {ev.index}, beyond the checkpoint's {tree.size} leaves"
            )
        tlog.verify_inclusion(ev.leaf_hash, tree.inclusion_proof(ev.index), root)
    return events


class LogClient:
    """A relying party's view of one published log: each checkpoint is opened once, tiles are
    cached, and a proof that fails drops the cached tiles (a host may have altered one)."""

    def __init__(self, log: PublishedLog) -> None:
        self.log = log
        self._opened: set[tuple[int, bytes]] = set()

    def check_entry(
        self, ref: LogRef, entry: Entry, keys: Sequence[ec.EllipticCurvePublicKey]
    ) -> tuple[LogEvent, ...]:
        """Check the checkpoint the status list names, then the entry's events in it.

        Raises:
            CertsealError: the checkpoint or a proof does not verify, or a file is missing.
        """
        if (ref.size, ref.root) not in self._opened:
            cp = self.log.open(ref.origin, keys, ref.size)
            if not ref.matches(cp):
                raise SignatureVerificationError(
                    f"checkpoint {ref.size} is not the one the status list names",
                    f"檢查點 {ref.size} 與狀態清單所指不同",
                )
            self._opened.add((ref.size, ref.root))
        try:
            return prove_entry(self.log.tree(ref.size), ref.root, entry)
        except CertsealError:
            self.log.tiles.clear()
            raise
