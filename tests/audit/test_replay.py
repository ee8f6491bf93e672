"""The auditor's parts without a site: the shard serializer it shares with the authority, the
streamed tree against the reference tree, the replay's rules, the remembered state."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest

from auditor.replay import Replay, StreamedTree
from auditor.report import MAX_PER_CODE, LeafFindings, Recorder
from auditor.state import AuditorState, SeenCheckpoint, StateFileError
from certseal import tlog
from certseal.canonical import canonical_bytes
from certseal.eventlog import LogEvent
from certseal.statuslist import Entry, Shard


def _sha(i: int) -> str:
    return hashlib.sha256(i.to_bytes(4, "big")).hexdigest()


def _entries(doc_type: str = "transcript") -> list[Entry]:
    """Every shape an entry takes: with and without a limit, a log, a successor, a revocation."""
    out = []
    shapes = itertools.product(
        ("active", "superseded", "revoked"), (None, 3), (False, True), (False, True)
    )
    for i, (state, limit, with_log, superseded_first) in enumerate(shapes):
        succeeded = state == "superseded" or (state == "revoked" and superseded_first)
        revoked = state == "revoked"
        events = 1 + succeeded + revoked
        out.append(
            Entry(
                _sha(i),
                doc_type,
                "2026-06-20T00:00:00Z",
                limit,
                state,
                successor=_sha(1000 + i) if succeeded else None,
                superseded_at="2026-06-21T00:00:00Z" if succeeded else None,
                reason_code="issued_in_error" if revoked else None,
                revoked_at="2026-06-22T00:00:00Z" if revoked else None,
                log_indexes=tuple(range(i, i + events)) if with_log else None,
            )
        )
    return sorted(out, key=lambda e: e.sha256)


@pytest.mark.parametrize("doc_type", ["transcript", "transcript\n"])
def test_shard_bytes_are_the_canonical_bytes_of_every_entry_shape(doc_type: str) -> None:
    """One serializer: the template and canonical_bytes agree byte for byte, and a value JSON
    would escape (here a type code with the newline a ``$`` pattern lets through) goes through
    canonical_bytes itself."""
    entries = _entries(doc_type)
    shard = Shard("", tuple(entries))
    expected = canonical_bytes(
        {"_type": "certseal/shard", "prefix": "", "entries": [e.to_dict() for e in entries]}
    )
    assert shard.to_bytes() == expected


def test_streamed_tree_roots_are_the_reference_trees() -> None:
    """Roots at every checkpoint size, from the kept tiles only, equal MerkleTree's."""
    n = 5 * 256 + 17
    hashes = b"".join(tlog.leaf_hash(b"leaf %d" % i) for i in range(n))
    sizes = [1, 200, 256, 300, 511, 512, 700, n]
    tree = StreamedTree({s // 256 for s in sizes if s % 256})
    for index in range(0, n, 256):
        tree.add(index // 256, hashes[index * 32 : min(n, index + 256) * 32])
    reference = tlog.MerkleTree(hashes)
    streamed = tree.tree()
    for size in sizes:
        assert streamed.root(size) == reference.root(size), size
    with pytest.raises(tlog.FormatError, match="were not kept"):
        streamed.root(3 * 256 + 10)  # no checkpoint ends in that tile: its leaves are gone


def _leaf(i: int, event: str, doc: int, **fields: object) -> bytes:
    return LogEvent(
        i, event, _sha(doc), "transcript", f"2026-06-20T00:00:{i:02d}Z", **fields
    ).to_bytes()  # type: ignore[arg-type]


def test_the_replay_names_each_rule_broken_between_events_of_one_document() -> None:
    leaves = [
        _leaf(0, "issued", 1, limit=None),
        _leaf(1, "issued", 2, limit=None),
        _leaf(2, "revoked", 1, reason="other"),
        _leaf(3, "issued", 1, limit=None),  # revoked, issued again
        _leaf(4, "superseded", 2, successor=_sha(9)),  # successor never issued
        _leaf(5, "revoked", 7, reason="other"),  # never issued
        _leaf(6, "issued", 2, limit=None),  # superseded, issued again
    ]
    findings = LeafFindings()
    replay = Replay([(7, "2026-06-20T00:00:59Z")], [7], findings)
    replay.add_bundle(0, leaves)
    rows = list(replay.fold(findings, 7, 4, {}, {}))
    record = Recorder()
    findings.flush(record)
    codes = [v.code for v in record.violations]
    assert codes == [
        "revocation_undone",
        "missing_successor",
        "unknown_document",
        "supersession_undone",
    ]
    assert replay.counts_at(7) == {"active": 0, "superseded": 1, "revoked": 1}
    assert sum(len(r) for _, r in rows) == 2
    assert replay.revoked == {_sha(1): 2} and replay.superseded == {_sha(2): 4}


def test_findings_beyond_the_limit_are_counted_earliest_listed() -> None:
    findings = LeafFindings()
    for leaf in reversed(range(MAX_PER_CODE + 5)):
        findings.add(leaf, "event_history", "backdated_event", f"leaf {leaf}")
    record = Recorder()
    findings.flush(record)
    assert [v.detail for v in record.violations] == [f"leaf {i}" for i in range(MAX_PER_CODE)]
    assert record.omitted == {"backdated_event": 5}


def test_state_round_trips_and_rejects_what_it_did_not_write() -> None:
    state = AuditorState(
        "a" * 64,
        "example.edu.tw/log",
        3,
        (SeenCheckpoint(5, b"\x01" * 32, "2026-06-20T00:00:00Z"),),
        {_sha(1): 2},
        {_sha(2): 4},
        {2: "b" * 64, 3: "c" * 64},
    )
    assert AuditorState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    older = state.to_dict()
    del older["snapshots"]  # saved before snapshots were remembered
    assert AuditorState.from_dict(older).snapshots == {}
    for broken in (
        {**state.to_dict(), "key_id": "not hex"},
        {**state.to_dict(), "checkpoints": [{"size": 5, "root": "AAAA"}]},
        {**state.to_dict(), "snapshots": {"two": "b" * 64}},
        {**state.to_dict(), "revoked": {"x": 1}},
        [],
    ):
        with pytest.raises(StateFileError, match="not one this program wrote"):
            AuditorState.from_dict(broken)
