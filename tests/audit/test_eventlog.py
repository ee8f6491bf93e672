"""The published log's format (certseal.eventlog): leaves, layout, tiles, proofs from tiles.

Roots, tiles and proofs are checked against tests/audit/rfc9162.py, written from RFC 9162 and
C2SP tlog-tiles without the project's code, and proofs are verified with its algorithms.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from certseal import tlog
from certseal.errors import DeserializationError, FetchError, SignatureVerificationError
from certseal.eventlog import (
    LOG_DIR,
    TILE_BYTES,
    LogEvent,
    LogRef,
    PublishedLog,
    TileCache,
    TiledTree,
    bundle_path,
    checkpoint_time,
    decode_bundle,
    encode_bundle,
    entry_events,
    memory_tiles,
    parse_leaf,
    parse_listing,
    subtree_roots,
    tile_path,
    tile_width,
)
from certseal.fetch import published_fetcher
from certseal.statuslist import Entry, Issuer, Snapshot
from certseal.timeutil import parse_time
from tests.audit import rfc9162

SHA_A = "a" * 64
SHA_B = "b" * 64
AT = "2026-06-22T02:00:00Z"


def _leaves(n: int, seed: int = 0) -> list[bytes]:
    """n valid leaves, distinct, of every kind."""
    out = []
    for i in range(n):
        sha = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()
        if i % 7 == 3:
            ev = LogEvent(i, "revoked", sha, "diploma_zh", AT, reason="degree_revoked")
        elif i % 7 == 5:
            ev = LogEvent(i, "superseded", sha, "transcript", AT, successor=SHA_B)
        else:
            ev = LogEvent(i, "issued", sha, "diploma_en", AT, limit=None if i % 2 else 3)
        out.append(ev.to_bytes())
    return out


def _levels(leaves: list[bytes]) -> list[bytes]:
    levels = [b"".join(tlog.leaf_hash(leaf) for leaf in leaves)]
    while len(levels[-1]) >= TILE_BYTES:
        levels.append(subtree_roots(levels[-1]))
    return levels


# --- leaves ----------------------------------------------------------------------------------


def test_leaf_is_canonical_json_of_the_documented_fields() -> None:
    issued = LogEvent(7, "issued", SHA_A, "diploma_zh", AT, limit=None)
    assert issued.to_bytes() == (
        b'{"at":"2026-06-22T02:00:00Z","event":"issued","index":7,"limit":null,'
        b'"sha256":"' + SHA_A.encode() + b'","type":"diploma_zh"}'
    )
    superseded = LogEvent(8, "superseded", SHA_A, "diploma_zh", AT, successor=SHA_B)
    assert json.loads(superseded.to_bytes())["successor"] == SHA_B
    revoked = LogEvent(9, "revoked", SHA_A, "diploma_zh", AT, reason="issued_in_error")
    assert json.loads(revoked.to_bytes())["reason"] == "issued_in_error"
    for ev in (issued, superseded, revoked):
        assert LogEvent.from_bytes(ev.to_bytes()) == ev
        assert ev.leaf_hash == hashlib.sha256(b"\x00" + ev.to_bytes()).digest()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((-1, "issued", SHA_A, "diploma_zh", AT), "index"),
        ((0, "reissued", SHA_A, "diploma_zh", AT), "not one of"),
        ((0, "issued", "A" * 64, "diploma_zh", AT), "sha256"),
        ((0, "issued", SHA_A, "Diploma", AT), "type"),
        ((0, "issued", SHA_A, "diploma_zh", "2026-06-22"), "time"),
        ((0, "issued", SHA_A, "diploma_zh", "2026-02-30T00:00:00Z"), "time"),
        ((0, "issued", SHA_A, "diploma_zh", AT, 0), "limit"),
        ((0, "revoked", SHA_A, "diploma_zh", AT, 3, None, "other"), "only an issued"),
        ((0, "superseded", SHA_A, "diploma_zh", AT), "names a successor"),
        ((0, "superseded", SHA_A, "diploma_zh", AT, None, SHA_A), "another document"),
        ((0, "issued", SHA_A, "diploma_zh", AT, None, None, "other"), "carries a reason"),
        ((0, "revoked", SHA_A, "diploma_zh", AT, None, None, "lost"), "unknown reason"),
    ],
)
def test_leaf_model_rejects(fields: tuple[object, ...], message: str) -> None:
    with pytest.raises(DeserializationError, match=message):
        LogEvent(*fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[]", "JSON object"),
        (b"{not json", "not valid JSON"),
        (b'{"event":"issued"}', "exactly the keys"),
        (b'{"at": "2026-06-22T02:00:00Z"}', "not one of"),
        (b"{" + b" " * 2000 + b"}", "more than"),
    ],
)
def test_leaf_parser_rejects_malformed(data: bytes, message: str) -> None:
    with pytest.raises(DeserializationError, match=message):
        LogEvent.from_bytes(data)


def test_leaf_parser_rejects_non_canonical_spellings() -> None:
    leaf = LogEvent(3, "issued", SHA_A, "diploma_zh", AT, limit=2)
    d = leaf.to_dict()
    for variant in (
        json.dumps(d).encode(),  # white space
        json.dumps(d, separators=(",", ":")).encode(),  # key order
        leaf.to_bytes().replace(b'"index":3', b'"index":03'),
        leaf.to_bytes().replace(b'"limit":2', b'"limit":2.0'),
    ):
        with pytest.raises(DeserializationError):
            LogEvent.from_bytes(variant)


def test_fast_parser_agrees_with_the_model_on_mutations() -> None:
    """parse_leaf validates exactly what LogEvent does, on thousands of random corruptions."""
    rng = random.Random(9162)
    leaves = _leaves(40)
    alphabet = b'0123456789abcdefz"{},:-TZ_ \\'
    for _ in range(4000):
        data = bytearray(rng.choice(leaves))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.choice(alphabet)
        try:
            fields = parse_leaf(bytes(data))
        except DeserializationError:
            try:
                event = LogEvent(**json.loads(bytes(data)))  # noqa: F841 - any key mismatch raises
            except (TypeError, ValueError, DeserializationError):
                continue
            raise AssertionError(f"parse_leaf refused a valid leaf {bytes(data)!r}") from None
        assert LogEvent(*fields).to_bytes() == bytes(data)


def test_entry_events_rebuild_the_leaves_of_every_state() -> None:
    active = Entry(SHA_A, "diploma_zh", AT, None, "active", log_indexes=(4,))
    assert [e.event for e in entry_events(active)] == ["issued"]
    superseded = Entry(
        SHA_A, "transcript", AT, 3, "superseded", SHA_B, "2026-06-23T00:00:00Z", log_indexes=(4, 9)
    )
    events = entry_events(superseded)
    assert [(e.index, e.event) for e in events] == [(4, "issued"), (9, "superseded")]
    assert events[0].limit == 3 and events[1].successor == SHA_B
    both = Entry(
        SHA_A,
        "transcript",
        AT,
        None,
        "revoked",
        SHA_B,
        "2026-06-23T00:00:00Z",
        "issued_in_error",
        "2026-06-24T00:00:00Z",
        log_indexes=(4, 9, 12),
    )
    assert [e.event for e in entry_events(both)] == ["issued", "superseded", "revoked"]
    assert entry_events(both)[2].reason == "issued_in_error"
    with pytest.raises(DeserializationError, match="names no transparency-log leaves"):
        entry_events(Entry(SHA_A, "diploma_zh", AT, None, "active"))


def test_entry_log_field_round_trips_and_stays_optional() -> None:
    entry = Entry(SHA_A, "diploma_zh", AT, None, "revoked", None, None, "other", AT, (1, 5))
    assert entry.to_dict()["log"] == [1, 5]
    assert Entry.from_dict(entry.to_dict()) == entry
    old = {"sha256": SHA_A, "type": "diploma_zh", "issued_at": AT, "limit": None, "state": "active"}
    assert Entry.from_dict(old).log_indexes is None
    assert "log" not in Entry.from_dict(old).to_dict()


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ([1, 2], "has 1 log leaves"),
        ("1", "list of leaf indexes"),
        ([True], "list of leaf indexes"),
        ([-1], "list of leaf indexes"),
    ],
)
def test_entry_log_field_is_validated(log: object, message: str) -> None:
    d = {"sha256": SHA_A, "type": "diploma_zh", "issued_at": AT, "limit": None, "state": "active"}
    with pytest.raises(DeserializationError, match=message):
        Entry.from_dict({**d, "log": log})
    revoked = {**d, "state": "revoked", "reason": "other", "revoked_at": AT, "log": [5, 2]}
    with pytest.raises(DeserializationError, match="ascending"):
        Entry.from_dict(revoked)


# --- layout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 7, 999, 1000, 1234, 1234067, 10**9 + 5])
def test_tile_paths_follow_tlog_tiles(index: int) -> None:
    assert tile_path(2, index) == rfc9162.tile_path(2, index)
    assert tile_path(0, index, 17) == rfc9162.tile_path(0, index, 17)
    assert bundle_path(index, 3) == "tile/entries/" + rfc9162.tile_path(0, index, 3)[7:]


def test_tile_path_example_from_the_spec() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 0, 1) == "tile/1/000.p/1"
    with pytest.raises(ValueError, match="1 to 256"):
        tile_path(0, 0, 0)


def test_tile_widths_for_the_spec_example_of_70000() -> None:
    """tlog-tiles: 273 full level-0 tiles and one of 112, one full level-1 tile and one of 17,
    one level-2 tile of width 1."""
    widths = {level: [tile_width(level, i, 70_000) for i in range(300)] for level in range(4)}
    assert widths[0][:273] == [256] * 273 and widths[0][273] == 112 and not any(widths[0][274:])
    assert widths[1][:2] == [256, 17] and not any(widths[1][2:])
    assert widths[2][:1] == [1] and not any(widths[2][1:]) and not any(widths[3])
    assert tile_width(0, 0, 256) == 256 and tile_width(1, 0, 256) == 1


def test_bundles_round_trip_and_reject_truncation() -> None:
    leaves = _leaves(5)
    data = encode_bundle(leaves)
    assert data[:2] == len(leaves[0]).to_bytes(2, "big")
    assert decode_bundle(data) == leaves
    with pytest.raises(DeserializationError, match="ends inside a leaf"):
        decode_bundle(data[:-1])
    with pytest.raises(ValueError, match="over"):
        encode_bundle([b"x" * 5000])


def test_checkpoint_listing_and_time() -> None:
    assert parse_listing(b'{"_type":"certseal/log-checkpoints","sizes":[0,3,9]}') == [0, 3, 9]
    for bad in (b'{"sizes":[1]}', b'{"_type":"certseal/log-checkpoints","sizes":[3,3]}'):
        with pytest.raises(DeserializationError):
            parse_listing(bad)
    cp = tlog.Checkpoint("example.edu/log", 3, b"\x00" * 32, ("time " + AT,))
    assert checkpoint_time(cp) == AT
    assert checkpoint_time(tlog.Checkpoint("example.edu/log", 3, b"\x00" * 32)) is None


def test_log_ref_in_the_snapshot() -> None:
    ref = LogRef("verify.example.edu/log", 12, b"\x01" * 32, "log/checkpoints/12")
    issuer = Issuer("DEMO", "示範", "Demo")
    when = parse_time(AT)
    snap = Snapshot(issuer, 1, when, when.replace(year=2027), 2, 4, {}, {}, ref.to_extra())
    assert LogRef.from_snapshot(Snapshot.from_signed(snap.to_signed())) == ref
    bare = Snapshot(issuer, 1, when, when.replace(year=2027), 2, 4, {}, {})
    assert LogRef.from_snapshot(bare) is None
    for bad in (
        {"log": "x"},
        {"log": {**ref.to_dict(), "size": "12"}},
        {"log": {**ref.to_dict(), "checkpoint": "../../etc/passwd"}},
        {"log": {**ref.to_dict(), "root": "AAAA"}},
        {"log": {**ref.to_dict(), "origin": "two\nlines"}},
    ):
        snap = Snapshot(issuer, 1, when, when.replace(year=2027), 2, 4, {}, {}, bad)
        with pytest.raises(DeserializationError):
            LogRef.from_snapshot(snap)


# --- tiles, roots and proofs against the reference ----------------------------------------


def test_tiles_match_the_tlog_tiles_formula_at_70000() -> None:
    leaves = _leaves(70_000)
    ref = rfc9162.Reference(leaves)
    levels = _levels(leaves)
    read = memory_tiles(levels)
    assert [len(x) // 32 for x in levels] == [70_000, 273, 1]
    for level, index in [(0, 0), (0, 150), (0, 273), (1, 0), (1, 1), (2, 0)]:
        width = tile_width(level, index, 70_000)
        assert read(level, index, width) == ref.tile(level, index, width)
    tree = TiledTree(70_000, TileCache(read))
    for size in (1, 255, 256, 257, 65_535, 65_536, 65_537, 70_000):
        assert tree.root(size) == ref.mth(0, size)


def test_proofs_from_tiles_equal_the_reference_at_70000() -> None:
    leaves = _leaves(70_000, seed=1)
    ref = rfc9162.Reference(leaves)
    tree = TiledTree(70_000, TileCache(memory_tiles(_levels(leaves))))
    rng = random.Random(6962)
    for _ in range(40):
        n = rng.choice([70_000, 65_537, 65_536, rng.randint(2, 70_000)])
        m = rng.randrange(n)
        proof = tree.inclusion_proof(m, n)
        assert list(proof.hashes) == ref.path(m, 0, n)
        assert rfc9162.verify_inclusion(m, n, proof.hashes, leaves[m], ref.mth(0, n))
        old = rng.randint(1, n - 1)
        cons = tree.consistency_proof(old, n)
        assert list(cons.hashes) == ref.proof(old, n)
        assert rfc9162.verify_consistency(old, n, cons.hashes, ref.mth(0, old), ref.mth(0, n))


def test_every_proof_across_the_first_tile_boundary() -> None:
    """All sizes 1..300, every inclusion and consistency proof against the reference."""
    leaves = _leaves(300, seed=2)
    ref = rfc9162.Reference(leaves)
    tree = TiledTree(300, TileCache(memory_tiles(_levels(leaves))))
    for n in range(1, 301):
        root = ref.mth(0, n)
        assert tree.root(n) == root
        for m in range(n):
            assert list(tree.inclusion_proof(m, n).hashes) == ref.path(m, 0, n)
        for m in range(1, n):
            hashes = tree.consistency_proof(m, n).hashes
            assert rfc9162.verify_consistency(m, n, hashes, ref.mth(0, m), root)


def test_reference_verifiers_reject_altered_proofs() -> None:
    """The reference verifiers are not vacuous: a flipped bit or a wrong size fails."""
    leaves = _leaves(20)
    ref = rfc9162.Reference(leaves)
    path = ref.path(5, 0, 20)
    assert rfc9162.verify_inclusion(5, 20, path, leaves[5], ref.mth(0, 20))
    bad = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
    assert not rfc9162.verify_inclusion(5, 20, bad, leaves[5], ref.mth(0, 20))
    assert not rfc9162.verify_inclusion(5, 8, path, leaves[5], ref.mth(0, 20))
    assert not rfc9162.verify_inclusion(20, 20, [], leaves[5], ref.mth(0, 20))
    cons = ref.proof(7, 20)
    assert rfc9162.verify_consistency(7, 20, cons, ref.mth(0, 7), ref.mth(0, 20))
    assert not rfc9162.verify_consistency(7, 20, cons, ref.mth(0, 8), ref.mth(0, 20))


def test_tiled_tree_is_read_only_and_checks_its_bounds() -> None:
    tree = TiledTree(3, TileCache(memory_tiles(_levels(_leaves(3)))))
    assert tree.leaf_hash(2) == tlog.leaf_hash(_leaves(3)[2])
    with pytest.raises(TypeError, match="read-only"):
        tree.append(b"\x00" * 32)
    with pytest.raises(ValueError, match="outside"):
        tree.leaf_hash(3)
    with pytest.raises(ValueError, match="tree size"):
        TiledTree(-1, TileCache(memory_tiles([])))


# --- reading published tiles ------------------------------------------------------------------


def _write_tiles(folder: Path, leaves: list[bytes], sizes: list[int]) -> None:
    """Tiles as a log publishes them after each checkpoint of ``sizes``."""
    levels = _levels(leaves)
    for size in sizes:
        for level in range(len(levels)):
            for index in range(size // 256**level // 256 + 1):
                width = tile_width(level, index, size)
                if width:
                    path = folder / "log" / tile_path(level, index, width)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(memory_tiles(levels)(level, index, width))


def test_partial_tile_dropped_by_the_log_is_read_from_the_full_tile(tmp_path: Path) -> None:
    leaves = _leaves(600)
    _write_tiles(tmp_path, leaves, [600])
    log = PublishedLog(published_fetcher(str(tmp_path), LOG_DIR))
    # No checkpoint at 300 was published: its partial tile 0/001.p/44 does not exist.
    assert not (tmp_path / "log" / tile_path(0, 1, 44)).exists()
    assert log.tree(300).leaf_hash(290) == tlog.leaf_hash(leaves[290])
    assert log.tiles.levels(0, 1, 44)[0] == memory_tiles(_levels(leaves))(0, 1, 44)


def test_a_tile_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    leaves = _leaves(10)
    _write_tiles(tmp_path, leaves, [10])
    path = tmp_path / "log" / tile_path(0, 0, 10)
    path.write_bytes(path.read_bytes()[:-1])
    log = PublishedLog(published_fetcher(str(tmp_path), LOG_DIR))
    with pytest.raises(DeserializationError, match="is 319 bytes, not 320"):
        log.tree(10).root()


def test_fetcher_refuses_to_leave_the_folder(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    fetch = published_fetcher(str(tmp_path), LOG_DIR)
    with pytest.raises(FetchError, match="refused"):
        fetch("../secret", 10)
    with pytest.raises(FetchError, match="cannot read"):
        fetch("checkpoint", 10)


def test_tile_cache_is_bounded_and_clearable() -> None:
    reads: list[tuple[int, int, int]] = []

    def read(level: int, index: int, width: int) -> bytes:
        reads.append((level, index, width))
        return b"\x00" * 32 * width

    cache = TileCache(read, size=2)
    for key in [(0, 0, 4), (0, 1, 4), (0, 0, 4), (0, 2, 4), (0, 1, 4)]:
        cache.levels(*key)
    assert reads == [(0, 0, 4), (0, 1, 4), (0, 2, 4), (0, 1, 4)]
    cache.clear()
    cache.levels(0, 0, 4)
    assert reads[-1] == (0, 0, 4)
    assert [len(x) for x in cache.levels(0, 0, 4)] == [128, 64, 32]


def test_inclusion_fails_against_another_root() -> None:
    from certseal.eventlog import prove_entry

    leaves = [
        LogEvent(0, "issued", SHA_A, "diploma_zh", AT).to_bytes(),
        LogEvent(1, "issued", SHA_B, "diploma_zh", AT).to_bytes(),
    ]
    tree = TiledTree(2, TileCache(memory_tiles(_levels(leaves))))
    entry = Entry(SHA_A, "diploma_zh", AT, None, "active", log_indexes=(0,))
    assert prove_entry(tree, tree.root(), entry)[0].index == 0
    with pytest.raises(SignatureVerificationError, match="another root"):
        prove_entry(tree, b"\x00" * 32, entry)
    revoked_view = Entry(SHA_A, "diploma_zh", AT, None, "revoked", None, None, "other", AT, (0, 1))
    with pytest.raises(SignatureVerificationError):
        prove_entry(tree, tree.root(), revoked_view)
    beyond = Entry(SHA_A, "diploma_zh", AT, None, "active", log_indexes=(2,))
    with pytest.raises(DeserializationError, match="beyond"):
        prove_entry(tree, tree.root(), beyond)
