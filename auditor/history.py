"""The log side of an audit: checkpoints, their listing, the replay of every leaf, the tiles and
the consistency proofs.

Read with :mod:`certseal.eventlog` and :mod:`certseal.tlog`, as the verifier reads them. Every
file the audit relies on may have been deleted, truncated, flipped or replaced; each case is a
named violation, never a warning nobody reads.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import ec

from auditor.context import Context, prefetch
from auditor.replay import Replay, StreamedTree
from auditor.report import LeafFindings
from certseal import tlog
from certseal.errors import CertsealError, DeserializationError, FetchError
from certseal.eventlog import (
    LOG_DIR,
    MAX_BYTES,
    TILE_BYTES,
    TILE_HEIGHT,
    TILE_WIDTH,
    LogRef,
    PublishedLog,
    TiledTree,
    bundle_path,
    checkpoint_path,
    checkpoint_time,
    consistency_path,
    decode_bundle,
    memory_tiles,
    tile_path,
    tile_width,
)

CHECK = "checkpoints"
_T = TypeVar("_T")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True, order=True)
class Required:
    """A checkpoint size the listing must hold, and who relies on it (for the report)."""

    size: int
    why: str


def checkpoints(
    ctx: Context,
    log: PublishedLog,
    key: ec.EllipticCurvePublicKey,
    ref: LogRef | None,
    older: Sequence[tuple[int, LogRef]],
) -> dict[int, tlog.Checkpoint]:
    """Every published checkpoint whose signature verifies, by size, up to the latest.

    ``older`` are the checkpoints earlier snapshots rely on (snapshot version, reference).
    """
    record = ctx.record
    try:
        note = log.note()
    except FetchError as e:
        record.flag(CHECK, "unavailable", f"{LOG_DIR}/checkpoint: {e.en}")
        record.done(CHECK, "")
        return {}
    origin = ref.origin if ref else note.split(b"\n", 1)[0].decode("utf-8", "replace")
    state = ctx.state
    if state is not None and state.origin != origin:
        record.flag(CHECK, "origin_changed", f"log {origin!r}; {state.origin!r} before")
    latest = _open(ctx, log, origin, key, None)
    sizes: list[int] | None = None
    try:
        sizes = log.sizes()
    except FetchError as e:
        record.flag(CHECK, "unavailable", f"{LOG_DIR}/checkpoints.json: {e.en}")
    except CertsealError as e:
        record.flag(CHECK, "listing_incomplete", f"{LOG_DIR}/checkpoints.json: {e.en}")
    wanted = set(sizes or ()) | {r.size for _, r in older}
    wanted |= ({latest.size} if latest else set()) | ({ref.size} if ref else set())
    found: dict[int, tlog.Checkpoint] = {}
    for size, cp in prefetch(lambda s: _open(ctx, log, origin, key, s), sorted(wanted), 8):
        if isinstance(cp, tlog.Checkpoint):
            found[size] = cp
    if latest is not None:
        if latest.size in found and found[latest.size].root_hash != latest.root_hash:
            record.flag(
                CHECK,
                "fork",
                f"{LOG_DIR}/checkpoint and {LOG_DIR}/{checkpoint_path(latest.size)} both "
                f"have size {latest.size} but different roots",
            )
        found.setdefault(latest.size, latest)
        bigger = [s for s in found if s > latest.size]
        if bigger:
            record.flag(
                CHECK,
                "truncated_log",
                f"the latest checkpoint has {latest.size} leaves, but checkpoint "
                f"{max(bigger)} was published",
            )
    relied = ([("the status list", ref)] if ref else []) + [
        (f"status-list snapshot {v}", r) for v, r in older
    ]
    for who, r in relied:
        if r.size in found and not r.matches(found[r.size]):
            record.flag(
                CHECK,
                "fork",
                f"{who} relies on checkpoint {r.size} with root {_b64(r.root)}, but the "
                f"published checkpoint {r.size} has root {_b64(found[r.size].root_hash)}",
            )
    if sizes is not None:
        required = [Required(s, "seen before") for s in _seen_sizes(ctx)]
        required += [Required(r.size, f"named by {who}") for who, r in relied]
        if latest is not None:
            required.append(Required(latest.size, f"the latest, in {LOG_DIR}/checkpoint"))
        _listing(ctx, sizes, required)
    _forks_with_the_past(ctx, found, latest)
    _checkpoint_times(ctx, found)
    if latest is not None:
        record.facts["log"] = (
            f"{latest.origin}, checkpoint {latest.size} root {_b64(latest.root_hash)} "
            f"({checkpoint_time(latest) or 'no time'}); checkpoints published: {len(found)}"
        )
    record.done(CHECK, f"{len(found)} checkpoint(s), each signed by the status-list key")
    if latest is None:
        return {}
    return {s: cp for s, cp in found.items() if s <= latest.size}


def _seen_sizes(ctx: Context) -> list[int]:
    return [c.size for c in ctx.state.checkpoints] if ctx.state else []


def _listing(ctx: Context, sizes: Collection[int], required: Sequence[Required]) -> None:
    """``checkpoints.json`` is how everyone finds the checkpoints: it lists every one signed."""
    listed = set(sizes)
    for size, group in itertools.groupby(
        sorted(r for r in required if r.size not in listed and r.size > 0),
        key=lambda r: r.size,
    ):
        whys = sorted({r.why for r in group})
        ctx.record.flag(
            CHECK,
            "listing_incomplete",
            f"{LOG_DIR}/checkpoints.json does not list checkpoint {size} ({', '.join(whys)})",
        )


def _open(
    ctx: Context,
    log: PublishedLog,
    origin: str,
    key: ec.EllipticCurvePublicKey,
    size: int | None,
) -> tlog.Checkpoint | None:
    path = f"{LOG_DIR}/{checkpoint_path(size)}"
    try:
        cp = log.open(origin, [key], size)
    except FetchError as e:
        ctx.record.flag(CHECK, "unavailable", f"{path}: {e.en}")
    except CertsealError as e:
        ctx.record.flag(CHECK, "checkpoint_signature", f"{path}: {e.en}")
    else:
        if cp.origin == origin:
            return cp
        ctx.record.flag(CHECK, "checkpoint_signature", f"{path} names log {cp.origin!r}")
    return None


def _forks_with_the_past(
    ctx: Context, found: dict[int, tlog.Checkpoint], latest: tlog.Checkpoint | None
) -> None:
    for seen in ctx.state.checkpoints if ctx.state else ():
        if latest is not None and seen.size > latest.size:
            ctx.record.flag(
                CHECK,
                "truncated_log",
                f"checkpoint {seen.size} was seen before; the log now ends at {latest.size}",
            )
        cp = found.get(seen.size)
        if cp is not None and cp.root_hash != seen.root:
            ctx.record.flag(
                CHECK,
                "fork",
                f"checkpoint {seen.size} has root {_b64(cp.root_hash)} now and had root "
                f"{_b64(seen.root)} when seen before",
            )


def _checkpoint_times(ctx: Context, found: dict[int, tlog.Checkpoint]) -> None:
    previous: tuple[int, str] | None = None
    for size in sorted(found):
        time = checkpoint_time(found[size])
        if time is None:
            ctx.record.flag(
                CHECK, "checkpoint_signature", f"checkpoint {size} carries no time line"
            )
            continue
        if previous is not None and time < previous[1]:
            ctx.record.flag(
                CHECK,
                "backdated_checkpoint",
                f"checkpoint {size} is dated {time}, before checkpoint {previous[0]} "
                f"({previous[1]})",
            )
        previous = (size, time)


# --- the replay -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Read:
    """One entry bundle as read: its leaves, its level-0 tile, and the partial bundles and tiles
    published for earlier checkpoints that end inside it (None where not published)."""

    leaves: list[bytes] | CertsealError
    tile: bytes | CertsealError
    partials: tuple[tuple[int, bytes | None, bytes | None], ...]


def replay(
    ctx: Context,
    log: PublishedLog,
    latest: tlog.Checkpoint,
    found: dict[int, tlog.Checkpoint],
    counted: Sequence[int],
) -> tuple[Replay, TiledTree | None]:
    """Read every leaf once, bundle by bundle, checking each bundle and level-0 tile as it comes;
    then the tree's root, the upper tiles and the consistency of every checkpoint.

    Returns the replay (to fold) and the replayed tree, or None if the log ends early.
    """
    record = ctx.record
    n = latest.size
    bounds = [(s, checkpoint_time(cp) or "") for s, cp in sorted(found.items())]
    chain = sorted(set(found) | {s for s in _seen_sizes(ctx) if s <= n})
    findings = LeafFindings()
    events = Replay(bounds, counted, findings)
    ends: dict[int, list[int]] = {}  # tile index -> widths at which an earlier checkpoint ends
    for s in chain:
        if s % TILE_WIDTH and s < n:
            ends.setdefault(s >> TILE_HEIGHT, []).append(s % TILE_WIDTH)
    tree = StreamedTree(set(ends))

    def read(index: int) -> _Read:
        width = tile_width(0, index, n)
        partials = tuple(
            (
                w,
                _optional(log, bundle_path(index, w), "bundle"),
                _optional(log, tile_path(0, index, w), "tile"),
            )
            for w in ends.get(index, ())
        )
        return _Read(
            _attempt(lambda: log.bundle(index, n)),
            _attempt(lambda: log.fetch(tile_path(0, index, width), MAX_BYTES["tile"] + 1)),
            partials,
        )

    complete = True
    bundles = range((n + TILE_WIDTH - 1) >> TILE_HEIGHT)
    for index, got in prefetch(read, bundles, ctx.workers):
        if isinstance(got, CertsealError):  # read() returns its own errors: not expected
            got = _Read(got, got, ())
        first, width = index << TILE_HEIGHT, tile_width(0, index, n)
        leaves = got.leaves
        if isinstance(leaves, CertsealError) or len(leaves) != width:
            _bad_bundle(ctx, index, width, leaves)
            if isinstance(leaves, CertsealError) or len(leaves) < width:
                complete = False
                break
        hashes = events.add_bundle(first, leaves[:width])
        tree.add(index, hashes)
        if got.tile != hashes:
            why = got.tile.en if isinstance(got.tile, CertsealError) else "its hashes differ"
            record.flag("tiles", "tile_mismatch", f"{tile_path(0, index, width)}: {why}")
        for w, bundle, tile in got.partials:
            if bundle is not None and _leaves(bundle) != leaves[:w]:
                record.flag(
                    "tiles",
                    "tile_mismatch",
                    f"{bundle_path(index, w)} is not the first {w} leaves of the log's bundle "
                    f"{index}",
                )
            if tile is not None and tile != hashes[: w * tlog.HASH_SIZE]:
                record.flag(
                    "tiles",
                    "tile_mismatch",
                    f"{tile_path(0, index, w)} is not the first {w} hashes of the tree's tile",
                )
    findings.flush(record)
    if not complete:
        record.done("log_entries", "")
        for check in ("consistency", "tiles"):
            record.done(check, "skipped: the log ends early", "skipped")
        return events, None
    replayed = tree.tree()
    entries_ok = replayed.root() == latest.root_hash
    if not entries_ok:
        record.flag(
            "log_entries",
            "entries_mismatch",
            f"the {n} published leaves hash to {_b64(replayed.root())}, not to the root "
            f"{_b64(latest.root_hash)} of the signed checkpoint {n}",
        )
    record.done("log_entries", f"{n} leaves, numbered in order, hash to the signed root")
    consistency(ctx, log, found, replayed if entries_ok else None)
    _upper_tiles(ctx, log, n, tree.levels(), chain, len(bundles))
    return events, replayed


def _attempt(fn: Callable[[], _T]) -> _T | CertsealError:
    try:
        return fn()
    except CertsealError as e:
        return e


def _optional(log: PublishedLog, path: str, what: str) -> bytes | None:
    """A file that tlog-tiles lets a log drop (an earlier size's partial tile): None if absent."""
    try:
        return log.fetch(path, MAX_BYTES[what] + 1)
    except FetchError:
        return None


def _leaves(bundle: bytes) -> list[bytes] | None:
    try:
        return decode_bundle(bundle)
    except DeserializationError:
        return None


def _bad_bundle(ctx: Context, index: int, width: int, leaves: list[bytes] | CertsealError) -> None:
    first = index << TILE_HEIGHT
    where = f"entry bundle {index} (leaves {first} to {first + width - 1})"
    if isinstance(leaves, DeserializationError):
        ctx.record.flag("log_entries", "malformed_leaf", f"{where}: {leaves.en}")
    elif isinstance(leaves, CertsealError):
        ctx.record.flag("log_entries", "truncated_log", f"{where} is missing: {leaves.en}")
    elif len(leaves) < width:
        ctx.record.flag("log_entries", "truncated_log", f"{where} holds only {len(leaves)} leaves")
    else:
        ctx.record.flag("log_entries", "malformed_leaf", f"{where} holds {len(leaves)} leaves")


def _upper_tiles(
    ctx: Context,
    log: PublishedLog,
    n: int,
    levels: list[bytes],
    chain: Sequence[int],
    level0: int,
) -> None:
    """The tiles above the leaves are the replayed tree's, and so are the partial ones kept for
    earlier checkpoints, where published."""
    expected = memory_tiles(levels)
    wanted = [
        (level, index, tile_width(level, index, n))
        for level in range(1, len(levels))
        for index in range((len(levels[level]) + TILE_BYTES - 1) // TILE_BYTES)
    ]
    earlier = {
        (
            level,
            s >> (TILE_HEIGHT * (level + 1)),
            tile_width(level, s >> (TILE_HEIGHT * (level + 1)), s),
        )
        for s in chain
        for level in range(1, len(levels))
        if s < n
    }
    earlier = {t for t in earlier if 0 < t[2] < TILE_WIDTH} - set(wanted)

    def read(t: tuple[int, int, int]) -> bytes:
        return log.fetch(tile_path(*t), MAX_BYTES["tile"] + 1)

    for t, data in prefetch(read, wanted, ctx.workers):
        if data != expected(*t):
            why = data.en if isinstance(data, CertsealError) else "its hashes differ"
            ctx.record.flag("tiles", "tile_mismatch", f"{tile_path(*t)}: {why}")
    for t, data in prefetch(read, sorted(earlier), ctx.workers):
        if isinstance(data, CertsealError):
            continue  # tlog-tiles lets a log drop a partial tile once the full one is out
        if data != expected(*t):
            ctx.record.flag(
                "tiles", "tile_mismatch", f"{tile_path(*t)}: not the tree's, for an earlier size"
            )
    ctx.record.done("tiles", f"{level0 + len(wanted)} tile(s), each the replayed tree's")


# --- consistency -------------------------------------------------------------------------------


def consistency(
    ctx: Context, log: PublishedLog, found: dict[int, tlog.Checkpoint], tree: TiledTree | None
) -> None:
    """Each checkpoint, published or remembered, is a prefix of every later one; the published
    proof between each two consecutive checkpoints is there and verifies."""
    name = "consistency"
    chain = {s: cp.root_hash for s, cp in found.items()}
    for seen in ctx.state.checkpoints if ctx.state else ():
        chain.setdefault(seen.size, seen.root)
    sizes = sorted(chain)
    for old, new in itertools.pairwise(sizes):
        if not _extends(log, old, chain[old], new, chain[new], tree):
            ctx.record.flag(
                name,
                "inconsistent_history",
                f"checkpoint {new} does not extend checkpoint {old}: leaves among the first "
                f"{old} were removed or changed",
            )
    for old, new in itertools.pairwise(sorted(found)):
        if old == 0:
            continue
        path = f"{LOG_DIR}/{consistency_path(old, new)}"
        try:
            proof = log.consistency(old, new)
            tlog.verify_consistency(proof, chain[old], chain[new])
        except FetchError as e:
            ctx.record.flag(name, "proof_missing", f"{path}: {e.en}")
        except CertsealError as e:
            ctx.record.flag(name, "bad_proof", f"{path}: {e.en}")
    ctx.record.done(name, f"{len(sizes)} checkpoint(s), each a prefix of the next")


def _extends(
    log: PublishedLog, old: int, old_root: bytes, new: int, new_root: bytes, tree: TiledTree | None
) -> bool:
    try:
        if tree is not None and new <= tree.size:
            # The replayed leaves match the latest root: they decide for every smaller size.
            return tree.root(old) == old_root and tree.root(new) == new_root

        proof = log.tree(new).consistency_proof(old)
        tlog.verify_consistency(proof, old_root, new_root)
    except CertsealError:
        return False
    return True
