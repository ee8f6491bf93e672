"""The one writer of log folders (certseal/logfolder.py): the authority's log and the trust
list's log lay out the same bytes for the same leaves, the head reads back and is checked, and an
interrupted append leaves nothing the next one lists."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from authority.transparency import LogState, TransparencyLog
from certseal import tlog
from certseal.errors import ConfigurationError, DeserializationError, InputError
from certseal.eventlog import (
    PublishedLog,
    bundle_path,
    checkpoint_path,
    decode_bundle,
    tile_path,
)
from certseal.fetch import published_fetcher
from certseal.logfolder import LogFolder, LogHead
from certseal.trustlist import TrustEvent
from federation.log import LEAVES, TrustLog
from tests.audit import rfc9162

KEY = ec.generate_private_key(ec.SECP256R1())
ORIGIN = "trust.example.edu.tw/trust/log"
T0 = dt.datetime(2026, 6, 22, 2, 0, tzinfo=dt.UTC)
BATCHES = [1, 254, 1, 300, 70, 256]  # across tile edges: 256, 512, 768 and a level-1 tile


def _events(start: int, n: int, school: str = "NTHU") -> list[TrustEvent]:
    return [
        TrustEvent(i, "profile", school, T0, hashlib.sha256(b"%d" % i).hexdigest(), "active")
        for i in range(start, start + n)
    ]


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _note_text(note: bytes) -> bytes:
    """A signed note without its signature lines (ECDSA signatures differ on each signing)."""
    return note[: note.rindex(b"\n\n") + 1]


def _trust_log(home: Path, batches: list[int]) -> TrustLog:
    log = TrustLog(home / "log", home / "repo" / "log")
    size = 0
    for hour, n in enumerate(batches):
        size = log.append(
            size, _events(size, n), origin=ORIGIN, now=T0 + dt.timedelta(hours=hour), key=KEY
        ).size
    return log


def test_both_logs_publish_the_same_bytes_for_the_same_leaves(tmp_path: Path) -> None:
    trust = _trust_log(tmp_path / "operator", BATCHES)
    school = TransparencyLog(tmp_path / "authority")
    leaves = [ev.to_bytes() for ev in _events(0, sum(BATCHES))]
    start = 0
    for hour, n in enumerate(BATCHES):
        # The authority's own entry point for leaves it did not build (the audit's forger too).
        school._extend(
            school.state(),
            leaves[start : start + n],
            start + n,
            ORIGIN,
            T0 + dt.timedelta(hours=hour),
            KEY,
        )
        start += n
    a, b = _files(trust.public), _files(school.public)
    assert a.keys() == b.keys()
    notes = {k for k in a if k.startswith("checkpoint") and not k.endswith(".json")}
    assert notes == {"checkpoint", *(checkpoint_path(s) for s in [1, 255, 256, 556, 626, 882])}
    assert {k: v for k, v in a.items() if k not in notes} == {
        k: v for k, v in b.items() if k not in notes
    }
    for k in notes:
        assert _note_text(a[k]) == _note_text(b[k])
        tlog.open_checkpoint(a[k], ORIGIN, KEY.public_key())
    # And those bytes are the RFC's: the tiles of the final tree, and every leaf in order.
    ref = rfc9162.Reference(leaves)
    for level, index, width in [(0, 0, 256), (0, 3, 114), (1, 0, 3)]:
        assert a[tile_path(level, index, width)] == ref.tile(level, index, width)
    bundles = [decode_bundle(a[bundle_path(n, 256 if n < 3 else 114)]) for n in range(4)]
    assert [leaf for bundle in bundles for leaf in bundle] == leaves
    assert trust.events(882) == _events(0, 882)


def test_the_head_reads_back_and_round_trips(tmp_path: Path) -> None:
    trust = _trust_log(tmp_path, [3, 300])
    head = trust.folder.head(303)
    assert head.sizes == (3, 303) and head.time == "2026-06-22T03:00:00Z"
    assert head.root == rfc9162.Reference([ev.to_bytes() for ev in _events(0, 303)]).mth(0, 303)
    assert LogHead.from_dict(head.to_dict()) == head
    assert trust.folder.head(3).sizes == (3,)
    school = TransparencyLog(tmp_path / "authority")
    ref = school.append([], through_seq=0, origin=ORIGIN, now=T0, key=KEY)
    state = school.state()
    assert state is not None and state.ref == ref and state.through_seq == 0
    # state.json keeps the layout it always had: the reference, through_seq, time, sizes.
    assert list(state.to_dict()) == [
        "origin", "size", "root", "checkpoint", "through_seq", "time", "sizes",
    ]  # fmt: skip
    assert LogState.from_dict(state.to_dict()) == state


def test_a_head_is_checked_on_construction() -> None:
    cp = tlog.Checkpoint(ORIGIN, 5, tlog.EMPTY_ROOT, ("time 2026-06-22T02:00:00Z",))
    with pytest.raises(DeserializationError, match="ascend to its last checkpoint's"):
        LogHead(cp, (5, 3))
    with pytest.raises(DeserializationError, match="ascend to its last checkpoint's"):
        LogHead(cp, (3,))
    with pytest.raises(DeserializationError, match="the time it was signed"):
        LogHead(tlog.Checkpoint(ORIGIN, 5, tlog.EMPTY_ROOT), (5,))
    with pytest.raises(DeserializationError, match="time and the sizes"):
        LogHead.from_dict({**LogHead(cp, (5,)).to_dict(), "sizes": None})


def test_a_missing_or_damaged_checkpoint_is_reported(tmp_path: Path) -> None:
    trust = _trust_log(tmp_path, [3])
    with pytest.raises(ConfigurationError, match="checkpoint 4 or its listing"):
        trust.folder.head(4)
    (trust.public / checkpoint_path(3)).write_bytes(b"\xff")
    with pytest.raises(ConfigurationError, match="trust-list log's checkpoint 3"):
        trust.append(3, _events(3, 1), origin=ORIGIN, now=T0, key=KEY)


def test_the_trust_logs_leaves_must_be_those_signed(tmp_path: Path) -> None:
    trust = _trust_log(tmp_path, [3])
    leaves = (trust.home / LEAVES).read_bytes()
    (trust.home / LEAVES).write_bytes(leaves.replace(b"NTHU", b"NTCU", 1))
    with pytest.raises(ConfigurationError, match="not those its last checkpoint signed"):
        trust.append(3, _events(3, 1), origin=ORIGIN, now=T0, key=KEY)
    assert (trust.home / LEAVES).read_bytes() == leaves.replace(b"NTHU", b"NTCU", 1)


def test_a_trust_log_checkpoint_is_never_dated_before_the_last(tmp_path: Path) -> None:
    trust = _trust_log(tmp_path, [3, 1])  # the second signed at T0 + 1 hour
    with pytest.raises(InputError, match="before the last one"):
        trust.append(4, _events(4, 1), origin=ORIGIN, now=T0, key=KEY)


def test_an_uncommitted_append_is_not_listed_by_the_next(tmp_path: Path) -> None:
    """The operator's commit point did not move past 3 (its check of the new list failed): the
    next change appends other events at 3, and lists and proves only what was committed."""
    trust = _trust_log(tmp_path, [3])
    trust.append(3, _events(3, 2, "NTCU"), origin=ORIGIN, now=T0, key=KEY)
    cp = trust.append(3, _events(3, 4), origin=ORIGIN, now=T0 + dt.timedelta(hours=1), key=KEY)
    log = PublishedLog(published_fetcher(str(trust.public), "."))
    assert log.sizes() == [3, 7] and log.open(ORIGIN, [KEY.public_key()]) == cp
    first = log.open(ORIGIN, [KEY.public_key()], 3)
    tlog.verify_consistency(log.consistency(3, 7), first.root_hash, cp.root_hash)
    assert trust.events(7) == _events(0, 7)


def test_publish_copies_the_folder_with_its_pointer_last(tmp_path: Path) -> None:
    trust = _trust_log(tmp_path, [3])
    folder = LogFolder(trust.public)
    assert folder.publish(tmp_path / "site") == len(_files(trust.public))
    assert _files(tmp_path / "site") == _files(trust.public)
